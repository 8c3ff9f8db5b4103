"""``leap-rl train``: meta-train θ⁰ with Leap on Ray (a new run, or ``--resume`` one)."""

from __future__ import annotations

import argparse
import os

from leap_rl.cli.common import (
    FAILED,
    OK,
    add_address,
    add_overrides,
    error,
    positive_int,
    seed_override,
    start_ray,
)
from leap_rl.config import ConfigError

NAME = "train"
HELP = "meta-train an initialization with Leap on Ray"
EXAMPLES = """\
  leap-rl train configs/smoke.yaml                       # a new runs/smoke-s0-<UTC time>
  leap-rl train configs/paper.yaml --dry-run             # the plan only: nothing starts
  leap-rl train configs/minatar.yaml --dry-run --calibrate --workers 16 --price-per-device-hour 2
  leap-rl train configs/smoke.yaml --out runs/smoke --force --seed 1
  leap-rl train --resume runs/smoke --set meta.meta_steps=4
  leap-rl train configs/paper.yaml --out s3://my-bucket/runs/paper --address auto"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None, help="experiment YAML, e.g. "
                        "configs/paper.yaml; optional with --resume DIR, which takes the run's "
                        "own DIR/config.yaml (a CONFIG given must match it but for meta."
                        "meta_steps, workers.* and run.*)")
    add_overrides(parser)
    parser.add_argument("--out", default=None, help="run directory for a new run, a path or a "
                        "URI (s3://bucket/run, gs://bucket/run); one that holds anything is "
                        "refused (see --resume, --force) (default: a new "
                        "runs/NAME-sSEED-YYYYmmdd-HHMMSS, UTC)")
    add_address(parser)
    parser.add_argument("--resume", default=None, metavar="DIR",
                        help="continue the run in DIR from its latest good checkpoint, with its "
                        "own config.yaml; --set may change only meta.meta_steps, workers.*, run.* "
                        "and validation.patience/every/cache_dir (recorded in "
                        "DIR/overrides.jsonl)")
    parser.add_argument("--resume-if-exists", action="store_true", help="with --out DIR: "
                        "resume DIR if it holds a run (as --resume DIR), else start a new run "
                        "there; for jobs that are submitted again after a stop")
    parser.add_argument("--force", action="store_true", help="with --out DIR: deletes "
                        "everything already in DIR (an earlier run's config.yaml, tasks.jsonl, "
                        "checkpoints/, init/, tensorboard/ and any other file in it) before a new "
                        "run starts there; refused where DIR has no config.yaml")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate, print the plan and exit without starting Ray")
    parser.add_argument("--calibrate", action="store_true", help="with --dry-run: a short "
                        "real inner loop of each pool game on this machine's device, then the "
                        "projected time per task and meta-step, wall hours, device-hours, cost")
    parser.add_argument("--calibrate-updates", type=positive_int, default=20, metavar="N",
                        help="with --calibrate: A2C updates measured per game (default 20)")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="with --calibrate: project for N workers (the run itself uses "
                        "workers.num_workers)")
    parser.add_argument("--price-per-device-hour", type=float, default=None, metavar="P",
                        help="with --calibrate: the cost of one device-hour, for the cost line")
    parser.add_argument("--json", action="store_true", help="with --calibrate: print the "
                        "calibration and projection as one JSON object")
    parser.add_argument("--track", action="store_true", help="also send every TensorBoard "
                        "scalar to Weights & Biases (needs pip install 'leap-rl[track]')")
    parser.add_argument("--wandb-project-name", default="leap-rl",
                        help="W&B project with --track (default: leap-rl)")
    parser.add_argument("--wandb-entity", default=None,
                        help="W&B entity (team) with --track (default: your W&B default)")
    # An override like --set seed=S (same list, so the later of the two wins).
    parser.add_argument("--seed", dest="overrides", action="append", type=seed_override,
                        metavar="S", help="seed for game sampling, heads and environments "
                        "(same as --set seed=S; default: the config's)")


def run(args: argparse.Namespace) -> int:
    from leap_rl.distributed.plan import describe_plan
    from leap_rl.distributed.rundir import begin_run, plan_start
    from leap_rl.io.tracking import WandbSink, require_wandb

    if args.track:
        require_wandb()
    if args.calibrate and not args.dry_run:
        raise ConfigError("leap-rl train", ["--calibrate goes with --dry-run (it measures, "
                                            "then exits)"])
    start = plan_start(args.config, args.overrides, out=args.out, resume=args.resume,
                       force=args.force, resume_if_exists=args.resume_if_exists)
    cfg, out = start.cfg, str(start.out)
    if args.calibrate:
        return _calibrate(cfg, args)
    print(describe_plan(cfg, out, args.address or os.environ.get("RAY_ADDRESS")))
    print(start.describe())
    if args.dry_run:
        return OK
    begin_run(start)
    # Before Ray: a W&B login or settings problem ends the command here.
    sinks = ([WandbSink.start(cfg, start.out, args.wandb_project_name, args.wandb_entity)]
             if args.track else [])
    return _meta_train(cfg, out, start.resume, sinks, args.address)


def _calibrate(cfg, args: argparse.Namespace) -> int:
    import json

    from leap_rl.distributed.calibrate import as_json, calibrate, describe, device_name

    found, projection, workers = calibrate(cfg, updates=args.calibrate_updates,
                                           workers=args.workers,
                                           price=args.price_per_device_hour)
    device = device_name(cfg)
    print(json.dumps(as_json(found, projection, workers, device)) if args.json
          else describe(found, projection, workers, device))
    return OK


def _meta_train(cfg, out: str, resume: bool, sinks: list, address: str | None) -> int:
    import ray
    import torch

    from leap_rl.distributed.driver import MetaTrainer, MetaTrainingError

    # The driver's tensor work is small adds; intra-op threads only contend with the workers for
    # the cores (bench/streaming_cost.py: 20 ms → 5 ms per chunk on a shared 2-core machine).
    torch.set_num_threads(1)
    start_ray(address)
    try:
        summary = MetaTrainer(cfg, out, resume=resume, sinks=sinks).run()
    except MetaTrainingError as err:
        error(str(err))
        return FAILED
    finally:
        ray.shutdown()
    print(f"done: learned initialization in {summary['init']}")
    return OK
