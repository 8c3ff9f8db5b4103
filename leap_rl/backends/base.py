"""What a backend is: the :class:`Backend` protocol, and :func:`backend_for`, the typed way to
get the one a config names (the registry itself is :mod:`leap_rl.backends`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from leap_rl import backends
from leap_rl.config import ExperimentConfig

if TYPE_CHECKING:  # types only: importing them here would load torch
    import torch

    from leap_rl.backends.contract import Assignment, EpisodeReport, Progress


# The config sections a standalone run (``train_task``) never reads: they steer the outer loop
# (θ⁰'s updates, its workers, validation, remedies, checkpoints). A ``--set`` or sweep axis on one
# of them would change nothing, so :func:`outer_loop_keys` lets callers refuse it.
OUTER_LOOP_SECTIONS = ("meta", "workers", "validation", "remedies", "run")


def outer_loop_keys(keys: list[str]) -> list[str]:
    """The dotted keys (``KEY`` or ``KEY=VALUE``) among ``keys`` that a standalone run ignores."""
    return [k for k in keys if k.split("=", 1)[0].split(".", 1)[0] in OUTER_LOOP_SECTIONS]


def outer_loop_problems(keys: list[str]) -> list[str]:
    """One message per ignored key: why it is refused and what a standalone run does read."""
    return [f"{k.split('=', 1)[0]}: a standalone run (train-task) trains one agent without the "
            f"outer loop and never reads {', '.join(s + '.*' for s in OUTER_LOOP_SECTIONS)}; "
            "set it on `leap-rl train` instead" for k in outer_loop_keys(keys)]


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


def backend_for(name: str | ExperimentConfig) -> Backend:
    """The backend called ``name`` (or the one a config's ``inner.backend`` names)."""
    return backends.load(name if isinstance(name, str) else name.inner.backend)
