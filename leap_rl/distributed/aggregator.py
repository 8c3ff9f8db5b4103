"""Exactly-once aggregation of streamed chunks into one meta-step's meta-gradient.

A chunk counts once, keyed by (meta-step, task, attempt, sequence number). A task's meta-gradient
Gτ = Σᵢ cⁱ (eq. 8) comes from one path: when the driver retries a task (:meth:`begin_attempt`),
the retry walks its path again from θ⁰, its stream starting over at sequence 0, and its chunks
replace the failed attempt's; a chunk of any other attempt (one arriving late) is stale. A task
that is not retried keeps the prefix it streamed (a prefix of a path is a valid meta-gradient).
Each task's chunks are summed in place into that task's own buffer and the tasks are added in task
order at the end, so the result does not depend on the order in which chunks arrived.

``meta.balance`` (default ``none``) scales each task's whole sum Gτ before the tasks are added
(:func:`balance_weights`; docs/design.md, "Balancing the tasks of a meta-step"). It acts when the
meta-step closes, on each task's total as counted then (a kept prefix for a lost task), never on a
chunk, so it leaves the exactly-once bookkeeping as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from leap_rl.distributed.protocol import Chunk


def _finite(tensor: torch.Tensor) -> bool:
    """Every entry finite. A sum with a NaN or ±inf in it is never finite, so one reduction
    settles the usual case; only a non-finite sum (possibly mere overflow) is checked entry
    by entry."""
    return math.isfinite(float(tensor.sum())) or bool(torch.isfinite(tensor).all())


@dataclass
class TaskTally:
    """What the driver knows of one task from the chunks it accepted."""

    chunks: int = 0
    agent_steps: int = 0
    stats: dict[str, float] = field(default_factory=dict)
    episodes: list[tuple[int, float, int]] = field(default_factory=list)
    final: bool = False
    gradient: dict[str, torch.Tensor] | None = None
    seen: set[int] = field(default_factory=set)  # sequence numbers of ``attempt``
    attempt: int = 0  # the attempt whose path the task's chunks come from


def add_to_tally(tally: TaskTally, chunk: Chunk) -> str:
    """Adds a chunk of the task's current attempt unless already seen or non-finite; returns
    ``accepted``, ``stale`` (another attempt), ``duplicate`` or ``nonfinite``."""
    if chunk.attempt != tally.attempt:
        return "stale"
    if chunk.seq in tally.seen:
        return "duplicate"
    tally.seen.add(chunk.seq)
    gradient = chunk.progress.gradient
    if not all(_finite(g) for g in gradient.values()):
        return "nonfinite"
    if tally.gradient is None:
        tally.gradient = {k: g.clone() for k, g in gradient.items()}
    else:
        for k, g in gradient.items():
            tally.gradient[k].add_(g)
    progress = chunk.progress
    tally.chunks += 1
    tally.agent_steps = max(tally.agent_steps, progress.agent_steps)
    tally.stats = dict(progress.stats) or tally.stats
    tally.episodes.extend(progress.episodes)
    tally.final = tally.final or progress.final
    return "accepted"


def sum_gradients(tallies: list[TaskTally]) -> dict[str, torch.Tensor]:
    """Σ_τ Gτ over ``tallies`` (each with a gradient), added in the order given."""
    total = {k: g.clone() for k, g in tallies[0].gradient.items()}
    for tally in tallies[1:]:
        for k, g in tally.gradient.items():
            total[k].add_(g)
    return total


def gradient_norm(gradient: dict[str, torch.Tensor]) -> float:
    """‖G‖ over all named tensors, summed in float64."""
    return math.sqrt(sum(float(g.double().square().sum()) for g in gradient.values()))


def balance_weights(tallies: list[TaskTally], balance: str) -> list[float]:
    """The factor wτ of each task's Gτ in Σ_τ wτ Gτ (``meta.balance``): wτ = s̄/sτ for a size
    sτ of the task and s̄ the mean size over the tasks.

    ``none``: wτ = 1. ``norm``: sτ = ‖Gτ‖, so every contribution has the norm s̄, the mean of
    the tasks' norms. ``path_length``: sτ = d₁τ, the path length of the counted path (a kept
    prefix's for a lost task), so Gτ is divided by d₁τ. Taking the mean size as the common one
    keeps Σ wτ sτ = Σ sτ, so ∇F̄ stays on the scale of ``none`` (Adam hardly minds a common
    factor; objective/meta_grad_norm and a plain gradient step would). A task of size 0 (no step, an
    all-zero Gτ) keeps weight 1 and counts in no mean.
    """
    if balance == "none":
        return [1.0] * len(tallies)
    if balance == "norm":
        sizes = [gradient_norm(t.gradient) for t in tallies]
    elif balance == "path_length":
        sizes = [float(t.stats.get("d1", 0.0)) for t in tallies]
    else:
        raise ValueError(f"unknown meta.balance {balance!r}; expected none, norm or path_length")
    positive = [s for s in sizes if s > 0.0]
    common = sum(positive) / len(positive) if positive else 0.0
    return [common / s if s > 0.0 else 1.0 for s in sizes]


def balanced_sum(tallies: list[TaskTally], balance: str
                 ) -> tuple[dict[str, torch.Tensor], list[float]]:
    """(Σ_τ wτ Gτ in the order given, the weights wτ); ``none`` is :func:`sum_gradients` itself."""
    weights = balance_weights(tallies, balance)
    if balance == "none":
        return sum_gradients(tallies), weights
    total = {k: g.mul(weights[0]) for k, g in tallies[0].gradient.items()}
    for tally, w in zip(tallies[1:], weights[1:]):
        for k, g in tally.gradient.items():
            total[k].add_(g, alpha=w)
    return total, weights


class Applied:
    """What a meta-step's :meth:`mean_gradient` applied, for tasks.jsonl: the sum Σ wτ Gτ
    (``total``) and each contributing task's weight (``weights`` by task number)."""

    total: dict[str, torch.Tensor] | None = None
    weights: dict[int, float] = {}  # replaced, never mutated: instances get their own

    def _apply(self, tasks: list[int], tallies: list[TaskTally], balance: str
               ) -> tuple[dict[str, torch.Tensor] | None, int]:
        if not tallies:
            return None, 0
        self.total, weights = balanced_sum(tallies, balance)
        self.weights = dict(zip(tasks, weights))
        return self.total, len(tallies)


class DropCounter:
    """Chunks dropped by reason (``failures/*_chunks``): for a meta-step's aggregator, sync or async.
    The class-level zeros are defaults; each instance counts in its own attributes."""

    duplicates = stale = nonfinite = 0
    _DROPPED = {"duplicate": "duplicates", "stale": "stale", "nonfinite": "nonfinite"}

    def count(self, verdict: str) -> None:
        """Counts a dropped chunk under its reason; an accepted one is not counted."""
        if verdict in self._DROPPED:
            name = self._DROPPED[verdict]
            setattr(self, name, getattr(self, name) + 1)


class MetaStepAggregator(DropCounter, Applied):
    """Collects one meta-step's chunks; ``mean_gradient`` gives ∇F̄ over contributing tasks."""

    def __init__(self, meta_step: int, num_tasks: int) -> None:
        self.meta_step = meta_step
        self.tasks = [TaskTally() for _ in range(num_tasks)]

    def begin_attempt(self, task: int, attempt: int) -> None:
        """Attempt ``attempt`` of ``task`` was dispatched: a new one replaces what the task has."""
        if attempt != self.tasks[task].attempt:
            self.tasks[task] = TaskTally(attempt=attempt)

    def add(self, chunk: Chunk) -> str:
        """Adds a chunk unless already seen, stale or non-finite; returns which of the four.

        Stale: of another meta-step, of no task, or of an attempt other than the task's current.
        """
        if chunk.meta_step != self.meta_step or not 0 <= chunk.task < len(self.tasks):
            self.stale += 1
            return "stale"
        verdict = add_to_tally(self.tasks[chunk.task], chunk)
        self.count(verdict)
        return verdict

    @property
    def contributing(self) -> list[int]:
        """Tasks with at least one accepted chunk, in task order."""
        return [i for i, t in enumerate(self.tasks) if t.gradient is not None]

    def mean_gradient(self, balance: str = "none") -> tuple[dict[str, torch.Tensor] | None, int]:
        """(Σ_τ wτ Gτ over contributing tasks, their number); the caller divides (Adam step).
        wτ = 1 unless ``balance`` (``meta.balance``) says otherwise (:func:`balance_weights`)."""
        tasks = self.contributing
        return self._apply(tasks, [self.tasks[i] for i in tasks], balance)
