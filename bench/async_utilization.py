"""Worker utilization and meta-updates per hour, synchronous vs asynchronous meta-training.

Issue 16, item 2. A local multi-node Ray cluster (ray.cluster_utils.Cluster): a head without
CPUs (the driver) and --nodes worker nodes of 1 CPU each; --workers worker actors with fractional
CPUs (1 × nodes ÷ workers each) spread over them. The task is StandInTask (leap_rl.testing)
paced per game: a chunk of s agent steps takes s ÷ speed seconds, the speeds standing in for the
pool's measured spread (issue 16: 1,282 agent steps/s for UpNDown to 2,511 for Bowling, median
2,121, over the 25-game pool). UpNDown and Bowling get those two figures; the other 23 games get
evenly spaced quantiles of a piecewise-linear distribution through (0, 1282), (½, 2121),
(1, 2511), assigned to games in a seeded order. The tasks sleep, so the 2 shared cores do not
limit them: the point is scheduling.

Both modes run the same tasks (the same games and seeds: the asynchronous mode numbers the
synchronous mode's draws), one after the other on the same cluster. Per mode:

    utilization   Σ task busy time ÷ (workers × wall time); a task is busy from its dispatch to
                  its stream's end as the driver sees them (dispatch latency counts as busy:
                  the worker is held); wall = first dispatch → last task's end
    steady        the same over first dispatch → last dispatch (leaves out the final drain, when
                  no task is left to hand a free worker: a cost once per run, ≈ half a task
                  per worker, which a 100-meta-step run spreads over 100 tasks per worker)
    updates/hour  meta-steps ÷ wall, at this time scale (tasks of --steps agent steps)

With --real CONFIG the tasks are the config's real games and inner learner instead (e.g. the
MinAtar pool at a small budget); the stand-in speeds and the model line are then left out.

    .venv/bin/python bench/async_utilization.py          # ~3-4 min on 2 cores
    .venv/bin/python bench/async_utilization.py --real configs/minatar.yaml --nodes 3 \
        --workers 3 --meta-steps 6 --steps 20000         # real MinAtar games, ~3 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.97
SLOWEST, FASTEST, MEDIAN = ("UpNDown", 1282.0), ("Bowling", 2511.0), 2121.0


def game_speeds(pool: list[str], seed: int) -> dict[str, float]:
    """Stand-in agent steps/s per game (see the module docstring)."""
    others = [g for g in pool if g not in (SLOWEST[0], FASTEST[0])]
    u = (np.arange(len(others)) + 0.5) / len(others)
    speeds = np.interp(u, [0.0, 0.5, 1.0], [SLOWEST[1], MEDIAN, FASTEST[1]])
    order = np.random.default_rng(seed).permutation(len(others))
    table = {others[i]: float(speeds[j]) for j, i in enumerate(order)}
    return {**table, SLOWEST[0]: SLOWEST[1], FASTEST[0]: FASTEST[1]}


class BusyClock:
    """Each job's (dispatch, end) times, recorded by wrapping a Handler class's methods."""

    def __init__(self) -> None:
        self.open: dict[int, float] = {}
        self.intervals: list[tuple[float, float]] = []

    def wrap(self, handler_cls) -> None:
        dispatched, ended, failed = (handler_cls.dispatched, handler_cls.ended,
                                     handler_cls.failed)
        clock = self

        def on_dispatched(self, job):
            clock.open[id(job)] = time.monotonic()
            return dispatched(self, job)

        def on_ended(self, job):
            clock.close(job)
            return ended(self, job)

        def on_failed(self, job, error, retrying):
            clock.close(job)
            return failed(self, job, error, retrying)

        handler_cls.dispatched, handler_cls.ended, handler_cls.failed = (
            on_dispatched, on_ended, on_failed)

    def close(self, job) -> None:
        if id(job) in self.open:
            self.intervals.append((self.open.pop(id(job)), time.monotonic()))


def wait_for_workers(pool_cls) -> None:
    """A new pool returns once all its workers run: actor start-up (seconds each on a loaded
    2-core machine) is then outside every task's busy time and the wall time, for both modes."""
    import ray

    post_init = pool_cls.__post_init__

    def started(self):
        post_init(self)
        ray.get(list(self._placed.values()), timeout=300)

    pool_cls.__post_init__ = started


def utilization(intervals: list[tuple[float, float]], workers: int) -> dict[str, float]:
    """Whole-run and steady utilization (see the module docstring)."""
    first, last_end = min(s for s, _ in intervals), max(e for _, e in intervals)
    last_dispatch = max(s for s, _ in intervals)
    busy = sum(e - s for s, e in intervals)
    steady = sum(max(0.0, min(e, last_dispatch) - s) for s, e in intervals)
    return {"wall": last_end - first, "utilization": busy / (workers * (last_end - first)),
            "steady": steady / (workers * max(last_dispatch - first, 1e-9))}


def model_sync_utilization(rows: list[dict], speeds: dict[str, float]) -> float:
    """What a barrier costs for these draws if every task took exactly steps ÷ speed and the
    batch fits the workers: mean task time ÷ mean of each meta-step's slowest."""
    steps: dict[int, list[float]] = {}
    for r in rows:
        steps.setdefault(r["meta_step"], []).append(r["budget"] / speeds[r["game"]])
    return statistics.mean(t for ts in steps.values() for t in ts) / statistics.mean(
        max(ts) for ts in steps.values())


def run_mode(mode: str, args, runner, clock: BusyClock) -> dict:
    from leap_rl.config import load_config
    from leap_rl.distributed.driver import MetaTrainer

    pool = [] if args.real else ["meta.pool=" + json.dumps(args.pool)]
    cfg = load_config(args.real or ROOT / "configs" / "smoke.yaml", [
        *pool, f"meta.meta_batch_size={args.workers}",
        f"meta.meta_steps={args.meta_steps}", f"meta.steps_per_task={args.steps}",
        f"meta.mode={mode}", f"workers.num_workers={args.workers}",
        f"workers.num_cpus={args.nodes / args.workers:g}", "run.checkpoint_every=100000"])
    clock.intervals.clear()
    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as quiet:
        MetaTrainer(cfg, tmp, runner=runner, stream=quiet).run()
        rows = [json.loads(line) for line in (Path(tmp) / "tasks.jsonl").read_text().splitlines()]
    if any(r["status"] != "completed" for r in rows):
        raise RuntimeError(f"{mode}: not every task completed")
    result = utilization(clock.intervals, args.workers)
    result["updates_per_hour"] = args.meta_steps / result["wall"] * 3600
    result["nodes"] = len({r["node_id"] for r in rows})
    result["rows"] = rows
    return result


def main() -> None:
    from leap_rl.envs import PRETRAINING_POOL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=16, help="= meta_batch_size")
    parser.add_argument("--meta-steps", type=int, default=24)
    parser.add_argument("--steps", type=int, default=4000, help="agent steps per task")
    parser.add_argument("--chunks", type=int, default=4, help="chunks per task")
    parser.add_argument("--seed", type=int, default=0, help="which game gets which speed")
    parser.add_argument("--real", metavar="CONFIG", help="real games and learner of CONFIG")
    args = parser.parse_args()
    args.pool = list(PRETRAINING_POOL)

    import ray
    from ray.cluster_utils import Cluster

    from leap_rl.distributed.asyncrun import AsyncRun
    from leap_rl.distributed.metastep import MetaStepRun, WorkerPool
    from leap_rl.testing import StandInTask

    speeds = game_speeds(args.pool, args.seed)
    runner = None if args.real else StandInTask(chunks=args.chunks,
                                                agent_steps_per_second=tuple(speeds.items()))
    clock = BusyClock()
    clock.wrap(MetaStepRun)
    clock.wrap(AsyncRun)
    wait_for_workers(WorkerPool)
    started, load = time.perf_counter(), [os.getloadavg()[0]]
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(args.nodes):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    results = {}
    try:
        for mode in ("sync", "async"):
            results[mode] = run_mode(mode, args, runner, clock)
            load.append(os.getloadavg()[0])
            print(f"  {mode}: {results[mode]['wall']:.1f} s", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    report(args, speeds, results, load, time.perf_counter() - started)


def report(args, speeds, results, load, total) -> None:
    import ray

    print(f"async_utilization  {time.strftime('%Y-%m-%d')}  {platform.node()}  "
          f"{os.cpu_count()} cores  ray {ray.__version__}  load avg {min(load):.2f} .. "
          f"{max(load):.2f}  total {total:.0f} s")
    print(f"  cluster: head num_cpus=0 + {args.nodes} nodes × 1 CPU; {args.workers} workers × "
          f"{args.nodes / args.workers:g} CPU; meta_batch_size {args.workers}, "
          f"{args.meta_steps} meta-steps, {args.steps} agent steps/task"
          + ("" if args.real else f" in {args.chunks} chunks"))
    task = [args.steps / s for s in speeds.values()]
    if args.real:
        games = sorted({r["game"] for r in results["sync"]["rows"]})
        print(f"  real tasks: {args.real}, games {', '.join(games)}")
    else:
        print(f"  stand-in speeds: {min(speeds.values()):.0f} .. {max(speeds.values()):.0f} "
              f"agent steps/s, median {statistics.median(speeds.values()):.0f} (25 games): "
              f"tasks {min(task):.2f} .. {max(task):.2f} s")
    print(f"  {'mode':5s} {'wall s':>7s} {'utilization':>11s} {'steady':>7s} "
          f"{'updates/h':>9s} {'nodes':>5s}")
    for mode, r in results.items():
        print(f"  {mode:5s} {r['wall']:7.1f} {r['utilization']:11.1%} {r['steady']:7.1%} "
              f"{r['updates_per_hour']:9.0f} {r['nodes']:5d}")
    rows = results["async"]["rows"]
    stale = [r["staleness"] for r in rows]
    print(f"  async staleness: mean {statistics.mean(stale):.2f}, max {max(stale)}, "
          f"histogram {dict(sorted({s: stale.count(s) for s in set(stale)}.items()))}, "
          f"dropped {sum(r['status'] == 'dropped' for r in rows)}")
    if not args.real:
        print(f"  sync, modelled (mean task ÷ mean slowest of each meta-step, these draws): "
              f"{model_sync_utilization(results['sync']['rows'], speeds):.1%}")
    a, s = results["async"], results["sync"]
    print(f"  async ÷ sync updates/hour: {a['updates_per_hour'] / s['updates_per_hour']:.2f}; "
          f"goal: async utilization ≥ {GOAL:.0%}: "
          f"{'OK' if a['utilization'] >= GOAL else 'MISSED'} (whole run), "
          f"{'OK' if a['steady'] >= GOAL else 'MISSED'} (steady)")


if __name__ == "__main__":
    sys.exit(main())
