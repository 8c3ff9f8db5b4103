"""What travels between the driver and the workers: task assignments and streamed chunks.

:class:`Assignment` and :class:`Progress` are the backends' task contract
(:mod:`leap_rl.backends.contract`); a worker tags each :class:`Progress` as a :class:`Chunk`.
"""

from __future__ import annotations

from dataclasses import dataclass

from leap_rl.backends.contract import Assignment, Progress

__all__ = ["Assignment", "Chunk", "Progress"]


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
