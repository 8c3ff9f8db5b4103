"""Weak scaling of meta-training: meta-step wall time on 1, 2 and 4 worker nodes.

Issue 9, item 2. A local multi-node Ray cluster (ray.cluster_utils.Cluster): a head with no
CPUs (driver only) and 4 worker nodes of 1 CPU each; a run with n workers (1 CPU each) places
one worker per node, so n = nodes in use (checked from the node ids the tasks report). Weak
scaling: the same work per worker, meta_batch_size = num_workers = n, so the ideal meta-step
time is the same for every n and the efficiency is T(1) ÷ T(n). The task is StandInTask
(leap_rl.testing), with paper-sized chunks (partial sums shaped like θ⁰, 2.7 MB), in two variants:

    cpu    fixed compute per chunk (compute_per_chunk 256×256 matmuls, calibrated here to
           --chunk-seconds on one core): bounded by the machine's cores
    sleep  the same pace as a sleep (seconds_per_chunk, compute 0): what is left is the
           framework's own overhead (dispatch, streaming 2.7 MB chunks, aggregation)

Each (variant, n) is a fresh MetaTrainer of 2 meta-steps on the same cluster; the second
meta-step is reported (the first includes actor start-up). Variants and sizes are interleaved,
order rotated per round, so drift of a shared machine hits all alike. Goal: efficiency ≥ 90%
as far as the cores allow; CPU-bound work on C cores cannot exceed min(1, C ÷ n) (C = 2 here:
≤ 50% at n = 4), less whatever else runs on the machine.

    .venv/bin/python bench/scaling.py                # ~2–3 min on 2 cores
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.90


def calibrate_matmul() -> float:
    """Seconds per 256×256 matmul (+ clamp) on one thread here: the best of a few tries."""
    import torch

    from leap_rl.testing import burn_cpu

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        burn_cpu(20)
        best = float("inf")
        for _ in range(5):
            w = time.perf_counter()
            burn_cpu(50)
            best = min(best, (time.perf_counter() - w) / 50)
        return best
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--chunks", type=int, default=4, help="chunks per task")
    parser.add_argument("--chunk-seconds", type=float, default=0.5,
                        help="work per chunk: the sleep, and the compute calibrated to it")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=["cpu", "sleep"],
                        choices=["cpu", "sleep"])
    args = parser.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    from leap_rl.config import load_config
    from leap_rl.distributed.driver import MetaTrainer
    from leap_rl.testing import StandInTask

    per_matmul = calibrate_matmul()
    compute = max(1, round(args.chunk_seconds / per_matmul))
    runners = {"cpu": StandInTask(chunks=args.chunks, compute_per_chunk=compute),
               "sleep": StandInTask(chunks=args.chunks, seconds_per_chunk=args.chunk_seconds)}
    pool = "[Pong, Freeway, Asterix, Enduro]"
    started = time.perf_counter()
    load = [os.getloadavg()[0]]
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(max(args.nodes)):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    times: dict[tuple[str, int], list[float]] = {}
    first: dict[tuple[str, int], list[float]] = {}
    nodes_used: dict[tuple[str, int], set] = {}
    combos = [(v, n) for v in args.variants for n in args.nodes]
    try:
        for r in range(args.rounds):
            order = combos[r % len(combos):] + combos[: r % len(combos)]
            for variant, n in order:
                cfg = load_config(ROOT / "configs" / "smoke.yaml", [
                    f"meta.pool={pool}", f"meta.meta_batch_size={n}", "meta.meta_steps=2",
                    f"workers.num_workers={n}", "workers.num_cpus=1", "run.checkpoint_every=1000"])
                steps = []
                with tempfile.TemporaryDirectory() as tmp:
                    trainer = MetaTrainer(cfg, tmp, runner=runners[variant],
                                          stream=open(os.devnull, "w"))
                    inner = trainer._meta_step

                    def timed(m, pool_, inner=inner, steps=steps):
                        w = time.perf_counter()
                        out = inner(m, pool_)
                        steps.append(time.perf_counter() - w)
                        return out

                    trainer._meta_step = timed
                    trainer.run()
                    rows = [json.loads(line) for line in
                            (Path(tmp) / "tasks.jsonl").read_text().splitlines()]
                if any(row["status"] != "completed" for row in rows):
                    raise RuntimeError(f"{variant} n={n}: not every task completed: {rows}")
                nodes_used.setdefault((variant, n), set()).update(
                    row["node_id"] for row in rows if row["meta_step"] == 1)
                times.setdefault((variant, n), []).append(steps[1])
                first.setdefault((variant, n), []).append(steps[0])
                load.append(os.getloadavg()[0])
                print(f"  round {r + 1} {variant:5s} n={n}: meta-step 1 {steps[0]:6.2f} s, "
                      f"meta-step 2 {steps[1]:6.2f} s", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()

    cores = os.cpu_count()
    print(f"scaling  {dt.date.today()}  {platform.node()}  {cores} cores  ray {ray.__version__}"
          f"  load avg {min(load):.2f} .. {max(load):.2f}  total {time.perf_counter() - started:.0f} s")
    print(f"  cluster: head num_cpus=0 + {max(args.nodes)} nodes × 1 CPU; worker num_cpus=1; "
          f"{args.chunks} chunks/task of θ⁰'s shape (2.7 MB); meta-step 2 of 2, median of "
          f"{args.rounds} round(s)")
    print(f"  cpu:   {compute} matmuls/chunk (calibrated {per_matmul * 1e3:.2f} ms each on one "
          f"idle-ish thread ≈ {compute * per_matmul:.2f} s/chunk)")
    print(f"  sleep: {args.chunk_seconds} s/chunk, compute 0 "
          f"(ideal meta-step ≈ {args.chunks * args.chunk_seconds:.2f} s + chunk generation)")
    print(f"  {'variant':7s} {'n':>2s} {'nodes':>5s} {'T(n) s':>8s} {'T1 s':>7s} "
          f"{'eff T(1)/T(n)':>13s} {'core limit':>10s}  verdict")
    for variant in args.variants:
        t1 = statistics.median(times[(variant, args.nodes[0])])
        for n in args.nodes:
            t = statistics.median(times[(variant, n)])
            eff = t1 / t
            limit = min(1.0, cores / n) if variant == "cpu" else 1.0
            verdict = ("OK" if eff >= GOAL else
                       f"MISSED ({eff / limit:.0%} of the core limit)" if limit < 1 else "MISSED")
            print(f"  {variant:7s} {n:2d} {len(nodes_used[(variant, n)]):5d} {t:8.2f} "
                  f"{statistics.median(first[(variant, n)]):7.2f} {eff:13.1%} {limit:10.0%}  "
                  f"{verdict}")
    print("  (T1 s = meta-step 1, with actor start-up, for reference; goal: efficiency "
          f"≥ {GOAL:.0%} where the core limit allows)")


if __name__ == "__main__":
    sys.exit(main())
