"""Runs one meta-step's tasks on a pool of worker actors, streaming chunks into the aggregator.

Tasks queue when there are fewer workers than tasks. A worker that dies (killed, OOM, node lost)
or falls silent is replaced; its task keeps the chunks already counted (a prefix of a path is a
valid meta-gradient) or is retried, by policy: a retry trains the task again from θ⁰ and, once
dispatched, its chunks replace the failed attempt's (one task, one path). Every Ray wait has a
timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ray
from ray.exceptions import RayError

from leap_rl.config import ExperimentConfig
from leap_rl.distributed.aggregator import MetaStepAggregator
from leap_rl.distributed.protocol import Assignment, Chunk
from leap_rl.distributed.worker import start_worker

POLL_S = 0.5


@dataclass
class TaskRecord:
    """The fate of one task: where it ran and how it ended."""

    assignment: Assignment
    status: str = "queued"      # queued, running, completed, partial, failed
    attempts: int = 0
    node_id: str | None = None
    pid: int | None = None
    error: str | None = None


@dataclass
class _Running:
    worker: object
    assignment: Assignment
    stream: object
    started: float
    last_chunk: float | None = None


@dataclass
class WorkerPool:
    """The worker actors. A dead worker is replaced; one that never started (no capacity for
    it) is dropped, and :meth:`top_up` tries again at the next meta-step."""

    cfg: ExperimentConfig
    runner: object
    size: int
    idle: list = field(default_factory=list)
    members: int = 0
    _placed: dict = field(default_factory=dict)  # worker → ref that resolves once it runs

    def __post_init__(self) -> None:
        self.top_up()

    def top_up(self) -> None:
        """Starts workers until the pool has ``size`` of them again."""
        while self.members < self.size:
            self._start()
            self.members += 1

    def _start(self) -> None:
        worker = start_worker(self.cfg, self.runner)
        self._placed[worker] = worker.where.remote()
        self.idle.append(worker)

    def started(self, worker) -> bool:
        """Whether the worker was ever placed and constructed (or has died trying)."""
        ready, _ = ray.wait([self._placed[worker]], timeout=0)
        return bool(ready)

    def replace(self, worker) -> None:
        self._kill(worker)
        self._start()

    def drop(self, worker) -> None:
        self._kill(worker)
        self.members -= 1

    def _kill(self, worker) -> None:
        self._placed.pop(worker, None)
        ray.kill(worker, no_restart=True)

    def shutdown(self) -> None:
        for worker in list(self._placed):
            self._kill(worker)
        self.idle.clear()


class MetaStepRun:
    """Drives one meta-step: dispatch, receive chunks as they come, handle failures."""

    def __init__(self, cfg: ExperimentConfig, pool: WorkerPool, assignments: list[Assignment],
                 init_ref, on_chunk: Callable[[Chunk, str], None] | None = None) -> None:
        self.cfg, self.pool, self.init_ref = cfg, pool, init_ref
        self.aggregator = MetaStepAggregator(assignments[0].meta_step, len(assignments))
        self.records = [TaskRecord(a) for a in assignments]
        self.queue = list(assignments)
        self.running: dict[object, _Running] = {}
        self.on_chunk = on_chunk or (lambda chunk, verdict: None)

    def run(self) -> MetaStepAggregator:
        """Returns once every task completed, ended partial, or failed."""
        while self.queue or self.running:
            self._dispatch()
            ready, _ = ray.wait(list(self.running), num_returns=1, timeout=POLL_S)
            for stream in ready:
                self._receive(stream)
            self._expire_silent()
        return self.aggregator

    def _dispatch(self) -> None:
        while self.queue and self.pool.idle:
            assignment, worker = self.queue.pop(0), self.pool.idle.pop(0)
            self.aggregator.begin_attempt(assignment.task, assignment.attempt)
            stream = worker.run.options(num_returns="streaming").remote(assignment, self.init_ref)
            self.running[stream] = _Running(worker, assignment, stream, time.monotonic())
            record = self.records[assignment.task]
            record.status, record.attempts = "running", record.attempts + 1

    def _receive(self, stream) -> None:
        run = self.running[stream]
        try:
            chunk = ray.get(next(stream), timeout=self.cfg.workers.task_timeout_s)
        except StopIteration:
            self._finish(run)
            return
        except RayError as err:  # died (SIGKILL, OOM killer, node lost), raised, or timed out
            self._fail(run, err)
            return
        run.last_chunk = time.monotonic()
        record = self.records[run.assignment.task]  # the stream's task, whatever the chunk says
        record.node_id, record.pid = chunk.node_id, chunk.pid
        self.on_chunk(chunk, self.aggregator.add(chunk))

    def _finish(self, run: _Running) -> None:
        del self.running[run.stream]
        self.pool.idle.append(run.worker)
        record = self.records[run.assignment.task]
        done = self.aggregator.tasks[run.assignment.task].final
        record.status = "completed" if done else "partial"

    def _fail(self, run: _Running, err: Exception, never_started: bool = False) -> None:
        """The task's worker died, raised, or fell silent: replace it and apply the policy.

        A worker that never started is not replaced (there is no room for it now); with no
        workers left, the tasks still queued fail at once instead of waiting for nothing.
        """
        del self.running[run.stream]
        if never_started:
            self.pool.drop(run.worker)
        else:
            self.pool.replace(run.worker)
        record = self.records[run.assignment.task]
        record.error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        retries = self.cfg.workers.max_task_retries
        if self.cfg.workers.failure_policy == "retry" and run.assignment.attempt < retries:
            a = run.assignment
            self.queue.append(Assignment(a.meta_step, a.task, a.game, a.seed, a.steps,
                                         a.attempt + 1))
            record.status = "queued"
            return
        got_some = self.aggregator.tasks[run.assignment.task].chunks > 0
        record.status = "partial" if got_some else "failed"

    def _fail_queue_without_workers(self) -> None:
        """With no worker left, queued tasks end; a retry never dispatched leaves its task the
        failed attempt's prefix, as if it had not been retried."""
        if self.pool.members == 0 and self.queue:
            for assignment in self.queue:
                record = self.records[assignment.task]
                got_some = self.aggregator.tasks[assignment.task].chunks > 0
                record.status = "partial" if got_some else "failed"
                record.error = "no worker could be started"
            self.queue.clear()

    def _expire_silent(self) -> None:
        now, workers = time.monotonic(), self.cfg.workers
        for run in list(self.running.values()):
            limit = workers.task_timeout_s
            if run.last_chunk is None:  # waiting for resources, actor start, env start
                limit += workers.startup_timeout_s
            since = now - (run.last_chunk or run.started)
            if since > limit:
                never_started = run.last_chunk is None and not self.pool.started(run.worker)
                self._fail(run, TimeoutError(f"no chunk for {since:.0f} s"
                                             + (" (worker never started)" if never_started
                                                else "")), never_started)
        self._fail_queue_without_workers()

    def cancel(self) -> None:
        """Stops the tasks still running (on an error or interrupt)."""
        for run in self.running.values():
            ray.kill(run.worker, no_restart=True)
        self.running.clear()
