"""One trial of a sweep, as Ray Tune runs it: an ordinary run directory, written as
``leap-rl train --out`` (or ``train-task --out``) writes it, its console in ``console.log``.

A meta-training trial always starts through :func:`leap_rl.distributed.rundir.plan_start` with
``resume_if_exists``: a new trial starts afresh, one the sweep was killed under continues from
its last checkpoint (``train --resume``'s rules). Its metric goes to Tune once per meta-step
where the run measures it (:class:`TuneSink`, a :class:`ScalarSink` of the run: no change to
the driver).
"""

from __future__ import annotations

import contextlib
import io
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leap_rl.io.provenance import write_provenance
from leap_rl.io.storage import RemotePath, append_text, location
from leap_rl.sweep.status import read_status, write_status

META_STEP = "workers/meta_step"
# A train-task trial reports every 100 updates, the pool pilot's cadence (docs/results.md): its
# AUC is the mean of the 50-episode moving average at each report.
PILOT_REPORT_EVERY = 100
TASK_MEASURES = ("auc", "final_return", "encoder_drift")
STOPPED = "early-stopped by ASHA (its arm fell behind)"


class TuneSink:
    """Forwards a run's meta-step scalars to Tune: ``meta_step`` and, where measured, the
    metric (every meta-step when ``always``: a sweep without a metric still shows progress).
    The metric arrives in scalars of its own after its meta-step's (the driver validates after
    the meta-step's update), so it is reported at the meta-step last seen."""

    def __init__(self, metric: str, report, always: bool) -> None:
        self.metric, self.report, self.always = metric, report, always
        self.meta_step: int | None = None

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        if META_STEP in values:
            self.meta_step = int(values[META_STEP])
        elif self.metric not in values or self.meta_step is None:
            return  # an episode curve's point, not a meta-step's end nor a measurement
        result = {"meta_step": self.meta_step, "agent_steps": step}
        if self.metric in values:  # a validation's, after its meta-step's scalars
            result[self.metric] = float(values[self.metric])
        elif not self.always:
            return  # the scheduler compares trials only on measured values
        self.report(result)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def run_trial(config: dict[str, Any], *, payloads: dict[str, dict], out: str,
              runner=None) -> None:
    """Tune's function trainable: trains trial ``config["trial"]`` into DIR/trials/<name>/."""
    from ray import tune

    payload = payloads[config["trial"]]
    trial_dir = location(out) / "trials" / config["trial"]
    attempts = read_status(trial_dir)["attempts"] + 1
    write_status(trial_dir, status="running", attempts=attempts, settings=payload["settings"],
                 started=time.time(), reason=None)
    write_provenance(trial_dir)
    best: dict[str, Any] = {}
    with _console(trial_dir) as stream, contextlib.redirect_stdout(stream):
        try:
            result = (_train_task(payload, trial_dir, stream) if payload["task"] else
                      _meta_train(payload, trial_dir, stream, runner, tune.report, best))
        except SystemExit as err:
            if err.code not in (0, None):
                _failed(err, trial_dir, stream)
                raise
            # Tune ends a trial its scheduler stopped by SystemExit(0) inside tune.report.
            print(f"stopped by the scheduler after meta-step {best.get('meta_step')}",
                  file=stream)
            write_status(trial_dir, status="stopped", finished=time.time(), **best,
                         reason=STOPPED)
            raise
        except BaseException as err:
            _failed(err, trial_dir, stream)
            raise
    write_status(trial_dir, status="done", finished=time.time(), **result)
    if payload["task"]:  # one result at its end: Tune's record that the trial ran
        tune.report({"meta_step": 1, **({payload["metric"]: result["metric"]}
                                        if "metric" in result else {})})


def _meta_train(payload, trial_dir, stream, runner, report, best: dict) -> dict[str, Any]:
    """Trains the trial's run; ``best``: its best metric and that meta-step, kept current."""
    import torch

    from leap_rl.distributed.driver import MetaTrainer
    from leap_rl.distributed.rundir import begin_run, plan_start

    torch.set_num_threads(1)  # as `leap-rl train`: the driver's work is small adds
    start = plan_start(payload["base"], payload["overrides"], out=str(trial_dir),
                       resume_if_exists=True)
    print(start.describe(), file=stream, flush=True)
    begin_run(start)
    sink = TuneSink(payload["metric"], report, always=not payload["scheduled"])

    def remember(result: dict) -> None:
        if payload["metric"] in result and _better(result[payload["metric"]],
                                                   best.get("metric"), payload["mode"]):
            best.update(metric=result[payload["metric"]], meta_step=result["meta_step"])
        report(result)

    sink.report = remember
    MetaTrainer(start.cfg, trial_dir, runner=runner, stream=stream, resume=start.resume,
                sinks=[sink]).run()
    return best


def _train_task(payload, trial_dir, stream) -> dict[str, Any]:
    from leap_rl.backends.base import backend_for
    from leap_rl.config import load_config

    cfg = load_config(payload["base"], payload["overrides"])
    task = payload["task"]
    init = None if task.get("init", "random") == "random" else task["init"]
    summary = backend_for(cfg).train_task(task["game"], int(task["steps"]), cfg, out=trial_dir,
                                          seed=cfg.seed, init_path=init, leap=True,
                                          report_every=PILOT_REPORT_EVERY, stream=stream)
    value = summary.get(payload["metric"])
    measures = {k: summary[k] for k in TASK_MEASURES if k in summary}
    return {"metric": value, "meta_step": None, **measures} if value is not None else measures


def _failed(err: BaseException, trial_dir, stream) -> None:
    traceback.print_exc(file=stream)
    write_status(trial_dir, status="failed", reason=_one_line(err))


def _better(value: float, best: float | None, mode: str) -> bool:
    return best is None or (value > best if mode == "max" else value < best)


def _one_line(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())[:300]


@contextlib.contextmanager
def _console(trial_dir):
    """``console.log`` in the trial's directory (appended: a resumed trial keeps its past);
    in a bucket, collected and uploaded when the trial ends."""
    if isinstance(trial_dir, RemotePath):
        buffer = io.StringIO()
        try:
            yield buffer
        finally:
            append_text(trial_dir / "console.log", buffer.getvalue())
        return
    with open(Path(trial_dir) / "console.log", "a", buffering=1) as handle:
        yield handle
