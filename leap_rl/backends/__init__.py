"""Inner-learner backends: the one seam between "train one task from θ⁰" and what hosts it.

A backend trains one game from an initialization in three settings — a meta-training task that
streams Leap partial sums (:meth:`Backend.task_runner`), a standalone ``train-task`` run that
writes its outputs (:meth:`Backend.train_task`), and an evaluation run that streams episodes
(:meth:`Backend.evaluation_run`) — and says what it accepts (:meth:`Backend.check`) and what it
is (:meth:`Backend.describe`). The config names it (``inner.backend``); :func:`backend_for` is
the only place that turns the name into code. Backends are registered by module path, so this
module imports no backend, no RLlib and no torch: the config loader may use it.

Adding a backend: implement :class:`Backend` (``leap_rl/backends/a2c.py`` is the reference),
``register("name", "package.module:Class")``, and run the backend tests of docs/backends.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:  # types only: importing them here would load torch and the config
    import torch

    from leap_rl.backends.contract import Assignment, EpisodeReport, Progress
    from leap_rl.config import ExperimentConfig


class TaskRunner(Protocol):
    """A meta-training task: trains ``assignment.game`` from θ⁰ for ``assignment.steps`` agent
    steps, yielding a :class:`Progress` at every flush (the last one ``final``). Must pickle:
    the driver ships it to the workers."""

    def __call__(self, assignment: Assignment, init: Mapping[str, torch.Tensor],
                 cfg: ExperimentConfig) -> Iterator[Progress]: ...


class Backend(Protocol):
    name: str

    def check(self, cfg: ExperimentConfig) -> None:
        """Raises ValueError (one message per problem) for settings this backend cannot run."""

    def describe(self, cfg: ExperimentConfig) -> str:
        """One line for ``--dry-run``: the learner and its main settings."""

    def task_runner(self) -> TaskRunner:
        """The runner the driver's workers call for each meta-training task."""

    def train_task(self, game: str, steps: int, cfg: ExperimentConfig, *, out: str | Path,
                   seed: int, init_path: str | Path | None, leap: bool, report_every: int,
                   stream: TextIO) -> dict[str, Any]:
        """A standalone run into ``out`` (config.yaml, episodes.jsonl, tensorboard/,
        final_encoder.pt, summary.json; meta_gradient.pt with ``leap``); returns the summary."""

    def evaluation_run(self, game: str, seed: int, steps: int,
                       init: Mapping[str, torch.Tensor] | None, cfg: ExperimentConfig,
                       every_s: float) -> Iterator[EpisodeReport]:
        """Trains without Leap from ``init`` (None: a fresh encoder seeded by ``seed``),
        streaming episodes (:func:`leap_rl.backends.contract.stream_episodes`)."""


_REGISTRY: dict[str, str | Backend] = {
    "a2c": "leap_rl.backends.a2c:A2CBackend",
    "rllib": "leap_rl.rllib.backend:RLlibBackend",
}


def register(name: str, backend: str | Backend) -> None:
    """Makes ``inner.backend: name`` mean ``backend`` (an object, or "module:attribute" loaded
    on first use). A name already taken is refused."""
    if name in _REGISTRY:
        raise ValueError(f"backend {name!r} is already registered")
    _REGISTRY[name] = backend


def names() -> list[str]:
    """The registered backend names."""
    return sorted(_REGISTRY)


def backend_for(name: str | ExperimentConfig) -> Backend:
    """The backend called ``name`` (or the one a config's ``inner.backend`` names)."""
    if not isinstance(name, str):
        name = name.inner.backend
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown inner.backend {name!r}; registered: {', '.join(names())}") \
            from None
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        entry = getattr(importlib.import_module(module), attribute)()
        _REGISTRY[name] = entry
    return entry
