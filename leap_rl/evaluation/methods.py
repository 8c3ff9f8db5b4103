"""What ``leap-rl evaluate --init`` names: the methods of an evaluation and their runs.

One ``--init`` value is ``NAME=SOURCE[@inner.KEY=VALUE ...]``:

- ``leap=runs/a/init/encoder.pt``: a θ⁰ from its encoder.pt (a bare ``PATH`` is named leap).
- ``leap=A.pt,B.pt``: θ⁰s of one method from different meta-training seeds; its runs are the
  members ``leap#0``, ``leap#1``, … (each paired with random by seed as any init), and the summary
  adds a hierarchical interval over meta-seeds (:mod:`leap_rl.evaluation.bootstrap`).
- ``leap-scale=scaled:A.pt``: a scale-matched random θ⁰: the random run's own fresh encoder of
  the seed, each tensor rescaled to A's RMS (:mod:`leap_rl.evaluation.scaled`), so a gain can be
  told apart from a change of weight scale.
- ``random@inner.learning_rate=8e-3``: the random baseline (always evaluated) with its own inner
  settings; ``random`` takes no path.

``@inner.KEY=VALUE`` suffixes set that method's inner settings (only ``inner.*``: environments,
seeds and steps stay those of every method, so the pairing by seed holds). Every method of a
seed uses the same environments, heads and action sampling; only θ⁰ and these settings differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leap_rl.config import ExperimentConfig, with_overrides
from leap_rl.evaluation.stats import RANDOM

INIT_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # safe in curves.csv, file names and TensorBoard tags
SCALED = "scaled:"  # the source prefix of a scale-matched random θ⁰
MEMBER = "#"  # leap#0: the run-method of meta-seed 0 of the method leap
# "@" starts an override only where a dotted key and "=" follow ("runs/x@y/enc.pt" stays a path).
OVERRIDE = re.compile(r"@(?=[A-Za-z_][\w]*(?:\.[\w]+)+=)")


@dataclass(frozen=True)
class Method:
    """One compared method: its name, its θ⁰ source(s), and its own inner settings."""

    name: str
    kind: str = "init"  # "init" (θ⁰ file(s)), "scaled" (scale-matched random), "random"
    paths: tuple[str, ...] = ()  # init: one per meta-seed; scaled: the θ⁰ whose scale; random: ()
    overrides: tuple[str, ...] = field(default=())  # "inner.KEY=VALUE" for this method's runs

    @property
    def members(self) -> list[str]:
        """The run-method names of its runs (as in curves.csv and runs/): the name, or one per
        meta-seed (``leap#0``, ``leap#1``, …) when it has several θ⁰s."""
        if len(self.paths) > 1:
            return [f"{self.name}{MEMBER}{k}" for k in range(len(self.paths))]
        return [self.name]

    def member_paths(self) -> dict[str, str]:
        """Each run-method's θ⁰ file (none for random)."""
        return dict(zip(self.members, self.paths)) if self.paths else {}


def parse_init(value: str) -> Method:
    """One ``--init`` value as a :class:`Method` (see the module docstring); ValueError says
    what is wrong."""
    head, *overrides = OVERRIDE.split(value)
    for item in overrides:
        if not item.startswith("inner."):
            raise ValueError(f"{value!r}: only inner.* settings can differ between methods "
                             f"(got @{item}); set others for all with --set")
    if head.lower() == RANDOM:
        return Method(RANDOM, "random", (), tuple(overrides))
    name, sep, source = head.partition("=")
    if not sep or "/" in name or "\\" in name:
        name, source = "leap", head  # a bare PATH (also one with "=" in a folder name)
    _check_name(value, name)
    if not source:
        raise ValueError(f"{value!r}: no path after '='")
    if source.startswith(SCALED):
        path = source[len(SCALED):]
        if not path or "," in path:
            raise ValueError(f"{value!r}: scaled: takes one encoder.pt (scaled:PATH)")
        return Method(name, "scaled", (path,), tuple(overrides))
    paths = tuple(p.strip() for p in source.split(","))
    if not all(paths):
        raise ValueError(f"{value!r}: an empty path in the comma-separated list")
    return Method(name, "init", paths, tuple(overrides))


def _check_name(value: str, name: str) -> None:
    if not name:
        raise ValueError(f"{value!r}: empty name before '=' (expected NAME=PATH)")
    if not INIT_NAME.fullmatch(name):
        raise ValueError(f"{value!r}: a name is letters, digits, '_', '.' and '-' (got {name!r})")
    if name.lower() == RANDOM:
        raise ValueError(f"{value!r}: 'random' is the random-initialization baseline every "
                         "evaluation includes (give its settings as random@inner.KEY=VALUE); "
                         "give this init another name")


def add_method(methods: Mapping[str, Method], method: Method) -> dict[str, Method]:
    """``methods`` with ``method`` added; ValueError when its name is taken."""
    if method.name in methods:
        held = methods[method.name]
        given = ",".join(held.paths) or "the random baseline's settings"
        raise ValueError(f"the name {method.name!r} is already given to {given} (a bare PATH is "
                         "named leap; several θ⁰s of one method go in one --init: "
                         "NAME=A.pt,B.pt)")
    return {**methods, method.name: method}


def complete(methods: Mapping[str, Method] | Iterable[Method]) -> list[Method]:
    """The methods in order given, random last (added with no settings of its own if absent)."""
    given = list(methods.values()) if isinstance(methods, Mapping) else list(methods)
    named = [m for m in given if m.kind != "random"]
    random = [m for m in given if m.kind == "random"] or [Method(RANDOM, "random")]
    return [*named, random[0]]


def from_paths(inits: Mapping[str, str | Path] | str | Path) -> list[Method]:
    """Today's ``{name: path}`` (or a bare path, named leap) as methods, random last."""
    if isinstance(inits, (str, Path)):
        inits = {"leap": inits}
    return complete([Method(name, "init", (str(path),)) for name, path in inits.items()])


def run_methods(methods: Sequence[Method]) -> list[str]:
    """Every run-method name, in order (members of a multi-seed method in meta-seed order)."""
    return [member for m in methods for member in m.members]


def groups(methods: Sequence[Method]) -> dict[str, list[str]]:
    """Methods with several meta-seeds: name → their run-method names."""
    return {m.name: m.members for m in methods if len(m.paths) > 1}


def method_configs(methods: Sequence[Method], cfg: ExperimentConfig) -> dict[str, ExperimentConfig]:
    """Each run-method's own config (``cfg`` with its ``inner.*`` overrides), for the methods
    that have overrides; ConfigError names the ``--init`` whose setting is bad."""
    configs = {}
    for m in methods:
        if m.overrides:
            own = with_overrides(cfg, m.overrides, source=f"--init {m.name}@…")
            configs.update({member: own for member in m.members})
    return configs


def describe(methods: Sequence[Method]) -> str:
    """The methods as the console names them: leap=A.pt,B.pt, random@inner.learning_rate=8e-3."""
    parts = []
    for m in methods:
        source = "" if m.kind == "random" else "=" + ("scaled:" if m.kind == "scaled" else "") \
            + ",".join(m.paths)
        parts.append(m.name + source + "".join(f"@{o}" for o in m.overrides))
    return ", ".join(parts)
