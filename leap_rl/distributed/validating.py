"""Meta-validation in the driver: every ``validation.every`` meta-steps, fresh learners from the
current θ⁰ on each validation game and seed, against the cached random-θ⁰ baseline runs
(docs/design.md, "Meta-validation"; the metric: :mod:`leap_rl.validation.metric`).

The runs go to the run's own worker actors (``TaskWorker.validate``) through the scheduler every
streamed run uses, after the meta-step's update, while the workers would otherwise wait for the
next meta-step: a validation costs its own compute and nothing else. Baseline runs missing from
the cache run in the same batch. A run that fails (after the retries ``workers.*`` allow) is
missing, as one that finished no episode.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

import ray
import torch

from leap_rl.config import ExperimentConfig, baseline_config
from leap_rl.distributed.metastep import WorkerPool
from leap_rl.distributed.scheduler import Job, StreamScheduler
from leap_rl.io.artifacts import ArtifactError, load_init, save_init
from leap_rl.io.storage import RunPath, location
from leap_rl.validation.cache import BaselineCache, baseline_key
from leap_rl.validation.history import ValidationHistory
from leap_rl.validation.metric import game_gain, mean_gain, run_auc, tensorboard_scalars
from leap_rl.validation.runs import ValidationRun


@dataclasses.dataclass
class _Result:
    run: ValidationRun
    episodes: list = dataclasses.field(default_factory=list)
    agent_steps: int = 0
    seconds: float = 0.0
    done: bool = False
    error: str | None = None


class _OnWorkers:
    """The scheduler's Launcher and Handler for one validation's runs on the pool's actors."""

    def __init__(self, pool: WorkerPool, init_ref, configs: Mapping[bool, dict]) -> None:
        self.pool, self.init_ref, self.configs = pool, init_ref, configs

    # Launcher: the pool's idle actors, a dead one replaced as for a task.
    def has_room(self) -> bool:
        return self.pool.has_room()

    def launch(self, job: Job):
        job.handle = self.pool.idle.pop(0)
        run = job.payload.run
        return job.handle.validate.options(num_returns="streaming").remote(
            run, None if run.random else self.init_ref, self.configs[run.random])

    def release(self, job: Job) -> None:
        self.pool.release(job)

    def discard(self, job: Job, started: bool) -> None:
        self.pool.discard(job, started)

    def cancel(self, job: Job) -> None:
        self.pool.cancel(job)

    def started(self, job: Job) -> bool:
        return self.pool.started(job)

    def exhausted(self) -> bool:
        return self.pool.exhausted()

    # Handler.
    def dispatched(self, job: Job) -> None:
        job.payload.episodes, job.payload.agent_steps = [], 0

    def item(self, job: Job, report: dict) -> None:
        result = job.payload
        result.agent_steps = report["agent_steps"]
        result.episodes.extend((int(s), float(r)) for s, r in report["episodes"])
        if report["done"]:
            result.done, result.seconds = True, report["seconds"]

    def ended(self, job: Job) -> str | None:
        return None if job.payload.done else "RuntimeError: the run ended without its last report"

    def failed(self, job: Job, error: str, retrying: bool) -> None:
        job.payload.error = error


class Validator:
    """Runs the validations of one meta-training run and keeps their history and best θ⁰."""

    def __init__(self, cfg: ExperimentConfig, out: RunPath, observation_shape: tuple[int, ...],
                 say: Callable[[str], None], scalars: Callable[[dict], None]) -> None:
        """``say``: console lines; ``scalars``: the run's scalar sinks (TensorBoard, ...)."""
        self.cfg, self.v, self.out, self.say, self.log = cfg, cfg.validation, out, say, scalars
        self.observation_shape = observation_shape
        self.baseline = baseline_config(cfg)
        self.cache = BaselineCache(location(self.v.cache_dir) if self.v.cache_dir
                                   else out / "validation" / "cache")
        self.history = ValidationHistory(out, self.v.patience)
        self.best_init: dict[str, torch.Tensor] | None = None

    def due(self, completed: int) -> bool:
        return completed % self.v.every == 0

    def restore(self, completed: int, state: Mapping | None) -> None:
        """The history of the first ``completed`` meta-steps, and init/best.pt as the
        checkpoint's best θ⁰ (a later best, from meta-steps done again, is rewritten)."""
        self.history.load(completed)
        saved = (state or {}).get("validation") or {}
        if saved.get("best_init") is None or saved.get("best_meta_step") != \
                self.history.best_meta_step:
            return
        self.best_init = saved["best_init"]
        path = self.out / "init" / "best.pt"
        try:
            current = load_init(path)["meta_step"]
        except ArtifactError:
            current = None
        if current != self.history.best_meta_step:
            self._save_best(self.history.best_meta_step, self.history.best_gain)

    def state(self) -> dict:
        """What a checkpoint keeps: the best θ⁰ and its meta-step."""
        return {"best_init": self.best_init, "best_meta_step": self.history.best_meta_step}

    @property
    def exhausted(self) -> bool:
        return self.history.exhausted

    def validate(self, completed: int, init: Mapping[str, torch.Tensor], pool: WorkerPool) -> bool:
        """The validation after ``completed`` meta-steps; True when patience has run out."""
        start = time.monotonic()
        cached, todo = self._plan()
        handler = _OnWorkers(pool, ray.put(dict(init)),
                             {False: self.cfg.model_dump(mode="json"),
                              True: self.baseline.model_dump(mode="json")})
        results = [_Result(run) for run in todo]
        StreamScheduler(self.cfg.workers, handler, handler).run(results)
        for result in results:
            if result.run.random and result.done:
                key = baseline_key(self.baseline, result.run.game, result.run.seed, result.run.steps)
                cached[(result.run.game, result.run.seed)] = self.cache.put(
                    key, {"agent_steps": result.agent_steps, "episodes": result.episodes,
                          "seconds": result.seconds})
        record = self._record(completed, cached, results, time.monotonic() - start)
        improved = self.history.add(record)
        if improved:
            self.best_init = {k: v.detach().clone() for k, v in init.items()}
            self._save_best(completed, record["gain"])
        self.log(tensorboard_scalars(record["games"], record["gain"]))
        self._report(record, improved)
        return self.history.exhausted

    def _plan(self) -> tuple[dict, list[ValidationRun]]:
        """The cached baseline runs, and the runs to do: θ⁰ on every game × seed, then the
        baseline runs the cache lacks."""
        v, cached, todo = self.v, {}, []
        for game in v.games:
            for seed in v.seed_list:
                todo.append(ValidationRun(game, seed, v.steps, random=False))
        for game in v.games:
            for seed in v.seed_list:
                entry = self.cache.get(baseline_key(self.baseline, game, seed, v.steps))
                if entry is None:
                    todo.append(ValidationRun(game, seed, v.steps, random=True))
                else:
                    cached[(game, seed)] = entry
        return cached, todo

    def _record(self, completed: int, baseline: dict, results: list[_Result],
                seconds: float) -> dict:
        v = self.v
        init = {(r.run.game, r.run.seed): r for r in results if not r.run.random}
        games = {}
        for game in v.games:
            init_aucs = {s: self._auc(init[(game, s)]) for s in v.seed_list}
            random_aucs = {s: (run_auc(baseline[(game, s)]["episodes"], v.steps, v.window)
                               if (game, s) in baseline else None) for s in v.seed_list}
            parts = game_gain(list(init_aucs.values()), list(random_aucs.values()),
                              v.std_floor, v.std_floor_relative)
            games[game] = {"init": {str(s): a for s, a in init_aucs.items()},
                           "random": {str(s): a for s, a in random_aucs.items()}, **parts}
        computed = sum(r.run.random for r in results)
        return {"meta_step": completed, "gain": mean_gain(games), "games": games,
                "baseline_computed": computed,
                "baseline_cached": len(v.games) * v.seeds - computed,
                "seconds": round(seconds, 2),
                "errors": [f"{r.run.label}: {r.error}" for r in results if r.error and not r.done]}

    def _auc(self, result: _Result) -> float | None:
        return run_auc(result.episodes, self.v.steps, self.v.window) if result.done else None

    def _save_best(self, meta_step: int, gain: float | None) -> None:
        save_init(self.out / "init" / "best.pt", self.best_init,
                  architecture=self.cfg.inner.architecture,
                  observation_shape=self.observation_shape,
                  meta_step=meta_step, extra={"run": self.cfg.name, "validation_gain": gain,
                                              "validation_games": self.v.games})

    def _report(self, record: dict, improved: bool) -> None:
        gain = lambda g: "missing" if g is None else f"{g:+.3f}"
        games = ", ".join(f"{g} {gain(p['gain'])}" for g, p in record["games"].items())
        best = ("new best" if improved else f"best {gain(self.history.best_gain)} after "
                f"meta-step {self.history.best_meta_step}")
        self.say(f"validation after meta-step {record['meta_step']}: gain {gain(record['gain'])}"
                 f" ({best}); {games}; baseline runs {record['baseline_computed']} computed, "
                 f"{record['baseline_cached']} cached; {record['seconds']:.1f} s")
        for error in record["errors"]:
            self.say(f"  validation run missing: {error}")
        if self.history.exhausted:
            self.say(f"stopping early: {self.history.since_best} validations without a new best "
                     f"(validation.patience {self.v.patience}); the best θ⁰, gain "
                     f"{gain(self.history.best_gain)} after meta-step "
                     f"{self.history.best_meta_step}, is in {self.out / 'init' / 'best.pt'}")
