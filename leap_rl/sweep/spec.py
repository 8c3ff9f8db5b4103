"""A sweep's spec: the YAML file of ``leap-rl sweep``, read and checked, nothing run.

A spec names a base config and the axes to vary, by the dotted keys of ``--set``::

    base: configs/smoke.yaml          # resolved against the current directory
    kind: train                       # or train-task (one agent on one game, no Leap)
    axes:
      meta.learning_rate: [0.001, 0.01]            # a grid axis: every value
      seed: [0, 1]
      inner.entropy_cost: {choice: [0.01, 0.02]}   # drawn once per sample
      inner.learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
    samples: 2                        # draws of the random axes (each with the whole grid)
    sample_seed: 0
    folds: leave_one_game_out         # one trial per game of meta.pool
    task: {game: MinAtar/Asterix, steps: 100000, init: random}   # train-task only

``task.game``, ``task.steps`` and ``task.init`` may be axes too (a grid of games). Every problem
in a spec is collected and raised at once as a :class:`SweepError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from leap_rl.config import ConfigError

KINDS = ("train", "train-task")
FOLDS = ("leave_one_game_out",)
DISTRIBUTIONS = ("choice", "uniform", "loguniform")
TASK_KEYS = ("game", "steps", "init")
# What a trial reports, by kind: meta-validation's gain of θ⁰, or a single task's recent return.
METRICS = {"train": "validation/gain", "train-task": "mean_recent_return"}
TOP_KEYS = {"base", "kind", "axes", "samples", "sample_seed", "folds", "task", "metric",
            "mode", "scheduler"}


class SweepError(ConfigError):
    """A spec (or a trial of it) that cannot run; ``problems`` lists every one."""


@dataclass(frozen=True)
class Axis:
    """One varied key: ``values`` for a grid, else a ``distribution`` with its ``values``."""

    key: str
    values: tuple
    distribution: str | None = None  # None = grid; choice, uniform, loguniform = random


@dataclass
class Spec:
    """A parsed spec; ``text`` is the file as read (stored in DIR/spec.yaml for --resume)."""

    base: Path
    kind: str = "train"
    axes: list[Axis] = field(default_factory=list)
    samples: int = 1
    sample_seed: int = 0
    folds: str | None = None
    task: dict[str, Any] = field(default_factory=dict)
    metric: str = "validation/gain"
    mode: str = "max"
    scheduler: str = "asha"
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def random_axes(self) -> list[Axis]:
        return [a for a in self.axes if a.distribution is not None]

    @property
    def grid_axes(self) -> list[Axis]:
        return [a for a in self.axes if a.distribution is None]


def read_spec(path: str | Path) -> Spec:
    """The spec in ``path``; raises :class:`SweepError` listing every problem."""
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise SweepError(source, [f"cannot read the spec: {err.strerror}"]) from None
    except yaml.YAMLError as err:
        raise SweepError(source, [f"not valid YAML: {err}"]) from None
    return parse_spec(data, source)


def parse_spec(data: Any, source: str = "<spec>") -> Spec:
    """A :class:`Spec` from the YAML mapping ``data``; every problem at once."""
    if not isinstance(data, dict):
        raise SweepError(source, [f"top level must be a mapping, got {type(data).__name__}"])
    problems = [f"{k}: unknown key (known: {', '.join(sorted(TOP_KEYS))})"
                for k in data if k not in TOP_KEYS]
    spec = Spec(base=Path(str(data.get("base", ""))), data=data)
    if not data.get("base"):
        problems.append("base: missing (the config every trial starts from, e.g. "
                        "configs/smoke.yaml)")
    elif not spec.base.is_file():
        problems.append(f"base: no such file {spec.base} (paths resolve against the current "
                        "directory)")
    spec.kind = _choice(data, "kind", KINDS, "train", problems)
    spec.folds = _choice(data, "folds", (*FOLDS, None), None, problems)
    spec.mode = _choice(data, "mode", ("max", "min"), "max", problems)
    spec.scheduler = _choice(data, "scheduler", ("asha", "none"), "asha", problems)
    spec.metric = str(data.get("metric") or METRICS.get(spec.kind, spec.metric))
    spec.samples = _count(data, "samples", 1, 1, problems)
    spec.sample_seed = _count(data, "sample_seed", 0, 0, problems)
    axes = data.get("axes") or {}
    if not isinstance(axes, dict):
        problems.append(f"axes: must be a mapping of dotted keys to values, got {axes!r}")
        axes = {}
    spec.axes = [a for a in (_axis(k, v, problems) for k, v in axes.items()) if a is not None]
    spec.task = _task(data.get("task"), spec, problems)
    if problems:
        raise SweepError(source, problems)
    return spec


def _choice(data, key, allowed, default, problems):
    value = data.get(key, default)
    if value not in allowed:
        names = ", ".join(str(a) for a in allowed if a is not None)
        problems.append(f"{key}: {value!r} is not one of {names}")
        return default
    return value


def _count(data, key, default, least, problems) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        problems.append(f"{key}: must be an integer ≥ {least}, got {value!r}")
        return default
    return value


def _axis(key: Any, value: Any, problems: list[str]) -> Axis | None:
    """A grid (a list) or a distribution ({choice: [...]}, {uniform: [lo, hi]}, ...)."""
    where = f"axes.{key}"
    if not isinstance(key, str) or not key.strip():
        problems.append(f"axes: {key!r} is not a dotted key")
        return None
    if isinstance(value, list):
        if not value:
            problems.append(f"{where}: empty axis (give at least one value)")
            return None
        return Axis(key, tuple(value))
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS):
        problems.append(f"{where}: expected a list of values or one of "
                        f"{{{'|'.join(DISTRIBUTIONS)}: [...]}}, got {value!r}")
        return None
    kind, args = next(iter(value.items()))
    if not isinstance(args, list) or not args:
        problems.append(f"{where}: {kind} needs a non-empty list, got {args!r}")
        return None
    if kind != "choice":
        problem = _range_problem(kind, args)
        if problem:
            problems.append(f"{where}: {problem}")
            return None
    return Axis(key, tuple(args), kind)


def _range_problem(kind: str, args: list) -> str | None:
    numbers = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if len(args) != 2 or not numbers:
        return f"{kind} needs [low, high] numbers, got {args!r}"
    low, high = args
    if not low < high:
        return f"{kind}: low {low} must be below high {high}"
    if kind == "loguniform" and low <= 0:
        return f"loguniform: low {low} must be positive"
    return None


def _task(task: Any, spec: Spec, problems: list[str]) -> dict[str, Any]:
    """train-task's {game, steps, init}; each may instead be the axis task.<key>."""
    task = task if task is not None else {}
    if not isinstance(task, dict):
        problems.append(f"task: must be a mapping {{game, steps, init}}, got {task!r}")
        return {}
    problems.extend(f"task.{k}: unknown key (known: {', '.join(TASK_KEYS)})"
                    for k in task if k not in TASK_KEYS)
    task_axes = {a.key.removeprefix("task.") for a in spec.axes if a.key.startswith("task.")}
    problems.extend(f"axes.{a.key}: unknown task key (known: {', '.join(TASK_KEYS)})"
                    for a in spec.axes
                    if a.key.startswith("task.") and a.key[5:] not in TASK_KEYS)
    if spec.kind == "train-task":
        given = set(task) | task_axes
        problems.extend(f"task.{k}: missing (kind: train-task trains one game for a number "
                        "of steps)" for k in ("game", "steps") if k not in given)
    elif task or task_axes:
        problems.append("task: only for kind: train-task")
    if spec.kind == "train-task" and spec.folds:
        problems.append("folds: only for kind: train (a fold holds back a game of meta.pool)")
    return {"init": "random", **task} if spec.kind == "train-task" else {}
