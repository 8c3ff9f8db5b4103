"""A sweep from its plan to its tables, on the Ray instance this process joined."""

from __future__ import annotations

import sys
from typing import TextIO

from leap_rl.sweep.plan import SweepPlan, write_spec
from leap_rl.sweep.resources import check_fits
from leap_rl.sweep.results import write_results
from leap_rl.sweep.tune_run import run_trials


def run_sweep(plan: SweepPlan, *, max_concurrent: int | None = None, runner=None,
              stream: TextIO = sys.stdout) -> dict[str, int]:
    """Checks every trial fits the cluster (SweepError otherwise, before any trial runs), runs
    the plan's trials, writes the tables; returns the count of trials per status.
    ``runner``: the meta-training task runner (tests pass a stand-in)."""
    import ray

    from leap_rl.sweep.status import read_status

    check_fits(plan.trials, ray.cluster_resources())
    write_spec(plan)
    say = lambda message: print(message, file=stream, flush=True)  # noqa: E731
    done = len(plan.trials) - len(plan.to_run)
    say(f"sweep {plan.out}: {len(plan.to_run)} trial(s) to run"
        + (f", {done} already finished (not run again)" if done else ""))
    run_trials(plan, max_concurrent=max_concurrent, runner=runner, stream=stream)
    write_results(plan, say)
    states = [read_status(plan.out / "trials" / t.name)["status"] for t in plan.trials]
    return {s: states.count(s) for s in set(states)}
