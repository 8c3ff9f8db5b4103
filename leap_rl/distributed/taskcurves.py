"""``run.task_curves``: each task's training return curve as its own TensorBoard run.

Off by default: at the paper's scale that is 1,600 runs, and the per-meta-step summaries under
``games/<game>/`` (:mod:`leap_rl.distributed.tags`) are always written. On, a task's accepted
chunks draw ``task/episodic_return`` (the mean return of the episodes reported at each of the
task's own steps) in ``tensorboard/tasks/m<meta-step>/<game>/``, one run per task, so no curve
joins separate agents. A retry's path replaces its failed attempt's, and a meta-step redone after
a resume rewrites its tasks' runs, so no point is doubled.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TAG = "task/episodic_return"


class TaskCurves:
    """The open writers of the running tasks under ``root`` (the run's local TensorBoard dir)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.writers: dict[tuple[int, int], tuple[int, object]] = {}  # (m, task) → (attempt, w)

    def add(self, meta_step: int, task: int, attempt: int, game: str,
            episodes: list[tuple[int, float, int]]) -> None:
        """Draws an accepted chunk's episodes on its task's own step axis."""
        writer = self._writer(meta_step, task, attempt, game)
        returns: dict[int, list[float]] = {}
        for step, ret, _ in episodes:
            returns.setdefault(step, []).append(ret)
        for step in sorted(returns):
            writer.add_scalar(TAG, sum(returns[step]) / len(returns[step]), step)

    def _writer(self, meta_step: int, task: int, attempt: int, game: str):
        from torch.utils.tensorboard import SummaryWriter

        held = self.writers.get((meta_step, task))
        if held is not None and held[0] == attempt:
            return held[1]
        if held is not None:
            held[1].close()
        directory = self.root / "tasks" / f"m{meta_step + 1:04d}" / game
        shutil.rmtree(directory, ignore_errors=True)  # a failed attempt's or an earlier pass's
        writer = SummaryWriter(str(directory))
        self.writers[(meta_step, task)] = (attempt, writer)
        return writer

    def close(self) -> None:
        """Closes every writer (at each meta-step's end: its tasks are done)."""
        for _, writer in self.writers.values():
            writer.close()
        self.writers.clear()
