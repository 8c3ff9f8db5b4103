"""Asynchronous meta-training (``meta.mode: async``): no worker waits for the slowest game.

The run's T = meta_steps × meta_batch_size tasks are numbered 0…T−1; the driver builds them as
the synchronous mode draws them (task n is meta-step n // B's game n % B, seeded alike), so both
modes train the same games for the same steps. Workers take them in order as they free up, each
from the newest θ⁰, and the task records that θ⁰'s version (the meta-steps it had taken) as its
assignment's ``meta_step``. θ⁰ takes one Adam step per B tasks that *end* (completed, partial,
failed, or dropped as too stale), on the mean of those among them that contributed, with the
synchronous mode's rules (``min_tasks_per_meta_step``, bad meta-steps in a row). The reasons for
this rule, the staleness bound and what a checkpoint holds: docs/design.md, "Asynchronous
meta-training".

Exactly once: a chunk counts once per (task number, attempt, sequence number) and only while its
task runs (or waits for its retry); a task's contribution joins exactly one meta-step, the one
open when it ends. A resumed run redoes every task that no checkpointed meta-step holds.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from leap_rl.config import ExperimentConfig
from leap_rl.distributed.aggregator import Applied, DropCounter, TaskTally, add_to_tally
from leap_rl.distributed.metastep import TaskRecord, WorkerPool
from leap_rl.distributed.protocol import Chunk
from leap_rl.distributed.scheduler import Job


@dataclass
class AsyncPool(WorkerPool):
    """The worker pool; each task is launched from the newest θ⁰ (``init_ref``) and tagged with
    its version."""

    version: int = 0  # meta-steps θ⁰ in init_ref has taken

    def launch(self, job: Job):
        job.payload = dataclasses.replace(job.payload, meta_step=self.version)
        return super().launch(job)


@dataclass
class Batch(DropCounter, Applied):
    """The tasks that ended while θ⁰ was at one version: one meta-step, read by RunLog as a
    synchronous meta-step is (``tasks`` by task number, the dropped-chunk counters)."""

    meta_step: int
    tasks: dict[int, TaskTally] = field(default_factory=dict)
    records: list[TaskRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def mean_gradient(self, balance: str = "none") -> tuple[dict[str, torch.Tensor] | None, int]:
        """(Σ_τ wτ Gτ over contributing tasks in task-number order, their number); wτ as in
        the synchronous mode (``meta.balance``, aggregator.balance_weights)."""
        tasks = [r.assignment.task for r in sorted(self.records, key=lambda r: r.assignment.task)
                 if r.status in ("completed", "partial")
                 and self.tasks[r.assignment.task].gradient is not None]
        return self._apply(tasks, [self.tasks[n] for n in tasks], balance)

    def scalars(self) -> dict[str, float]:
        """Staleness of the applied contributions, and the tasks dropped as too stale."""
        applied = [r.staleness for r in self.records
                   if r.status in ("completed", "partial") and self.tasks[r.assignment.task].chunks]
        return {"workers/staleness_mean": sum(applied) / len(applied) if applied
                else float("nan"),
                "workers/staleness_max": float(max(applied, default=0)),
                "failures/dropped_stale_tasks": float(sum(r.status == "dropped"
                                                          for r in self.records))}


class AsyncRun:
    """The :class:`leap_rl.distributed.scheduler.Handler` of an asynchronous run's tasks.

    ``close(batch)`` is called once ``batch_size`` tasks have ended: it steps θ⁰ (and moves the
    pool's ``init_ref`` and ``version``), logs and checkpoints. ``owed`` are tasks numbered below
    ``next_task`` that no closed meta-step holds yet (a resumed run's redone tasks)."""

    def __init__(self, cfg: ExperimentConfig, pool: AsyncPool, first_meta_step: int,
                 close: Callable[[Batch], None], on_chunk: Callable[[Chunk, str], None],
                 owed: list[int] = (), next_task: int = 0) -> None:
        self.cfg, self.pool, self.close, self.on_chunk = cfg, pool, close, on_chunk
        self.batch = Batch(first_meta_step)
        self.records: dict[int, TaskRecord] = {}
        self.tallies: dict[int, TaskTally] = {}   # tasks running or waiting for a retry
        self.owed, self.next_task = set(owed), next_task

    def dispatched(self, job: Job) -> None:
        n = job.payload.task
        record = self.records.setdefault(n, TaskRecord(job.payload))
        record.assignment = job.payload  # this attempt's θ⁰ version
        record.status, record.attempts = "running", record.attempts + 1
        record.begin()
        self.tallies[n] = TaskTally(attempt=job.attempt)  # a retry's path replaces the last
        self.owed.add(n)
        self.next_task = max(self.next_task, n + 1)

    def item(self, job: Job, chunk: Chunk) -> None:
        record = self.records.get(job.payload.task)  # None: its task has ended
        if record is not None:
            record.node_id, record.pid = chunk.node_id, chunk.pid
            record.saw_chunk()
        tally, current = self.tallies.get(chunk.task), self.records.get(chunk.task)
        # Stale: of a task that has ended (or never ran), or of another θ⁰ version than its
        # current attempt's; add_to_tally tells other attempts, duplicates, non-finite sums.
        if tally is None or current.assignment.meta_step != chunk.meta_step:
            verdict = "stale"
        else:
            verdict = add_to_tally(tally, chunk)
        self.batch.count(verdict)
        self.on_chunk(chunk, verdict)

    def ended(self, job: Job) -> str | None:
        n = job.payload.task
        self.records[n].status = "completed" if self.tallies[n].final else "partial"
        self.records[n].stop()
        self._end(n)
        return None

    def failed(self, job: Job, error: str, retrying: bool) -> None:
        """As in a synchronous meta-step; a task that is not retried ends here."""
        n = job.payload.task
        record = self.records.setdefault(n, TaskRecord(job.payload))
        record.error = error
        record.stop()
        tally = self.tallies.setdefault(n, TaskTally(attempt=job.attempt))
        if retrying:
            record.status = "queued"
            return
        record.status = "partial" if tally.chunks > 0 else "failed"
        self._end(n)

    def _end(self, n: int) -> None:
        """The task joins the open meta-step (dropped if too stale); B ended tasks close it."""
        record, tally = self.records.pop(n), self.tallies.pop(n)
        record.staleness = self.pool.version - record.assignment.meta_step
        if record.status in ("completed", "partial") and \
                record.staleness > self.cfg.meta.max_staleness:
            record.status = "dropped"
        self.batch.tasks[n] = tally
        self.batch.records.append(record)
        if len(self.batch.records) == self.cfg.meta.meta_batch_size:
            done, self.batch = self.batch, Batch(self.batch.meta_step + 1)
            self.owed -= set(done.tasks)
            self.close(done)

    def redo(self) -> dict:
        """What a checkpoint taken now keeps of the run: the tasks no closed meta-step holds
        (running, waiting for a retry, or ended into the open meta-step) are redone on resume."""
        return {"redo": sorted(self.owed), "next_task": self.next_task}
