"""The trials of a sweep on Ray Tune: one placement group each, at most ``max_concurrent`` at
a time, ASHA where the runs measure a validation metric, one progress line on the console.

Tune's own loggers are off (``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS``): each trial's run writes
its own TensorBoard events. Tune keeps its state under DIR/tune (a sweep in a bucket: a local
temporary directory); the sweep's own record of each trial is its status.json (:mod:`leap_rl.sweep.status`), which resume reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from leap_rl.sweep.plan import SweepPlan
from leap_rl.sweep.resources import bundles
from leap_rl.sweep.status import read_status, write_status
from leap_rl.sweep.trial import STOPPED, run_trial


def payloads(plan: SweepPlan, scheduled: bool) -> dict[str, dict[str, Any]]:
    """What each trial's trainable needs, plain data (Tune ships it to the trial's actor)."""
    base = str(plan.spec.base)
    return {t.name: {"base": base, "overrides": [*plan.stored["overrides"], *t.overrides],
                     "settings": t.settings, "task": t.task, "metric": plan.spec.metric,
                     "mode": plan.spec.mode, "scheduled": scheduled} for t in plan.to_run}


def scheduler_for(plan: SweepPlan, say) -> Any:
    """ASHA on the spec's metric with meta-steps as time, one bracket per group of comparable
    trials (:mod:`leap_rl.sweep.brackets`: a fold's), or None (and why)."""
    from leap_rl.sweep.brackets import GroupedASHA, comparable_key

    cfg = plan.trials[0].cfg
    if plan.spec.kind != "train" or plan.spec.scheduler == "none":
        return None
    if not cfg.validation.enabled:
        say("early stopping off: validation.games is empty, so no trial measures "
            f"{plan.spec.metric} (path length is no selection metric); every trial runs to its "
            "end")
        return None
    # stop_last_trials off: a trial at its last meta-step ends by itself, "done", not "stopped".
    return GroupedASHA({t.name: comparable_key(t.cfg) for t in plan.trials},
                       time_attr="meta_step", metric=plan.spec.metric, mode=plan.spec.mode,
                       max_t=max(t.cfg.meta.meta_steps for t in plan.trials),
                       grace_period=1, reduction_factor=2, stop_last_trials=False)


def run_trials(plan: SweepPlan, *, max_concurrent: int | None = None, runner=None,
               stream: TextIO = sys.stdout) -> None:
    """Runs ``plan.to_run`` on the Ray instance this process joined; returns when all end."""
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from ray import tune

    if not plan.to_run:
        return
    say = lambda message: print(message, file=stream, flush=True)  # noqa: E731
    scheduler = scheduler_for(plan, say)
    table = payloads(plan, scheduled=scheduler is not None)
    trainable = tune.with_parameters(run_trial, payloads=table, out=str(plan.out),
                                     runner=runner)
    groups = {t.name: tune.PlacementGroupFactory(bundles(t)) for t in plan.to_run}
    trainable = tune.with_resources(trainable, lambda config: groups[config["trial"]])
    progress = Progress(plan, say)
    with _tune_storage(plan) as storage:
        _fit(tune, trainable, plan, scheduler, max_concurrent, storage, progress)
    progress.line(final=True)


@contextlib.contextmanager
def _tune_storage(plan: SweepPlan) -> Iterator[str]:
    """Where Tune keeps its own experiment state (never read back: a resume reads the trials'
    status.json): DIR/tune for a local sweep; for one in a bucket a local temporary directory,
    removed after the fit (a gs:// or s3:// path made absolute would be a local 'gs:' folder)."""
    if isinstance(plan.out, Path):
        yield os.path.abspath(str(plan.out / "tune"))
        return
    with tempfile.TemporaryDirectory(prefix="leap-rl-tune-") as local:
        yield local


def _fit(tune, trainable, plan: SweepPlan, scheduler, max_concurrent: int | None,
         storage: str, progress: Progress) -> None:
    tuner = tune.Tuner(
        trainable, param_space={"trial": tune.grid_search([t.name for t in plan.to_run])},
        tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=max_concurrent,
                                    reuse_actors=False),
        run_config=tune.RunConfig(
            name=f"run-{int(time.time())}", storage_path=storage,
            verbose=0, callbacks=[progress], failure_config=tune.FailureConfig(max_failures=0),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
    # Tune's loggers are off, so its analysis finds no result files and warns per trial; the
    # results are the trials' own (status.json, results.csv).
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    tuner.fit()


def _tune_callback_base():
    from ray.tune import Callback

    return Callback


class Progress(_tune_callback_base()):
    """The sweep's console: one line, rewritten as trials report and end."""

    def __init__(self, plan: SweepPlan, say) -> None:
        self.plan, self.say, self.started = plan, say, time.monotonic()
        self.running: set[str] = set()
        self.best: tuple[float, str] | None = None
        self.measured: dict[str, dict] = {}  # per trial: its best metric and that meta-step
        self.last = 0.0

    def __getstate__(self) -> dict:
        # Tune pickles its callbacks with the experiment's state; a console stream does not
        # pickle (and a restored state prints to stdout).
        return {**self.__dict__, "say": print}

    def on_trial_start(self, iteration, trials, trial, **info):
        self.running.add(trial.config["trial"])
        self.line()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value, name = result.get(self.plan.spec.metric), trial.config["trial"]
        if value is not None and (self.best is None or (value > self.best[0]) ==
                                  (self.plan.spec.mode == "max")):
            self.best = (float(value), name)
        known = self.measured.get(name, {}).get("metric")
        if value is not None and (known is None or (value > known) ==
                                  (self.plan.spec.mode == "max")):
            self.measured[name] = {"metric": float(value), "meta_step": result.get("meta_step")}
        if time.monotonic() - self.last > 10:
            self.line()

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._ended(trial, "stopped", STOPPED)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._ended(trial, "failed", "the trial's process ended with an error (console.log)")

    def _ended(self, trial, status: str, reason: str) -> None:
        name = trial.config["trial"]
        self.running.discard(name)
        trial_dir = self.plan.out / "trials" / name
        if read_status(trial_dir)["status"] == "running":  # the trial could not say it itself
            write_status(trial_dir, status=status, reason=reason, finished=time.time(),
                         **self.measured.get(name, {}))
        self.line()

    def line(self, final: bool = False) -> None:
        self.last = time.monotonic()
        states = [read_status(self.plan.out / "trials" / t.name)["status"]
                  for t in self.plan.trials]
        count = {s: states.count(s) for s in ("done", "stopped", "failed")}
        ended = sum(count.values())
        elapsed = time.monotonic() - self.started
        todo = len(self.plan.to_run) - sum(
            read_status(self.plan.out / "trials" / t.name)["status"] in ("done", "stopped",
                                                                          "failed")
            for t in self.plan.to_run)
        ran = len(self.plan.to_run) - todo
        eta = f"{elapsed / ran * todo / 60:.1f} min" if ran and todo else "—"
        best = f"{self.best[0]:.4g} ({self.best[1]})" if self.best else "—"
        self.say(f"sweep: {count['done']} done, {len(self.running)} running, "
                 f"{count['stopped']} stopped, {count['failed']} failed of {len(states)} "
                 f"({ended} ended)  best {best}  ETA {eta}" + ("  finished" if final else ""))
