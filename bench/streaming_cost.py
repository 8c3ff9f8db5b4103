"""What does streaming partial meta-gradients cost: bytes per task, and the driver's time?

Issue 9, item 1. Two parts, one run:

  A. Size. A real :class:`Chunk` carrying a partial sum shaped like the paper's θ⁰ (the
     Mnih et al. 2013 encoder on 84×84×3, 675,120 float32) is serialized with Ray's own
     serializer (what the object store holds) and with pickle. Bytes sent per task per
     meta-step = chunks per task × that size, chunks per task = ⌈updates ÷ flush_every⌉ with
     updates = steps_per_task ÷ (num_envs × unroll_length) (paper: ⌈31,250 ÷ 200⌉ = 157).

  B. Driver time. MetaTrainer runs on a local Ray instance with StandInTask streaming
     paper-sized chunks at a set pace. The driver is instrumented in place (no production code
     changes): StreamScheduler._receive (the whole per-chunk path: next(stream), ray.get, the
     aggregator, the run log), the ray.get inside it, MetaStepAggregator.add and RunLog.chunk
     are timed (wall and main-thread CPU). Per-chunk driver cost = _receive per delivered chunk.
     Measured fraction of the stand-in run = Σ _receive ÷ meta-step wall time (also the driver's
     main-thread CPU ÷ wall, which covers everything the driver thread did: dispatch, ray.wait).

Paper-scale fraction = per-chunk cost × chunk arrival rate, arrival rate = 16 tasks ×
steps/s ÷ (flush_every × 160 agent steps per update); at 1,000 agent steps/s per task (the CPU
figure) and 5,000 (GPU-like). Goal ≤ 1%. The end-of-meta-step work (mean over 16 tasks, Adam
on θ⁰) is timed too and set against the meta-step's length (5M steps ÷ steps/s).

On a shared machine the wall figures include preemption; main-thread CPU time does not, so it
is the better estimate of the cost on idle cores. Both are printed.

Which function measures what the report prints: A's lines come from ``chunk_sizes``,
``deserialization_times`` and ``aggregator_add_time``; B's from ``driver_run``; C's are B's
per-chunk cost times the paper-scale arrival rate, and ``end_of_meta_step_time``.

    .venv/bin/python bench/streaming_cost.py                # ~1 min on 2 cores
    .venv/bin/python bench/streaming_cost.py --zero-copy    # RAY_ENABLE_ZERO_COPY_TORCH_TENSORS=1
    .venv/bin/python bench/streaming_cost.py --driver-threads 0   # torch's default threads
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.01


class Timer:
    """Wraps a callable; records wall and thread-CPU seconds of every call."""

    def __init__(self, fn) -> None:
        self.fn, self.wall, self.cpu = fn, [], []

    def __call__(self, *a, **kw):
        w, c = time.perf_counter(), time.thread_time()
        try:
            return self.fn(*a, **kw)
        finally:
            self.wall.append(time.perf_counter() - w)
            self.cpu.append(time.thread_time() - c)


class TimedRay:
    """Stands in for the ``ray`` module inside scheduler.py: ``get`` timed, the rest as is."""

    def __init__(self, ray) -> None:
        self._ray, self.get = ray, Timer(ray.get)

    def __getattr__(self, name):
        return getattr(self._ray, name)


def ms(x: float) -> str:
    return f"{x * 1e3:.2f} ms"


def stats(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    return (f"mean {ms(statistics.fmean(xs))}  median {ms(statistics.median(xs))}  "
            f"p90 {ms(sorted(xs)[int(0.9 * (len(xs) - 1))])}  n={len(xs)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker actors (= tasks per "
                        "meta-step) in the stand-in run")
    parser.add_argument("--chunks", type=int, default=25, help="chunks per stand-in task")
    parser.add_argument("--seconds-per-chunk", type=float, default=0.25,
                        help="stand-in pace: sleep per chunk in each worker")
    parser.add_argument("--meta-steps", type=int, default=2)
    parser.add_argument("--flush-every", type=int, default=200, help="paper: 200 updates")
    parser.add_argument("--steps-per-task", type=int, default=5_000_000, help="paper: 5M")
    parser.add_argument("--tasks", type=int, default=16, help="paper: 16 tasks per meta-step")
    parser.add_argument("--rates", type=float, nargs="+", default=[1000.0, 5000.0],
                        help="inner agent steps/s per task for the paper-scale fraction")
    parser.add_argument("--zero-copy", action="store_true",
                        help="set RAY_ENABLE_ZERO_COPY_TORCH_TENSORS=1 (before Ray starts)")
    parser.add_argument("--driver-threads", type=int, default=1,
                        help="torch threads in the driver (1, as `leap-rl train` sets; "
                        "0 = torch's default)")
    return parser.parse_args()


# ---- A. size and per-chunk costs of one real chunk, each measured alone ---------------------

def chunk_sizes(ray, chunk, init) -> dict[str, int]:
    """Bytes of one chunk as Ray serializes it and as pickle-5 does, and of θ⁰'s raw tensors."""
    ctx = ray._private.worker.global_worker.get_serialization_context()
    return {"ray": ctx.serialize(chunk).total_bytes,
            "pickle": len(pickle.dumps(chunk, protocol=5)),
            "raw": sum(v.numel() * v.element_size() for v in init.values())}


def deserialization_times(ray, chunk) -> dict[str, float]:
    """Median ray.get of a chunk already in the object store (the driver's share of a
    transfer): torch tensors as sent today vs the same sums as numpy arrays (which Ray reads
    zero-copy from the store). Best of two rounds of 15."""
    from leap_rl.distributed.protocol import Chunk

    as_numpy = Chunk(0, 0, 0, 0, dataclasses.replace(
        chunk.progress, gradient={k: v.numpy() for k, v in chunk.progress.gradient.items()}),
        "node", 1)
    get_times = {}
    for name, obj in (("torch", chunk), ("numpy", as_numpy)) * 2:
        ref, times = ray.put(obj), []
        for _ in range(15):
            w = time.perf_counter()
            ray.get(ref)
            times.append(time.perf_counter() - w)
        get_times[name] = min(get_times.get(name, 1.0), statistics.median(times))
        del ref
    return get_times


def aggregator_add_time(ray, chunk) -> float:
    """Median MetaStepAggregator.add of a real chunk (fresh tensors, as the driver gets them),
    the aggregator alone; best of two rounds of 15."""
    from leap_rl.distributed.aggregator import MetaStepAggregator
    from leap_rl.distributed.protocol import Chunk

    chunks = [Chunk(0, 0, seq, 0, dataclasses.replace(chunk.progress, gradient={
        k: v + seq for k, v in chunk.progress.gradient.items()}), "node", 1)
        for seq in range(16)]
    refs, best = [ray.put(c) for c in chunks], 1.0
    for _ in range(2):
        agg, times = MetaStepAggregator(0, 1), []
        agg.add(chunks[0])
        for ref in refs[1:]:
            c = ray.get(ref)
            w = time.perf_counter()
            assert agg.add(c) == "accepted"
            times.append(time.perf_counter() - w)
        best = min(best, statistics.median(times))
    return best


def check_finite_verdicts(chunk) -> None:
    """inf/NaN chunks are refused; finite values whose float32 sum overflows are accepted (the
    elementwise fallback after a non-finite sum). A check, not a measurement: it prints nothing."""
    from leap_rl.distributed.aggregator import MetaStepAggregator
    from leap_rl.distributed.protocol import Chunk

    for value, verdict in ((float("nan"), "nonfinite"), (float("inf"), "nonfinite"),
                           (3e38, "accepted")):
        g = {k: v.clone() for k, v in chunk.progress.gradient.items()}
        next(iter(g.values())).view(-1)[:2] = value
        probe = Chunk(0, 0, 1, 0, dataclasses.replace(chunk.progress, gradient=g), "node", 1)
        assert MetaStepAggregator(0, 1).add(probe) == verdict, value


# ---- B. the driver's per-chunk cost, instrumented in a stand-in meta-training run ------------

@dataclasses.dataclass
class DriverRun:
    """Timers of one stand-in run: per _receive call (``delivered``: did it deliver a chunk),
    the ray.get inside it, the aggregator's add, the run log's chunk, and each meta-step."""

    receive: Timer
    ray_get: Timer
    add: Timer
    log_chunk: Timer
    delivered: list[bool]
    steps: list[dict]
    total_wall: float


def driver_run(ray, cfg, stand_in) -> DriverRun:
    """Runs MetaTrainer on ``stand_in`` with the driver's per-chunk path timed in place (no
    production code changes): StreamScheduler._receive, the ray.get inside it, MetaStepAggregator.add
    and RunLog.chunk, and each meta-step's wall, main-thread CPU and process CPU."""
    import leap_rl.distributed.scheduler as scheduler
    from leap_rl.distributed.aggregator import MetaStepAggregator
    from leap_rl.distributed.driver import MetaTrainer

    timed_ray = TimedRay(ray)
    scheduler.ray = timed_ray
    receive = Timer(scheduler.StreamScheduler._receive)
    scheduler.StreamScheduler._receive = lambda self, job: receive(self, job)
    add = Timer(MetaStepAggregator.add)
    MetaStepAggregator.add = lambda self, c: add(self, c)
    delivered, steps = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = MetaTrainer(cfg, tmp, runner=stand_in, stream=open(os.devnull, "w"))
            log_chunk = Timer(trainer.log.chunk)
            trainer.log.chunk = log_chunk
            inner_step = trainer._meta_step

            def meta_step(m, pool):
                first = len(receive.wall)
                w, c, p = time.perf_counter(), time.thread_time(), time.process_time()
                out = inner_step(m, pool)
                wall = time.perf_counter() - w
                steps.append({"wall": wall, "thread": time.thread_time() - c,
                              "process": time.process_time() - p,
                              "recv": range(first, len(receive.wall))})
                return out

            # A delivered chunk is a _receive call during which add() ran.
            real_receive = receive.fn

            def receive_marking(self, job):
                before = len(add.wall)
                try:
                    return real_receive(self, job)
                finally:
                    delivered.append(len(add.wall) > before)

            receive.fn = receive_marking
            trainer._meta_step = meta_step
            t0 = time.perf_counter()
            trainer.run()
            total_wall = time.perf_counter() - t0
    finally:
        MetaStepAggregator.add = add.fn
    return DriverRun(receive, timed_ray.get, add, log_chunk, delivered, steps, total_wall)


def end_of_meta_step_time(chunk, init, tasks: int) -> float:
    """Seconds of the end of a paper-scale meta-step: the mean over ``tasks`` tasks' sums and
    one Adam step on θ⁰."""
    from leap_rl.core.meta_optimizer import MetaOptimizer
    from leap_rl.distributed.aggregator import MetaStepAggregator
    from leap_rl.distributed.protocol import Chunk

    agg = MetaStepAggregator(0, tasks)
    for t in range(tasks):
        agg.add(Chunk(0, t, 0, 0, chunk.progress, "node", 1))
    opt = MetaOptimizer(init, lr=1e-3, betas=(0.9, 0.999))
    w = time.perf_counter()
    total, n = agg.mean_gradient()
    opt.step(total, n)
    return time.perf_counter() - w


# ---- the report: A, B and C, in that order ------------------------------------------------

def report_size(args, init, obs_shape, sizes, get_times, add_time, paper) -> int:
    """Part A's lines; returns the chunks per task per meta-step at paper scale."""
    import torch

    numel = sum(v.numel() for v in init.values())
    print("A. bytes streamed (paper: configs/paper.yaml)")
    print(f"  θ⁰: {len(init)} tensors, {numel:,} float32 = {sizes['raw'] / 1e6:.3f} MB raw "
          f"(observation {obs_shape})")
    print(f"  one Chunk serialized: Ray {sizes['ray'] / 1e6:.3f} MB, pickle-5 "
          f"{sizes['pickle'] / 1e6:.3f} MB (envelope {sizes['ray'] - sizes['raw']:,} B over raw)")
    print(f"  ray.get of a stored chunk (deserialization only, median): torch tensors "
          f"{ms(get_times['torch'])}, as numpy arrays {ms(get_times['numpy'])}")
    print(f"  MetaStepAggregator.add per chunk (median, aggregator alone): "
          f"{ms(add_time)}  torch threads in the driver: {torch.get_num_threads()}")
    per_update = paper.inner.num_envs * paper.inner.unroll_length
    updates = math.ceil(args.steps_per_task / per_update)
    chunks_per_task = math.ceil(updates / args.flush_every)
    print(f"  chunks per task per meta-step: ⌈{args.steps_per_task:,} steps ÷ {per_update} = "
          f"{updates:,} updates ÷ flush_every {args.flush_every}⌉ = {chunks_per_task}")
    per_task = chunks_per_task * sizes["ray"]
    print(f"  bytes per task per meta-step: {chunks_per_task} × {sizes['ray'] / 1e6:.3f} MB = "
          f"{per_task / 1e6:.1f} MB;  × {args.tasks} tasks = {args.tasks * per_task / 1e9:.2f} GB"
          " into the driver per meta-step")
    return chunks_per_task


def report_driver(args, run: DriverRun) -> tuple[float, float]:
    """Part B's lines; returns the mean per-delivered-chunk cost (wall, CPU)."""
    deliv = [i for i, d in enumerate(run.delivered) if d]
    recv_wall = [run.receive.wall[i] for i in deliv]
    recv_cpu = [run.receive.cpu[i] for i in deliv]
    print(f"B. driver cost, stand-in run: {args.workers} workers × {args.chunks} chunks/task, "
          f"sleep {args.seconds_per_chunk} s/chunk, {args.meta_steps} meta-steps, "
          f"total {run.total_wall:.1f} s")
    print(f"  per delivered chunk, _receive (next + ray.get + add + run log), wall: "
          f"{stats(recv_wall)}")
    print(f"  per delivered chunk, _receive, main-thread CPU:                   "
          f"{stats(recv_cpu)}")
    # ray.get is called once per _receive (the last call, StopIteration, raises before it).
    print(f"    of which ray.get (wall):           {stats(run.ray_get.wall[:len(deliv)])}")
    print(f"    of which aggregator.add (wall):    {stats(run.add.wall)}")
    print(f"    of which aggregator.add (CPU):     {stats(run.add.cpu)}")
    print(f"    of which RunLog.chunk (wall):      {stats(run.log_chunk.wall)}")
    for m, s in enumerate(run.steps):
        idx = [i for i in s["recv"] if run.delivered[i]]
        busy = sum(run.receive.wall[i] for i in idx)
        busy_cpu = sum(run.receive.cpu[i] for i in idx)
        rate = len(idx) / s["wall"]
        print(f"  meta-step {m + 1}: wall {s['wall']:.2f} s, {len(idx)} chunks "
              f"({rate:.1f} chunks/s): Σ_receive wall {busy:.3f} s = {busy / s['wall']:.2%}, "
              f"CPU {busy_cpu / s['wall']:.2%};  driver main thread CPU "
              f"{s['thread'] / s['wall']:.2%}, driver process CPU {s['process'] / s['wall']:.2%}")
    return statistics.fmean(recv_wall), statistics.fmean(recv_cpu)


def report_paper_scale(args, per_update: int, ray_bytes: int, cost: tuple[float, float],
                       end_cost: float) -> None:
    """Part C's lines: the per-chunk cost times the paper-scale chunk arrival rate, per rate."""
    c_wall, c_cpu = cost
    print(f"C. paper scale: {args.tasks} concurrent tasks, a chunk per task every "
          f"{args.flush_every} × {per_update} = {args.flush_every * per_update:,} agent steps; "
          f"per-chunk cost {ms(c_wall)} wall (mean), {ms(c_cpu)} CPU (mean)")
    for sps in args.rates:
        rate = args.tasks * sps / (args.flush_every * per_update)
        step_s = args.steps_per_task / sps
        for label, c in (("wall", c_wall), ("CPU", c_cpu)):
            frac = c * rate
            print(f"  {sps:6,.0f} steps/s/task: {rate:.2f} chunks/s "
                  f"({rate * ray_bytes / 1e6:.1f} MB/s in) × {ms(c)} ({label}) = {frac:.3%} of "
                  f"driver time  goal ≤ {GOAL:.0%}  {'OK' if frac <= GOAL else 'MISSED'}")
        print(f"  {'':6s}  end of meta-step (mean of {args.tasks} + Adam): {ms(end_cost)} of a "
              f"{step_s:,.0f} s meta-step = {end_cost / step_s:.1e}")


def main() -> None:
    args = parse_args()
    if args.zero_copy:
        os.environ["RAY_ENABLE_ZERO_COPY_TORCH_TENSORS"] = "1"

    import ray
    import torch

    from leap_rl.config import load_config
    from leap_rl.distributed.driver import initial_init
    from leap_rl.distributed.protocol import Assignment, Chunk
    from leap_rl.testing import StandInTask

    if args.driver_threads:
        torch.set_num_threads(args.driver_threads)
    paper = load_config(ROOT / "configs" / "paper.yaml")
    cfg = load_config(ROOT / "configs" / "smoke.yaml", [
        "meta.pool=[Pong, Freeway, Asterix, Enduro]", f"meta.meta_steps={args.meta_steps}",
        f"meta.meta_batch_size={args.workers}", f"workers.num_workers={args.workers}",
        "workers.num_cpus=1", f"workers.flush_every={args.flush_every}",
        "run.checkpoint_every=1000"])
    # The stand-in's partial sums are shaped like θ⁰; smoke.yaml keeps the paper's encoder and
    # observation (RGB 84×84, one frame), so θ⁰ is the paper's.
    init, obs_shape = initial_init(cfg)

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        stand_in = StandInTask(chunks=args.chunks, seconds_per_chunk=args.seconds_per_chunk)
        a = Assignment(0, 0, "Pong", 1, args.steps_per_task)
        chunk = Chunk(0, 0, 0, 0, next(iter(stand_in(a, init, cfg))), "node", 1)
        sizes = chunk_sizes(ray, chunk, init)
        get_times = deserialization_times(ray, chunk)
        add_time = aggregator_add_time(ray, chunk)
        check_finite_verdicts(chunk)
        run = driver_run(ray, cfg, stand_in)
        end_cost = end_of_meta_step_time(chunk, init, args.tasks)
    finally:
        ray.shutdown()

    print(f"streaming_cost  {dt.date.today()}  {platform.node()}  {os.cpu_count()} cores  "
          f"load avg {os.getloadavg()[0]:.2f}  ray {ray.__version__}  torch {torch.__version__}"
          f"  zero-copy tensors: {'on' if args.zero_copy else 'off (Ray default)'}")
    report_size(args, init, obs_shape, sizes, get_times, add_time, paper)
    cost = report_driver(args, run)
    per_update = paper.inner.num_envs * paper.inner.unroll_length
    report_paper_scale(args, per_update, sizes["ray"], cost, end_cost)


if __name__ == "__main__":
    sys.exit(main())
