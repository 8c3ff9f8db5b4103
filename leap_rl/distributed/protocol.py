"""What travels between the driver and the workers: task assignments and streamed chunks."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Chunk:
    """A :class:`Progress` tagged by the worker: (meta-step, task, sequence number) and origin."""

    meta_step: int
    task: int
    seq: int
    attempt: int
    progress: Progress
    node_id: str
    pid: int
