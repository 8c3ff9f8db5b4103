"""What every inner-learner backend takes and gives: the task contract.

Meta-training hands a backend an :class:`Assignment` and θ⁰ and receives :class:`Progress`
(partial Leap meta-gradients) as it trains; evaluation receives :class:`EpisodeReport` messages
(episodes only, no meta-gradient). Only torch and the standard library are imported here, so
every layer above (the backends, the distributed driver, evaluation) can share these types.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the contract itself needs no torch at import
    import torch


@dataclass(frozen=True)
class Assignment:
    """One task of one meta-step: train ``game`` for ``steps`` agent steps from θ⁰."""

    meta_step: int
    task: int          # index of the task within its meta-step
    game: str
    seed: int
    steps: int
    attempt: int = 0   # 0 for the first try, 1 for the first retry, …


@dataclass
class Progress:
    """What a task runner yields every flush: the partial meta-gradient and how training goes."""

    gradient: dict[str, torch.Tensor]   # Σ cⁱ since the previous flush, on the CPU
    agent_steps: int                    # the task's steps so far
    episodes: list[tuple[int, float, int]] = field(default_factory=list)  # (step, return, length)
    stats: dict[str, float] = field(default_factory=dict)  # cumulative d1, d2, segments, skipped
    final: bool = False                 # the last chunk of a task that ran its whole budget


EpisodeReport = dict[str, Any]
"""An evaluation run's message: ``{"agent_steps", "episodes": [(step, return)], "done"}``, and
``"seconds"`` in the last one (``done`` True)."""


def stream_episodes(reports: Iterable, every_s: float) -> Iterator[EpisodeReport]:
    """Batches training reports (anything with ``agent_steps`` and ``episodes`` as (return,
    length) pairs) into :data:`EpisodeReport` messages: one every ``every_s`` seconds with the
    episodes finished since the last, then a final one with ``done`` and the seconds taken."""
    start = last = time.monotonic()
    pending: list[tuple[int, float]] = []
    agent_steps = 0
    for r in reports:
        agent_steps = r.agent_steps
        pending.extend((r.agent_steps, ret) for ret, _ in r.episodes)
        if time.monotonic() - last >= every_s:
            yield {"agent_steps": r.agent_steps, "episodes": pending, "done": False}
            pending, last = [], time.monotonic()
    yield {"agent_steps": agent_steps, "episodes": pending, "done": True,
           "seconds": time.monotonic() - start}
