"""``leap-rl sweep``: many runs of a spec on Ray Tune, resumable, one results table."""

from __future__ import annotations

import argparse

from leap_rl.cli.common import FAILED, OK, add_address, add_overrides, positive_int, start_ray

NAME = "sweep"
HELP = "run a study of many trials (a grid, draws, folds) on Ray Tune"
EXAMPLES = """\
  leap-rl sweep configs/sweeps/smoke_grid.yaml --out runs/sweep --dry-run
  leap-rl sweep configs/sweeps/smoke_grid.yaml --out runs/sweep --max-concurrent 2
  leap-rl sweep configs/sweeps/minatar_pilot.yaml --out runs/pilot --max-concurrent 2
  leap-rl sweep --resume runs/sweep --retry-failed 2"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", default=None, help="sweep spec YAML (base: CONFIG, "
                        "axes: {dotted.key: [values]}, ...); optional with --resume DIR")
    add_overrides(parser, "meta.meta_steps=4")
    parser.add_argument("--out", default=None, help="sweep directory for a new sweep (must "
                        "be empty or new); trials go to DIR/trials/<name>/")
    parser.add_argument("--resume", default=None, metavar="DIR", help="finish the sweep in "
                        "DIR: finished trials are kept, interrupted ones continue from their "
                        "checkpoint, failed ones are retried")
    parser.add_argument("--retry-failed", type=int, default=1, metavar="N",
                        help="with --resume: retry a failed trial up to N times (default 1)")
    parser.add_argument("--max-concurrent", type=positive_int, default=None,
                        help="most trials running at once (default: as many as fit)")
    parser.add_argument("--dry-run", action="store_true", help="list the trials and the "
                        "projected agent steps; creates nothing, starts no Ray")
    add_address(parser)


def run(args: argparse.Namespace) -> int:
    from leap_rl.sweep.plan import plan_sweep

    plan = plan_sweep(args.spec, args.out, args.overrides, resume=args.resume,
                      retry_failed=args.retry_failed)
    print(plan.describe())
    if args.dry_run:
        return OK
    import ray

    from leap_rl.sweep.run import run_sweep

    start_ray(args.address)
    try:
        counts = run_sweep(plan, max_concurrent=args.max_concurrent)
    finally:
        ray.shutdown()
    return FAILED if counts.get("failed") else OK
