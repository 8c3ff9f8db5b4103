"""The meta-training driver: holds θ⁰ and Adam, samples games, runs meta-steps, checkpoints.

Algorithm 1 of the paper, distributed: every meta-step samples ``meta_batch_size`` games, the
workers train them from θ⁰ and stream partial meta-gradients, and θ⁰ takes one Adam step on their
mean once the batch is in. ``meta.mode: async`` runs the same tasks without the barrier
(:mod:`leap_rl.distributed.asyncrun`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import ray
import torch

from leap_rl.agent import build_actor_critic, meta_parameters
from leap_rl.backends.base import backend_for
from leap_rl.config import ExperimentConfig
from leap_rl.core import seeds
from leap_rl.core.meta_optimizer import MetaOptimizer
from leap_rl.distributed.asyncrun import AsyncPool, AsyncRun, Batch
from leap_rl.distributed.care import InitCare, final_dormant_scalars
from leap_rl.distributed.checkpoint import load_latest, save_checkpoint
from leap_rl.distributed.metastep import MetaStepRun, WorkerPool
from leap_rl.distributed.protocol import Assignment
from leap_rl.distributed.runlog import RunLog, ScalarSink, log_step_after
from leap_rl.distributed.scheduler import StreamScheduler
from leap_rl.distributed.validating import Validator
from leap_rl.envs import make_vector_env
from leap_rl.io.artifacts import save_init
from leap_rl.io.storage import RemotePath, location


class MetaTrainingError(RuntimeError):
    """The run cannot go on (too few tasks contributed, no resources); the message says why."""


def sample_games(cfg: ExperimentConfig, meta_step: int) -> list[str]:
    """The games of ``meta_step``: a function of (seed, meta-step) alone, so resumes repeat it."""
    rng = np.random.default_rng([cfg.seed, meta_step])
    picks = rng.choice(len(cfg.meta.pool), size=cfg.meta.meta_batch_size, replace=False)
    return [cfg.meta.pool[i] for i in picks]


def task_seed(cfg: ExperimentConfig, meta_step: int, task: int) -> int:
    """A distinct, reproducible seed per (run seed, meta-step, task) (:mod:`leap_rl.core.seeds`)."""
    return seeds.task_seed(cfg.seed, meta_step, task)


def initial_init(cfg: ExperimentConfig) -> tuple[dict[str, torch.Tensor], tuple[int, ...]]:
    """A freshly initialized θ⁰ (seeded), and the observation shape it is made for."""
    probe = make_vector_env(cfg.meta.pool[0], 1, seed=cfg.seed,
                            **cfg.env.settings_for(cfg.meta.pool[0]))
    shape = tuple(probe.single_observation_space.shape)
    probe.close()
    torch.manual_seed(cfg.seed)
    model = build_actor_critic(cfg.inner.encoder, shape, num_actions=1,
                               layer_norm=cfg.inner.layer_norm)
    params = meta_parameters(model, cfg.inner.meta_parameters)
    return {k: v.detach().clone() for k, v in params.items()}, shape


def resolve_num_workers(cfg: ExperimentConfig) -> int:
    """The configured number, or as many as the cluster's current resources fit (≤ batch size)."""
    if cfg.workers.num_workers is not None:
        return cfg.workers.num_workers
    available = _group_resources() or ray.cluster_resources()
    fits = [int(available.get(key, 0) // need) for key, need in
            (("CPU", cfg.workers.num_cpus), ("GPU", cfg.workers.num_gpus)) if need > 0]
    fit = min(fits) if fits else cfg.meta.meta_batch_size
    # Zero fits on an autoscaling cluster that has not grown yet: ask for the batch and let the
    # pending workers bring up nodes (startup_timeout_s bounds the wait).
    return min(cfg.meta.meta_batch_size, fit) if fit > 0 else cfg.meta.meta_batch_size


def _group_resources() -> dict[str, float] | None:
    """What the placement group this driver runs in holds (a sweep's trial: its workers'
    bundles, leap_rl.sweep.resources), or None outside one: there the pool sizes to it."""
    group = ray.util.get_current_placement_group()
    if group is None:
        return None
    total: dict[str, float] = {}
    for bundle in group.bundle_specs:
        for key, value in bundle.items():
            total[key] = total.get(key, 0.0) + value
    return total


class MetaTrainer:
    """Runs (or resumes) meta-training into the run directory ``out`` (a path or a URI such as
    ``s3://bucket/run``); ``sinks`` get every scalar besides TensorBoard (``--track``)."""

    def __init__(self, cfg: ExperimentConfig, out: str | Path | RemotePath, *, runner=None,
                 stream: TextIO = sys.stdout, resume: bool = False,
                 sinks: Sequence[ScalarSink] = ()) -> None:
        self.cfg, self.out = cfg, location(out)
        self.runner = runner or backend_for(cfg).task_runner()
        init, self.observation_shape = initial_init(cfg)
        self.meta = MetaOptimizer(init, lr=cfg.meta.learning_rate, betas=cfg.meta.betas)
        self.care = InitCare(cfg, self.out, self.observation_shape, init)  # health, remedies
        self.start = self.bad_in_a_row = self.log_step = 0
        self.owed: dict = {}  # async: what the checkpoint's meta-steps do not hold (redo, next)
        state = self._restore(lambda message: print(message, file=stream, flush=True)) \
            if resume else None
        self.log = RunLog(self.out, cfg, stream, resume_after=self.start, step_after=self.log_step,
                          sinks=sinks, reference=(state or {}).get("objective_reference"))
        self.validator = None  # meta-validation (docs/design.md, "Meta-validation"), when asked
        if cfg.validation.enabled:
            self.validator = Validator(cfg, self.out, self.observation_shape, self.log.say,
                                       self.log.scalars)
            self.validator.restore(self.start, state)

    def _restore(self, say) -> dict | None:
        """Loads the latest usable checkpoint (None: there is none); returns its state."""
        state = load_latest(self.out / "checkpoints", say)
        if state is None:
            say(f"no usable checkpoint in {self.out / 'checkpoints'}: starting afresh")
            return None
        self.meta.load_state_dict(state["meta_optimizer"])
        self.start = int(state["meta_step"])
        self.bad_in_a_row = int(state.get("bad_in_a_row", 0))
        # TensorBoard's step at the checkpoint; a checkpoint older than that field: recounted.
        self.log_step = int(state["log_step"] if "log_step" in state
                            else log_step_after(self.out, self.start))
        self.owed = dict(state.get("async", {}))
        redo = (f"; {len(self.owed['redo'])} task(s) not in it (in flight) are redone"
                if self.owed.get("redo") else "")
        say(f"resumed after meta-step {self.start} from {self.out / 'checkpoints'}{redo}")
        return state

    def run(self) -> dict:
        """All remaining meta-steps; returns a summary. Workers are stopped on any exit."""
        cfg = self.cfg
        asynchronous = cfg.meta.mode == "async"
        pool = (AsyncPool if asynchronous else WorkerPool)(cfg, self.runner,
                                                            resolve_num_workers(cfg))
        self.log.say(f"meta-training {cfg.name}: {cfg.meta.meta_steps} meta-steps × "
                     f"{cfg.meta.meta_batch_size} games, {pool.size} workers "
                     f"({cfg.workers.num_cpus} CPU, {cfg.workers.num_gpus} GPU each) → {self.out}"
                     + (f", asynchronous (max staleness {cfg.meta.max_staleness})"
                        if asynchronous else ""))
        last = {}
        try:
            if asynchronous:
                last = self._run_async(pool)
            else:
                last = self._run_sync(pool)
        finally:
            pool.shutdown()
            self.log.close()
        return {"meta_steps": cfg.meta.meta_steps, "out": str(self.out),
                "init": str(self.out / "init" / "encoder.pt"), **last}

    def _run_sync(self, pool: WorkerPool) -> dict:
        """The remaining meta-steps, each followed by its validation when one is due; stops
        early when validation's patience runs out."""
        last: dict = {}
        for m in range(self.start, self.cfg.meta.meta_steps):
            if self.validator is not None and self.validator.exhausted:
                self.log.say("validation.patience had run out before the resume: nothing to do")
                return {**last, "stopped_early": True}
            last = self._meta_step(m, pool)
            stop = (self.validator is not None and self.validator.due(m + 1)
                    and self.validator.validate(m + 1, self.meta.init, pool))
            if self._checkpoint_due(m + 1) or stop:
                self._checkpoint(m + 1)
            if stop:
                return {**last, "stopped_early": True, "meta_steps_done": m + 1}
        return last

    def _meta_step(self, m: int, pool: WorkerPool) -> dict:
        cfg, start = self.cfg, time.monotonic()
        pool.top_up()  # workers lost to missing capacity get another chance
        games = sample_games(cfg, m)
        assignments = [Assignment(m, t, g, task_seed(cfg, m, t), cfg.meta.steps_per_task)
                       for t, g in enumerate(games)]
        steps = cfg.meta.steps_per_task
        run = MetaStepRun(cfg, pool, assignments, ray.put(self.meta.init),
                          lambda c, v: self.log.chunk(m, games[c.task], steps, c, v))
        agg = run.run()  # cancels its running tasks itself on an error or interrupt
        return self._update(m, agg, run.records, time.monotonic() - start, pool=pool)

    def _run_async(self, pool: AsyncPool) -> dict:
        """The remaining tasks without a barrier (:mod:`leap_rl.distributed.asyncrun`): the
        tasks a checkpoint did not hold first, then those never started."""
        cfg, b = self.cfg, self.cfg.meta.meta_batch_size
        tasks = {}
        for m in range(cfg.meta.meta_steps):  # the synchronous mode's draws, numbered
            for t, g in enumerate(sample_games(cfg, m)):
                tasks[m * b + t] = Assignment(0, m * b + t, g, task_seed(cfg, m, t),
                                              cfg.meta.steps_per_task)
        owed, next_task = list(self.owed.get("redo", [])), self.owed.get("next_task", self.start * b)
        last: dict = {}

        def close(batch: Batch) -> None:
            last.update(self._update(batch.meta_step, batch, batch.records,
                                     time.monotonic() - batch.started, extra=batch.scalars(),
                                     pool=pool))
            pool.init_ref, pool.version = ray.put(self.meta.init), batch.meta_step + 1
            if self._checkpoint_due(batch.meta_step + 1):
                self._checkpoint(batch.meta_step + 1, run.redo())
            pool.top_up()  # workers lost to missing capacity get another chance

        steps = cfg.meta.steps_per_task
        run = AsyncRun(cfg, pool, self.start, close, owed=owed, next_task=next_task,
                       on_chunk=lambda c, v: self.log.chunk(
                           run.batch.meta_step, tasks[c.task].game if c.task in tasks else "?",
                           steps, c, v))
        pool.init_ref, pool.version = ray.put(self.meta.init), self.start
        StreamScheduler(cfg.workers, pool, run).run(
            [tasks[n] for n in owed] + [tasks[n] for n in range(next_task, len(tasks))])
        return last

    def _checkpoint_due(self, completed: int) -> bool:
        return completed % self.cfg.run.checkpoint_every == 0 or \
            completed == self.cfg.meta.meta_steps

    def _update(self, m: int, agg, records, seconds: float, extra=None, pool=None) -> dict:
        """θ⁰'s step on meta-step ``m``'s mean meta-gradient, by the rules of a bad meta-step;
        logs it. ``agg`` and ``records``: a synchronous meta-step's or an asynchronous batch's."""
        cfg, before = self.cfg, self.meta.init
        total, n = agg.mean_gradient(cfg.meta.balance)
        if n >= cfg.workers.min_tasks_per_meta_step:
            update = self.meta.step(self.care.gradient(total, n, before), n)
            problem = "the mean meta-gradient is not finite" if update["skipped"] else None
        else:
            update = {"grad_norm": float("nan"), "update_norm": 0.0, "skipped": True}
            failures = "; ".join(f"{r.assignment.game}: {r.error}" for r in records if r.error)
            problem = (f"only {n} task(s) contributed, fewer than workers.min_tasks_per_meta_step="
                       f"{cfg.workers.min_tasks_per_meta_step}" + (f" ({failures})" if failures else ""))
        self.bad_in_a_row = self.bad_in_a_row + 1 if problem else 0
        health, histograms = self.care.after_update(m, self.meta, before, update["skipped"])
        finals = final_dormant_scalars([(r.assignment.game, agg.tasks[r.assignment.task].stats)
                                        for r in records])
        scalars = self.log.meta_step(m, agg, records, update, seconds,
                                     bad_in_a_row=self.bad_in_a_row,
                                     extra={**(extra or {}), **health, **finals},
                                     histograms=histograms,
                                     workers=pool.members if pool is not None else 0,
                                     replaced=pool.take_replaced() if pool is not None else 0)
        if problem:
            self.log.say(f"meta-step {m + 1} skipped, θ⁰ unchanged: {problem}")
        if self.bad_in_a_row >= cfg.run.max_consecutive_bad_meta_steps:
            raise MetaTrainingError(f"{self.bad_in_a_row} meta-steps in a row without an update "
                                    f"(run.max_consecutive_bad_meta_steps); the last: {problem}")
        return scalars

    def _checkpoint(self, completed: int, owed: dict | None = None) -> None:
        """``owed``: an asynchronous run's tasks that no meta-step up to ``completed`` holds."""
        state = {"meta_optimizer": self.meta.state_dict(), "bad_in_a_row": self.bad_in_a_row,
                 "log_step": self.log.step,
                 "objective_reference": dict(self.log.objective.reference),
                 "config": self.cfg.model_dump(mode="json"),
                 "sampler": {"kind": "numpy default_rng([seed, meta_step])", "seed": self.cfg.seed},
                 **({} if owed is None else {"async": owed}),
                 **({} if self.validator is None else {"validation": self.validator.state()})}
        save_checkpoint(self.out / "checkpoints", completed, state, self.cfg.run.keep_checkpoints)
        save_init(self.out / "init" / "encoder.pt", self.meta.init,
                  architecture=self.cfg.inner.architecture,
                  observation_shape=self.observation_shape,
                  meta_step=completed, extra={"run": self.cfg.name, "pool": self.cfg.meta.pool})
