"""Evaluation on Ray: every game × seed trained from each initialization and from a random one.

Section 4.3 and figure 4 of Flennerhag et al. (ICLR 2019): "the baseline and Leap differ only
with respect to the initialization of the convolutional encoder" (appendix F). Every method of a
(game, seed) — each named θ⁰ (``leap``, ``reptile``, ...) and ``random`` — uses that seed for the
environments, the action sampler and the heads; only the encoder's starting weights differ (θ⁰
from its ``encoder.pt`` vs a fresh seeded one), so methods compare paired by seed. The paper uses
ten seeds per game; the default here is three.

Each run is a streaming generator on a host actor requesting ``workers.num_cpus``/``num_gpus``,
as meta-training's workers do (a host whose run failed is killed, never reused: ``_RunHosts``);
the driver keeps as many in flight as the cluster fits, in the order given, streams their
episodes back, hands each finished run to ``on_finish`` (which persists it:
:mod:`leap_rl.evaluation.experiment`), prints a line per finished run with k/N and an ETA, and
never calls ``ray.init`` itself (the CLI or the caller does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import ray
import torch

from leap_rl.backends.base import backend_for
from leap_rl.backends.contract import EpisodeReport
from leap_rl.config import ExperimentConfig
from leap_rl.distributed.scheduler import Job, StreamScheduler
from leap_rl.evaluation.stats import RANDOM, final_score

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


def train_run(spec: RunSpec, init: Mapping[str, torch.Tensor], cfg: dict, num_threads: int,
              scaled_shape: Sequence[int] | None = None) -> Iterator[EpisodeReport]:
    """Body of a run's Ray task: the config's backend trains and streams episodes every few s.

    ``init`` is the method's θ⁰ (ignored for random); ``cfg`` the method's config; with
    ``scaled_shape`` (the observation shape) the run starts from the seed's random encoder
    rescaled to ``init``'s per-tensor RMS. Everything else depends on the seed only.
    """
    torch.set_num_threads(max(1, num_threads))
    config = ExperimentConfig.model_validate(cfg)
    init = None if spec.method == RANDOM else init
    if scaled_shape is not None and init is not None:
        from leap_rl.evaluation.scaled import scaled_init

        init = scaled_init(init, config.inner.encoder, scaled_shape, spec.seed,
                           layer_norm=config.inner.layer_norm)
    yield from backend_for(config).evaluation_run(spec.game, spec.seed, spec.steps, init, config,
                                                  PROGRESS_EVERY_S)


def cluster_slots(cfg: ExperimentConfig, runs: int) -> int:
    """Runs in flight at once: as many as the cluster's resources fit (all of them when none
    fit yet, e.g. on an autoscaling cluster), like meta-training's worker count."""
    available = ray.cluster_resources()
    fits = [int(available.get(key, 0) // need) for key, need in
            (("CPU", cfg.workers.num_cpus), ("GPU", cfg.workers.num_gpus)) if need > 0]
    fit = min(fits) if fits else runs
    return max(1, min(runs, fit)) if fit > 0 else runs


class _RunHost:
    """An evaluation run's process: a Ray actor that trains one run at a time."""

    def run(self, spec: RunSpec, init: Mapping[str, torch.Tensor] | None, cfg: dict,
            num_threads: int, scaled_shape: Sequence[int] | None = None
            ) -> Iterator[EpisodeReport]:
        yield from train_run(spec, init, cfg, num_threads, scaled_shape)


class _RunHosts:
    """Where evaluation runs go (a scheduler Launcher): host actors, one run at a time each, as
    many runs in flight as the cluster's slots.

    Why actors, not Ray tasks: a run that fails, falls silent or is interrupted must be stopped,
    at worst by killing its process, and Ray hands a finished task's worker process straight to
    the next task of the same kind. Until issue 20 a failed run's task was force-cancelled
    (``ray.cancel(force=True)``) after it had reported its failure, and the kill often landed on
    the run that had moved into that process. An actor's process runs that actor alone, and a
    host gets its next run only after its last one's stream ended; a host whose run failed in
    any way (raised, died, silent) or is interrupted is killed and never used again, so
    ``ray.kill`` reaches the run it is meant for and nothing else. A failure costs one new
    process (as the force kill did); a failed run never lends its process to another.
    """

    def __init__(self, cfg: ExperimentConfig, init_refs: Mapping[str, Any], slots: int,
                 configs: Mapping[str, ExperimentConfig] | None = None,
                 scaled: Mapping[str, Sequence[int]] | None = None) -> None:
        self.cfg, self.init_refs, self.slots, self.in_flight = cfg, init_refs, slots, 0
        self.config = cfg.model_dump(mode="json")
        self.idle: list = []  # hosts whose last run's stream ended
        self.configs = {m: c.model_dump(mode="json") for m, c in (configs or {}).items()}
        self.scaled = dict(scaled or {})
        w = cfg.workers
        self.host = ray.remote(_RunHost).options(num_cpus=w.num_cpus, num_gpus=w.num_gpus,
                                                 max_restarts=0, max_task_retries=0)

    def has_room(self) -> bool:
        return self.in_flight < self.slots

    def launch(self, job: Job):
        spec = job.payload.spec
        init = None if spec.method == RANDOM else self.init_refs[spec.method]
        job.handle = self.idle.pop(0) if self.idle else self.host.remote()
        self.in_flight += 1
        return job.handle.run.options(num_returns="streaming").remote(
            spec, init, self.configs.get(spec.method, self.config), self.cfg.workers.threads,
            self.scaled.get(spec.method))

    def release(self, job: Job) -> None:
        self.in_flight -= 1
        self.idle.append(job.handle)

    def discard(self, job: Job, started: bool) -> None:
        self.in_flight -= 1
        ray.kill(job.handle, no_restart=True)

    def cancel(self, job: Job) -> None:
        ray.kill(job.handle, no_restart=True)

    def started(self, job: Job) -> bool:
        return True  # startup_timeout_s covers a host's placement and start

    def exhausted(self) -> bool:
        return False

    def shutdown(self) -> None:
        for host in self.idle:
            ray.kill(host, no_restart=True)
        self.idle.clear()


class EvaluationRuns:
    """Drives the runs on the shared scheduler (dispatch within the cluster's slots, stream,
    retry, expire the silent) and keeps the evaluation's own bookkeeping: results, k/N, ETA."""

    def __init__(self, specs: Sequence[RunSpec], init_refs: Mapping[str, Any],
                 cfg: ExperimentConfig, *, on_finish: Callable[[RunResult], None] = lambda r: None,
                 window: int = 100, stream: TextIO | None = None, interval: float = 10.0,
                 done_before: int = 0, configs: Mapping[str, ExperimentConfig] | None = None,
                 scaled: Mapping[str, Sequence[int]] | None = None) -> None:
        """``init_refs``: each named method's θ⁰ in the object store (random needs none);
        ``done_before``: runs a resumed evaluation already has, for the k/N count;
        ``configs``: a run-method's own config where it has one (else ``cfg``); ``scaled``: the
        scale-matched run-methods and their observation shape."""
        self.cfg, self.on_finish, self.window = cfg, on_finish, window
        self.stream, self.interval, self.done_before = stream, interval, done_before
        self.results = [RunResult(s) for s in specs]
        self.slots = cluster_slots(cfg, len(specs))
        self.launcher = _RunHosts(cfg, init_refs, self.slots, configs, scaled)
        self.done, self._last_print = 0, time.monotonic()
        self.started = time.monotonic()

    def run(self) -> list[RunResult]:
        """Returns once every run completed or failed; cancels the rest on an error."""
        self.started = time.monotonic()
        try:
            StreamScheduler(self.cfg.workers, self.launcher, self, tick=self._progress).run(
                self.results)
        finally:
            self.launcher.shutdown()
        return self.results

    # The scheduler's Handler interface.
    def dispatched(self, job: Job) -> None:
        result = job.payload
        result.status, result.attempts = "running", result.attempts + 1
        result.episodes, result.agent_steps = [], 0

    def item(self, job: Job, item: EpisodeReport) -> None:
        result = job.payload
        result.agent_steps = item["agent_steps"]
        result.episodes.extend(item["episodes"])
        if item["done"]:
            result.status, result.seconds = "completed", item["seconds"]
            self._finished(result)

    def ended(self, job: Job) -> str | None:
        if job.payload.status == "completed":
            return None
        return "RuntimeError: the run ended without its final report"

    def failed(self, job: Job, error: str, retrying: bool) -> None:
        """A run that raised, died or fell silent: retried under the retry policy, else failed."""
        result = job.payload
        result.error = error
        if retrying:
            result.status = "queued"
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

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_print < self.interval or not self.launcher.in_flight:
            return
        self._last_print = now
        total = sum(r.spec.steps for r in self.results)
        steps = sum(min(r.agent_steps, r.spec.steps) for r in self.results)
        running = ", ".join(f"{r.spec.label} {100 * r.agent_steps / r.spec.steps:.0f}%"
                            for r in [r for r in self.results if r.status == "running"][:6])
        self._say(f"  progress {100 * steps / max(total, 1):.0f}%: "
                  f"{self.done_before + self.done}/{self.done_before + len(self.results)} done, "
                  f"{sum(r.status == 'queued' for r in self.results)} queued, {self.eta()}; "
                  f"running: {running}")

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


