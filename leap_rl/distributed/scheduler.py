"""One loop for every streamed Ray run: meta-training tasks and evaluation runs alike.

A *job* is one run that streams items back (a Ray streaming generator). The scheduler launches
jobs while its :class:`Launcher` has room, receives items as they come, and ends each job in one
of three ways, the same for every caller:

- its stream ends: :meth:`Handler.ended` says whether that was a proper end;
- it fails (raised, died, or was silent for ``workers.task_timeout_s``, plus
  ``workers.startup_timeout_s`` before its first item): under ``failure_policy: retry`` it runs
  again from the start while ``attempt < workers.max_task_retries``, else it ends failed;
- no launcher capacity is left at all: queued jobs end failed, "no worker could be started".

Callers keep their own bookkeeping in a :class:`Handler`; launchers decide where a job runs
(a pool of worker actors for meta-training, Ray tasks within the cluster's slots for evaluation).
Every Ray wait has a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import ray
from ray.exceptions import RayError, RayTaskError

from leap_rl.config import WorkersConfig

POLL_S = 0.5
NO_WORKER = "no worker could be started"


@dataclass
class Job:
    """One streamed run: the caller's payload, its attempt, and what the scheduler saw of it."""

    payload: Any
    attempt: int = 0            # 0 for the first try, 1 for the first retry, …
    handle: Any = None          # the launcher's (e.g. the worker actor it runs on)
    stream: Any = None
    started: float = 0.0
    last: float | None = None   # when its latest item arrived (None: none yet)


class Launcher(Protocol):
    """Where jobs run.

    ``discard`` and ``cancel`` may have to kill what a job runs on (it may hang), so a job must
    run where such a kill reaches nothing else: an actor of its own while it runs, never a Ray
    task, whose worker process Ray hands to the next task as soon as the last one ends (a kill
    sent after a job reported its failure then lands on that next job: issue 20). What each
    launcher's kills may hit: docs/reliability.md, "What a kill may hit".
    """

    def has_room(self) -> bool: """Whether a job can be launched now."""
    def launch(self, job: Job) -> Any: """Starts the job; returns its streaming generator."""
    def release(self, job: Job) -> None: """The job's stream ended: its place is free again."""
    def discard(self, job: Job, started: bool) -> None: """After a failure (``started``: it
        ever ran): free or replace what it ran on."""
    def cancel(self, job: Job) -> None: """Stops a running job (on an error or interrupt)."""
    def started(self, job: Job) -> bool: """Whether the job's host was ever placed."""
    def exhausted(self) -> bool: """Whether no job can ever be launched again."""


class Handler(Protocol):
    """The caller's bookkeeping."""

    def dispatched(self, job: Job) -> None: """The job (or its retry) was launched."""
    def item(self, job: Job, item: Any) -> None: """An item the job streamed."""
    def ended(self, job: Job) -> str | None: """Its stream ended; an error text if improperly."""
    def failed(self, job: Job, error: str, retrying: bool) -> None: """It failed (see above)."""


def describe_error(err: BaseException) -> str:
    """``Type: first line``, of the exception a Ray task raised where there is one (its last
    line is that exception; its first names the Ray task), else of ``err`` itself."""
    if isinstance(err, RayTaskError):
        lines = str(err).strip().splitlines()
        return lines[-1] if lines else type(err).__name__
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


class StreamScheduler:
    """Runs jobs to their end: dispatch, receive, retry, expire the silent, all in one loop."""

    def __init__(self, workers: WorkersConfig, launcher: Launcher, handler: Handler,
                 tick=lambda: None) -> None:
        self.workers, self.launcher, self.handler, self.tick = workers, launcher, handler, tick
        self.queue: list[Job] = []
        self.running: dict[Any, Job] = {}

    def run(self, payloads: Iterable[Any]) -> None:
        """Returns once every job ended; on an error or interrupt, cancels the running ones."""
        self.queue = [Job(p) for p in payloads]
        try:
            while self.queue or self.running:
                self._dispatch()
                ready, _ = ray.wait(list(self.running), num_returns=1, timeout=POLL_S)
                for stream in ready:
                    self._receive(self.running[stream])
                self._expire_silent()
                self._fail_queue_if_exhausted()
                self.tick()
        except BaseException:
            for job in self.running.values():
                self.launcher.cancel(job)
            self.running.clear()
            raise

    def _dispatch(self) -> None:
        while self.queue and self.launcher.has_room():
            job = self.queue.pop(0)
            job.stream, job.started, job.last = self.launcher.launch(job), time.monotonic(), None
            self.running[job.stream] = job
            self.handler.dispatched(job)

    def _receive(self, job: Job) -> None:
        try:
            item = ray.get(next(job.stream), timeout=self.workers.task_timeout_s)
        except StopIteration:
            del self.running[job.stream]
            self.launcher.release(job)
            error = self.handler.ended(job)
            if error is not None:
                self._retry_or_fail(job, error)
            return
        except RayError as err:  # died (SIGKILL, OOM killer, node lost), raised, or timed out
            self._fail(job, describe_error(err), started=True)
            return
        job.last = time.monotonic()
        self.handler.item(job, item)

    def _fail(self, job: Job, error: str, started: bool) -> None:
        del self.running[job.stream]
        self.launcher.discard(job, started)
        self._retry_or_fail(job, error)

    def _retry_or_fail(self, job: Job, error: str) -> None:
        """One rule for every caller: retried while attempt < max_task_retries under retry."""
        retrying = (self.workers.failure_policy == "retry"
                    and job.attempt < self.workers.max_task_retries)
        self.handler.failed(job, error, retrying)
        if retrying:
            self.queue.append(Job(job.payload, job.attempt + 1))

    def _expire_silent(self) -> None:
        now, w = time.monotonic(), self.workers
        for job in list(self.running.values()):
            limit = w.task_timeout_s + (w.startup_timeout_s if job.last is None else 0.0)
            since = now - (job.last or job.started)
            if since > limit:
                started = job.last is not None or self.launcher.started(job)
                self._fail(job, f"TimeoutError: no report for {since:.0f} s"
                           + ("" if started else " (worker never started)"), started)

    def _fail_queue_if_exhausted(self) -> None:
        """With nothing left to run on, queued jobs (retries included) end at once."""
        if self.queue and not self.running and self.launcher.exhausted():
            for job in self.queue:
                self.handler.failed(job, NO_WORKER, retrying=False)
            self.queue.clear()
