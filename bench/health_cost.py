"""Cost of θ⁰'s health measure (issue 25) for a config: the driver's per-meta-step measure
(InitCare.after_update, frames in memory), gathering the frames once per run, and a worker's
final-encoder measure per task (first call gathers its game's frames, later calls reuse them).

    .venv/bin/python bench/health_cost.py configs/minatar.yaml --reps 7
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from leap_rl.agent import build_actor_critic
from leap_rl.backends.a2c_task import final_health
from leap_rl.config import load_config
from leap_rl.core.meta_optimizer import MetaOptimizer
from leap_rl.distributed.care import InitCare
from leap_rl.distributed.driver import initial_init


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the driver's Adam step, and a 1-thread worker
    cfg = load_config(args.config)
    init, shape = initial_init(cfg)
    with tempfile.TemporaryDirectory() as out:
        care = InitCare(cfg, Path(out), shape, init)
        gather = timed(lambda: care.frames)
        meta = MetaOptimizer(init, lr=cfg.meta.learning_rate)
        measure = [timed(lambda: care.after_update(m, meta, init, True)) for m in range(args.reps)]
    frames = sum(len(f) for s in care.frames.values() for f in s.values())
    print(f"frames: {frames} over {len(cfg.meta.pool)} games, gathered once in {gather:.3f} s")
    print(f"driver measure per meta-step: median {1e3 * statistics.median(measure):.1f} ms "
          f"(min {1e3 * min(measure):.1f}, max {1e3 * max(measure):.1f})")
    game = cfg.meta.pool[0]
    model = build_actor_critic(cfg.inner.encoder, shape, 4)
    first = timed(lambda: final_health(model, game, cfg))
    again = [timed(lambda: final_health(model, game, cfg)) for _ in range(args.reps)]
    print(f"worker final-encoder measure ({game}): first {1e3 * first:.1f} ms (frames "
          f"gathered), then median {1e3 * statistics.median(again):.1f} ms")


if __name__ == "__main__":
    main()
