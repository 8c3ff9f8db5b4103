"""``leap-rl report``: re-render an evaluation's table and plots, or a meta-training run's
path length per meta-step and game, from the files they wrote (no training, no Ray)."""

from __future__ import annotations

import argparse

from leap_rl.cli.common import OK, positive_int
from leap_rl.io.storage import staged

NAME = "report"
HELP = "re-render an evaluation's table and plots, or a meta-training run's report"
EXAMPLES = """\
  leap-rl report runs/eval-smoke                         # an evaluation (an interrupted one too)
  leap-rl report runs/eval-smoke --window 50             # with another moving-average window
  leap-rl report runs/smoke                              # a meta-training run
  leap-rl report gs://my-bucket/eval-smoke               # in a bucket (s3:// too)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="an evaluation's output directory or a meta-training run")
    parser.add_argument("--window", type=positive_int, default=None,
                        help="moving-average window (default: the one the evaluation used)")


def run(args: argparse.Namespace) -> int:
    from leap_rl.evaluation.report import render

    with staged(args.dir) as run_dir:  # a bucket URI: a local copy, changes uploaded after
        if (run_dir / "tasks.jsonl").is_file() and not (run_dir / "curves.csv").exists():
            from leap_rl.evaluation.meta_report import render_meta_run

            render_meta_run(run_dir)  # a meta-training run: Leap's objective across meta-steps
            print(f"wrote {args.dir}/meta_summary.json and {args.dir}/plots/path_length.png")
            return OK
        render(run_dir, window=args.window)
    print(f"rewrote {args.dir}/summary.json and {args.dir}/plots")
    return OK
