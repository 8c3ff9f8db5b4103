"""One meta-step's tasks on a pool of worker actors, streaming chunks into the aggregator.

Tasks queue when there are fewer workers than tasks (:class:`StreamScheduler` runs them). A
worker that dies (killed, OOM, node lost) or falls silent is replaced; its task keeps the chunks
already counted (a prefix of a path is a valid meta-gradient) or is retried, by policy: a retry
trains the task again from θ⁰ and, once dispatched, its chunks replace the failed attempt's (one
task, one path).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ray

from leap_rl.config import ExperimentConfig
from leap_rl.distributed.aggregator import MetaStepAggregator
from leap_rl.distributed.protocol import Assignment, Chunk
from leap_rl.distributed.scheduler import Job, StreamScheduler
from leap_rl.distributed.worker import start_worker


@dataclass
class TaskRecord:
    """The fate of one task: where it ran and how it ended."""

    assignment: Assignment
    status: str = "queued"      # queued, running, completed, partial, failed; async: dropped
    attempts: int = 0
    node_id: str | None = None
    pid: int | None = None
    error: str | None = None
    staleness: int | None = None  # async only: θ⁰'s meta-steps between the task's start and end
    # Timing for workers/ (docs/tensorboard.md): seconds its attempts held a worker, each
    # attempt's seconds from dispatch to its first chunk, the longest wait between two chunks.
    busy_s: float = 0.0
    startup_s: list = field(default_factory=list)
    chunk_lag_s: float = 0.0
    _since: float | None = None  # the running attempt's dispatch time
    _last: float | None = None   # its latest chunk's arrival (None: none yet)

    def begin(self) -> None:
        """An attempt was dispatched."""
        self._since, self._last = time.monotonic(), None

    def saw_chunk(self) -> None:
        now = time.monotonic()
        if self._last is None and self._since is not None:
            self.startup_s.append(now - self._since)
        elif self._last is not None:
            self.chunk_lag_s = max(self.chunk_lag_s, now - self._last)
        self._last = now

    def stop(self) -> None:
        """The running attempt ended (its stream ended or it failed)."""
        if self._since is not None:
            self.busy_s += time.monotonic() - self._since
            self._since = None


@dataclass
class WorkerPool:
    """The worker actors, a :class:`leap_rl.distributed.scheduler.Launcher`. A dead worker is
    replaced; one that never started (no capacity for it) is dropped, and :meth:`top_up` tries
    again at the next meta-step."""

    cfg: ExperimentConfig
    runner: object
    size: int
    idle: list = field(default_factory=list)
    members: int = 0
    init_ref: object = None  # θ⁰ of the meta-step being run, in the object store
    replaced: int = 0  # dead workers replaced since :meth:`take_replaced`
    _placed: dict = field(default_factory=dict)  # worker → ref that resolves once it runs

    def __post_init__(self) -> None:
        self.top_up()

    def top_up(self) -> None:
        """Starts workers until the pool has ``size`` of them again."""
        while self.members < self.size:
            self._start()
            self.members += 1

    def take_replaced(self) -> int:
        """Workers replaced since the last call (``workers/replacements``)."""
        replaced, self.replaced = self.replaced, 0
        return replaced

    def _start(self) -> None:
        worker = start_worker(self.cfg, self.runner)
        self._placed[worker] = worker.where.remote()
        self.idle.append(worker)

    # The Launcher interface.
    def has_room(self) -> bool:
        return bool(self.idle)

    def launch(self, job: Job):
        job.handle = self.idle.pop(0)
        assignment = dataclasses.replace(job.payload, attempt=job.attempt)
        return job.handle.run.options(num_returns="streaming").remote(assignment, self.init_ref)

    def release(self, job: Job) -> None:
        self.idle.append(job.handle)

    def discard(self, job: Job, started: bool) -> None:
        self._kill(job.handle)
        if started:
            self._start()
            self.replaced += 1
        else:  # no room for it now: top_up tries again next meta-step
            self.members -= 1

    def cancel(self, job: Job) -> None:
        ray.kill(job.handle, no_restart=True)

    def started(self, job: Job) -> bool:
        """Whether the job's worker was ever placed and constructed (or has died trying)."""
        ready, _ = ray.wait([self._placed[job.handle]], timeout=0)
        return bool(ready)

    def exhausted(self) -> bool:
        return self.members == 0

    def _kill(self, worker) -> None:
        self._placed.pop(worker, None)
        ray.kill(worker, no_restart=True)

    def shutdown(self) -> None:
        for worker in list(self._placed):
            self._kill(worker)
        self.idle.clear()


class MetaStepRun:
    """Drives one meta-step; the :class:`leap_rl.distributed.scheduler.Handler` of its tasks."""

    def __init__(self, cfg: ExperimentConfig, pool: WorkerPool, assignments: list[Assignment],
                 init_ref, on_chunk: Callable[[Chunk, str], None] | None = None) -> None:
        self.cfg, self.pool, self.init_ref = cfg, pool, init_ref
        self.assignments = assignments
        self.aggregator = MetaStepAggregator(assignments[0].meta_step, len(assignments))
        self.records = [TaskRecord(a) for a in assignments]
        self.on_chunk = on_chunk or (lambda chunk, verdict: None)

    def run(self) -> MetaStepAggregator:
        """Returns once every task completed, ended partial, or failed."""
        self.pool.init_ref = self.init_ref
        StreamScheduler(self.cfg.workers, self.pool, self).run(self.assignments)
        return self.aggregator

    def dispatched(self, job: Job) -> None:
        self.aggregator.begin_attempt(job.payload.task, job.attempt)
        record = self.records[job.payload.task]
        record.status, record.attempts = "running", record.attempts + 1
        record.begin()

    def item(self, job: Job, chunk: Chunk) -> None:
        record = self.records[job.payload.task]  # the stream's task, whatever the chunk says
        record.node_id, record.pid = chunk.node_id, chunk.pid
        record.saw_chunk()
        self.on_chunk(chunk, self.aggregator.add(chunk))

    def ended(self, job: Job) -> str | None:
        """A stream that ends is a proper end: complete, or a runner that stopped early."""
        done = self.aggregator.tasks[job.payload.task].final
        self.records[job.payload.task].stop()
        self.records[job.payload.task].status = "completed" if done else "partial"
        return None

    def failed(self, job: Job, error: str, retrying: bool) -> None:
        """A task that is not retried keeps what its attempt streamed (partial) if anything; a
        retry never dispatched leaves it the failed attempt's prefix."""
        record = self.records[job.payload.task]
        record.error = error
        record.stop()
        got_some = self.aggregator.tasks[job.payload.task].chunks > 0
        record.status = "queued" if retrying else "partial" if got_some else "failed"
