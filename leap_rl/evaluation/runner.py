"""Evaluation on Ray: every game × seed trained from each initialization and from a random one.

Section 4.3 and figure 4 of Flennerhag et al. (ICLR 2019): "the baseline and Leap differ only
with respect to the initialization of the convolutional encoder" (appendix F). Every method of a
(game, seed) — each named θ⁰ (``leap``, ``reptile``, ...) and ``random`` — uses that seed for the
environments, the action sampler and the heads; only the encoder's starting weights differ (θ⁰
from its ``encoder.pt`` vs a fresh seeded one), so methods compare paired by seed. The paper uses
ten seeds per game; the default here is three.

Each run is one Ray task (a streaming generator) requesting ``workers.num_cpus``/``num_gpus``,
as meta-training's workers do; the driver keeps as many in flight as the cluster fits, in the
order given, streams their episodes back, hands each finished run to ``on_finish`` (which
persists it: :mod:`leap_rl.evaluation.experiment`), prints a line per finished run with k/N and
an ETA, and never calls ``ray.init`` itself (the CLI or the caller does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TextIO

import ray
import torch
from ray.exceptions import RayError

from leap_rl.config import ExperimentConfig
from leap_rl.evaluation.stats import RANDOM, final_score

POLL_S = 0.5
FINISHED = ("completed", "failed")
PROGRESS_EVERY_S = 5.0  # how often a run streams its new episodes back


class EvaluationError(RuntimeError):
    """The evaluation produced nothing to report (every run failed)."""


@dataclass(frozen=True)
class RunSpec:
    """One training run of the evaluation."""

    game: str
    method: str  # an init's name (encoder ← its θ⁰) or "random" (a fresh, seeded encoder)
    seed: int
    steps: int

    @property
    def label(self) -> str:
        return f"{self.game}/{self.method}/seed {self.seed}"


@dataclass
class RunResult:
    """What came back from one run (episodes as (agent step, raw return))."""

    spec: RunSpec
    status: str = "queued"  # queued, running, completed, failed
    agent_steps: int = 0
    episodes: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None

    def record(self) -> dict:
        """The run's entry in evaluation.json (its episodes are in curves.csv)."""
        return {**asdict(self.spec), "status": self.status, "agent_steps": self.agent_steps,
                "episodes": len(self.episodes), "seconds": round(self.seconds, 2),
                "attempts": self.attempts, "error": self.error}


def train_run(spec: RunSpec, init: Mapping[str, torch.Tensor], cfg: dict,
              num_threads: int) -> Iterator[dict]:
    """Body of a run's Ray task: trains and streams {agent_steps, episodes, done} every few s.

    ``init`` is the method's θ⁰ (ignored for random); everything else depends on the seed only.
    """
    from leap_rl.run_task import build_learner  # torch + gym: on the worker only

    torch.set_num_threads(max(1, num_threads))
    config = ExperimentConfig.model_validate(cfg)
    init = None if spec.method == RANDOM else init
    if config.inner.backend == "rllib":
        from leap_rl.rllib.task import evaluation_run

        # rllib.task loads θ⁰ for method "leap" only: pass the run's role, not the init's name.
        role = replace(spec, method=RANDOM if init is None else "leap")
        yield from evaluation_run(role, init, config, PROGRESS_EVERY_S)
        return
    learner = build_learner(spec.game, config, seed=spec.seed, accumulator=None, init=init)
    try:
        # A report per update: episode ends located to ±1 unroll.
        yield from stream_episodes(learner.train(spec.steps, 1), PROGRESS_EVERY_S)
    finally:
        learner.close()


def stream_episodes(reports: Iterator, every_s: float) -> Iterator[dict]:
    """Batches training reports into the messages a run streams: {agent_steps, episodes, done}
    every ``every_s`` seconds with the episodes (agent steps, return) finished since the last,
    then a final one with done=True and the seconds taken."""
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


def cluster_slots(cfg: ExperimentConfig, runs: int) -> int:
    """Runs in flight at once: as many as the cluster's resources fit (all of them when none
    fit yet, e.g. on an autoscaling cluster), like meta-training's worker count."""
    available = ray.cluster_resources()
    fits = [int(available.get(key, 0) // need) for key, need in
            (("CPU", cfg.workers.num_cpus), ("GPU", cfg.workers.num_gpus)) if need > 0]
    fit = min(fits) if fits else runs
    return max(1, min(runs, fit)) if fit > 0 else runs


@dataclass
class _Running:
    result: RunResult
    started: float
    last: float | None = None


class EvaluationRuns:
    """Drives the runs: dispatch within the cluster's slots, stream, handle failures, report."""

    def __init__(self, specs: Sequence[RunSpec], init_refs: Mapping[str, Any],
                 cfg: ExperimentConfig, *, on_finish: Callable[[RunResult], None] = lambda r: None,
                 window: int = 100, stream: TextIO | None = None, interval: float = 10.0,
                 done_before: int = 0) -> None:
        """``init_refs``: each named method's θ⁰ in the object store (random needs none);
        ``done_before``: runs a resumed evaluation already has, for the k/N count."""
        self.cfg, self.init_refs, self.on_finish, self.window = cfg, init_refs, on_finish, window
        self.stream, self.interval, self.done_before = stream, interval, done_before
        self.results = [RunResult(s) for s in specs]
        self.queue = list(self.results)
        self.running: dict[object, _Running] = {}
        self.slots = cluster_slots(cfg, len(specs))
        self.done, self._last_print = 0, time.monotonic()
        self.started = time.monotonic()
        w = cfg.workers
        self.task = ray.remote(train_run).options(num_cpus=w.num_cpus, num_gpus=w.num_gpus,
                                                  num_returns="streaming", max_retries=0)

    def run(self) -> list[RunResult]:
        """Returns once every run completed or failed; cancels the rest on an error."""
        self.started = time.monotonic()
        try:
            while self.queue or self.running:
                self._dispatch()
                ready, _ = ray.wait(list(self.running), num_returns=1, timeout=POLL_S)
                for gen in ready:
                    self._receive(gen)
                self._expire_silent()
                self._progress()
        except BaseException:
            for gen in self.running:
                ray.cancel(gen, force=True)
            raise
        return self.results

    def _dispatch(self) -> None:
        cfg = self.cfg.model_dump(mode="json")
        while self.queue and len(self.running) < self.slots:
            result = self.queue.pop(0)
            result.status, result.attempts = "running", result.attempts + 1
            result.episodes, result.agent_steps = [], 0
            method = result.spec.method
            init = None if method == RANDOM else self.init_refs[method]
            gen = self.task.remote(result.spec, init, cfg, self.cfg.workers.threads)
            self.running[gen] = _Running(result, time.monotonic())

    def _receive(self, gen) -> None:
        run = self.running[gen]
        try:
            item = ray.get(next(gen), timeout=self.cfg.workers.task_timeout_s)
        except StopIteration:
            self._fail(gen, RuntimeError("the run ended without its final report"))
            return
        except RayError as err:
            self._fail(gen, err)
            return
        run.last = time.monotonic()
        result = run.result
        result.agent_steps = item["agent_steps"]
        result.episodes.extend(item["episodes"])
        if item["done"]:
            del self.running[gen]
            result.status, result.seconds = "completed", item["seconds"]
            self._finished(result)

    def _fail(self, gen, err: BaseException) -> None:
        """A run that raised, died or fell silent: retried under the retry policy, else failed."""
        result = self.running.pop(gen).result
        ray.cancel(gen, force=True)
        lines = str(err).strip().splitlines()
        result.error = f"{type(err).__name__}: {lines[-1] if lines else ''}"
        w = self.cfg.workers
        if w.failure_policy == "retry" and result.attempts <= w.max_task_retries:
            result.status = "queued"
            self.queue.append(result)
            self._say(f"  {result.spec.label} failed ({result.error}); retrying")
            return
        result.status = "failed"
        self._finished(result)

    def _finished(self, result: RunResult) -> None:
        self.done += 1
        total = self.done_before + len(self.results)
        head = f"[{self.done_before + self.done}/{total} done] {result.spec.label}:"
        tail = f"; {self.eta()}" if self.done < len(self.results) else ""
        if result.status == "completed":
            window = min(len(result.episodes), self.window)
            score = final_score([r for _, r in result.episodes], self.window)
            self._say(f"{head} {result.agent_steps:,} steps, {len(result.episodes)} episodes, "
                      f"mean return of the last {window} {score:.1f}, {result.seconds:.0f} s{tail}")
        else:
            self._say(f"{head} FAILED ({result.error}){tail}")
        self.on_finish(result)

    def _expire_silent(self) -> None:
        w, now = self.cfg.workers, time.monotonic()
        for gen, run in list(self.running.items()):
            limit = w.task_timeout_s + (w.startup_timeout_s if run.last is None else 0.0)
            if now - (run.last or run.started) > limit:
                self._fail(gen, TimeoutError(f"nothing heard for {limit:.0f} s"))

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_print < self.interval or not self.running:
            return
        self._last_print = now
        total = sum(r.spec.steps for r in self.results)
        steps = sum(min(r.agent_steps, r.spec.steps) for r in self.results)
        running = ", ".join(f"{r.spec.label} {100 * r.agent_steps / r.spec.steps:.0f}%"
                            for r in [run.result for run in self.running.values()][:6])
        self._say(f"  progress {100 * steps / max(total, 1):.0f}%: "
                  f"{self.done_before + self.done}/{self.done_before + len(self.results)} done, "
                  f"{len(self.queue)} queued, {self.eta()}; running: {running}")

    def eta(self) -> str:
        """Time left at this session's rate of agent steps (all runs in flight together)."""
        progress = sum(min(r.agent_steps, r.spec.steps) for r in self.results)
        left = sum(r.spec.steps - min(r.agent_steps, r.spec.steps) for r in self.results
                   if r.status not in FINISHED)
        elapsed = time.monotonic() - self.started
        if progress <= 0 or elapsed <= 0:
            return "ETA unknown"
        seconds = left * elapsed / progress
        return ("ETA " + (f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
                          if seconds < 5400 else f"{seconds / 3600:.1f} h"))

    def _say(self, message: str) -> None:
        print(message, file=self.stream, flush=True)


