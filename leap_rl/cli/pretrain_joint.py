"""``leap-rl pretrain-joint``: the jointly pretrained encoder, a baseline for Leap's θ⁰
(:mod:`leap_rl.baselines.joint_run` says what it writes)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from leap_rl.cli.common import INTERRUPTED, OK, add_overrides, positive_int
from leap_rl.config import load_config

NAME = "pretrain-joint"
HELP = "baseline: one encoder trained with A2C on every pool game at once (one head per game)"
EXAMPLES = """\
  leap-rl pretrain-joint configs/minatar.yaml --out runs/joint-minatar
  leap-rl pretrain-joint configs/minatar.yaml --out runs/joint-minatar --resume   # after a stop
  leap-rl pretrain-joint configs/smoke.yaml --out runs/joint-smoke --steps-per-game 2000"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML, e.g. configs/minatar.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--steps-per-game", type=positive_int, default=None, metavar="N",
                   help="agent steps per pool game (default: meta.meta_steps × "
                   "meta.meta_batch_size × meta.steps_per_task / len(meta.pool), rounded up: "
                   "the same total environment steps as meta-training with this config)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seed (default: the config's)")
    add_overrides(p, example="inner.num_envs=8")
    p.add_argument("--resume", action="store_true", help="continue from --out's checkpoint "
                   "(refused if the seed, pool, env or inner settings differ; --steps-per-game "
                   "may grow); without a checkpoint it starts afresh")
    p.add_argument("--report-every", type=positive_int, default=100, metavar="N",
                   help="updates between console progress lines (default 100)")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0, metavar="M",
                   help="wall-clock minutes between checkpoints (default 5)")


def run(args: argparse.Namespace) -> int:
    from leap_rl.baselines.joint_run import default_steps_per_game, run_joint

    cfg = load_config(args.config, args.overrides)
    seed = cfg.seed if args.seed is None else args.seed
    steps = args.steps_per_game or default_steps_per_game(cfg)
    print(f"joint pretraining on {len(cfg.meta.pool)} games, {steps:,} steps each "
          f"({'--steps-per-game' if args.steps_per_game else 'as many as meta-training'}), "
          f"seed {seed}; outputs in {args.out}")
    stop: list[str] = []

    def request_stop(signum, _frame) -> None:  # stop after this update; a second signal: at once
        stop.append(signal.Signals(signum).name)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    handlers = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = run_joint(cfg, args.out, steps_per_game=steps, seed=seed, resume=args.resume,
                            report_every=args.report_every,
                            checkpoint_seconds=60 * args.checkpoint_minutes,
                            should_stop=lambda: bool(stop))
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if stop:
        print(f"\n{stop[0]}: stopped at {summary['steps_per_game']:,} steps per game, checkpoint "
              f"in {args.out}; run the same command with --resume to continue", file=sys.stderr)
        return INTERRUPTED
    print(f"done: {summary['steps_per_game']:,} steps per game in {summary['seconds']:.0f} s; "
          f"encoder in {Path(args.out) / 'init' / 'encoder.pt'}")
    return OK
