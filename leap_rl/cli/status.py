"""``leap-rl status RUN``: where a run (or a sweep) stands, from its directory only; no Ray."""

from __future__ import annotations

import argparse
import json

from leap_rl.cli.common import OK

NAME = "status"
HELP = "show where a run or a sweep stands (a path or s3:// / gs:// URI; no Ray)"
EXAMPLES = """\
  leap-rl status runs/smoke-s0-20260101-120000
  leap-rl status gs://my-bucket/runs/paper --json
  leap-rl status runs/sweep"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run directory or sweep directory (a path, "
                        "s3://bucket/key or gs://bucket/key)")
    parser.add_argument("--json", action="store_true", help="print the status as one JSON "
                        "object (meta_step, meta_steps, last_checkpoint_age_s, tasks_failed, "
                        "eta_s, ...)")


def run(args: argparse.Namespace) -> int:
    from leap_rl.sweep.watch import describe as describe_sweep
    from leap_rl.sweep.watch import is_sweep, sweep_status

    if is_sweep(args.run):
        status, text = sweep_status(args.run), describe_sweep
    else:
        from leap_rl.distributed.status import describe, run_status

        status, text = run_status(args.run), describe
    print(json.dumps(status) if args.json else text(status))
    return OK
