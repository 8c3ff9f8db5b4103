"""What does ``leap-rl sweep`` add per trial, next to the trials' own run time? (issue 22)

A sweep of ``--trials`` seeds of ``configs/smoke.yaml`` (real training, ``workers.num_cpus=0.5``)
runs on a private local Ray instance, ``--max-concurrent`` trials at a time (default 1: then the
sweep's wall time is its trials' times plus its own). Per trial, the trial function's time is
``finished − started`` in its status.json: the ordinary run (``leap-rl train``'s work, its worker
start included) plus the trial's own bookkeeping (status, provenance, console). Prints:

    sweep wall      plan_sweep + run_sweep (trials, Tune, placement groups, results tables)
    trials          Σ of the trial functions' times
    overhead        (sweep wall − trials) ÷ trials run: Tune's scheduling, the trial's actor and
                    placement group, the tables — what the sweep adds per trial, against the
                    goal of ≤ 5% of a 2-minute trial (6 s)
    bookkeeping     write_provenance alone (git and package versions, inside each trial's time)

Not a test: ``.venv/bin/python bench/sweep_overhead.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
TWO_MINUTES = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--max-concurrent", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="more overrides of configs/smoke.yaml")
    args = parser.parse_args()
    import ray

    from leap_rl.io.provenance import write_provenance
    from leap_rl.sweep.plan import plan_sweep
    from leap_rl.sweep.run import run_sweep
    from leap_rl.sweep.status import read_status

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(yaml.safe_dump({"base": str(ROOT / "configs" / "smoke.yaml"),
                                        "axes": {"seed": list(range(args.trials))}}))
        start = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        ray_s = time.perf_counter() - start
        start = time.perf_counter()
        plan = plan_sweep(str(spec), str(Path(tmp) / "sweep"),
                          ["workers.num_cpus=0.5", *args.set])
        counts = run_sweep(plan, max_concurrent=args.max_concurrent, stream=io.StringIO())
        wall = time.perf_counter() - start
        times = []
        for trial in plan.trials:
            record = read_status(plan.out / "trials" / trial.name)
            times.append(record["finished"] - record["started"])
        provenance = []
        for _ in range(5):
            t = time.perf_counter()
            write_provenance(Path(tmp))
            provenance.append(time.perf_counter() - t)
        ray.shutdown()
    overhead = (wall - sum(times)) / len(times) if args.max_concurrent == 1 else None
    report = {"counts": counts, "ray_init_s": round(ray_s, 2), "sweep_wall_s": round(wall, 2),
              "trial_s": [round(t, 2) for t in times], "trials_s": round(sum(times), 2),
              "overhead_per_trial_s": None if overhead is None else round(overhead, 2),
              "provenance_s_median": round(statistics.median(provenance), 3),
              "load_avg_before": [round(x, 2) for x in load],
              "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(report, indent=2))
    if overhead is not None:
        mean = sum(times) / len(times)
        print(f"overhead {overhead:.2f} s per trial = {100 * overhead / TWO_MINUTES:.1f}% of a "
              f"2-minute trial ({100 * overhead / mean:.1f}% of these {mean:.1f} s trials); "
              f"goal ≤ 5% of 2 minutes")


if __name__ == "__main__":
    main()
