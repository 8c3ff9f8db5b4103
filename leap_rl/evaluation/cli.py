"""``leap-rl evaluate`` and ``leap-rl report``: Leap's θ⁰ vs random initializations (section 4.3).

Wired into :mod:`leap_rl.cli` by ``COMMANDS.update(add_evaluate_parsers(sub))``. Bad input (config,
game, init file, output directory) raises one of ``leap_rl.cli.USER_ERRORS`` before Ray starts,
so the command ends with one message and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from leap_rl.config import ConfigError, ExperimentConfig, load_config
from leap_rl.envs import EVALUATION_SET, resolve_game

GAME_SETS = {
    "table6": "the paper's evaluation games (table 6)",
    "pool": "the config's pretraining pool (meta.pool)",
    "heldout": "table-6 games not in meta.pool (default pool: Breakout, SpaceInvaders, "
               "Asteroids, Alien, Gravitar, RoadRunner)",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def add_evaluate_parsers(subparsers) -> dict:
    """Adds ``evaluate`` and ``report`` to ``subparsers``; returns {name: handler}."""
    ev = subparsers.add_parser("evaluate", help="train from an initialization and from random "
                               "ones on Ray, then compare (figure 4, table 6)")
    ev.add_argument("--init", required=True,
                    help="encoder.pt to evaluate (e.g. RUN/init/encoder.pt)")
    ev.add_argument("--games", default="table6", help="comma-separated games, or a set: "
                    + "; ".join(f"{k} = {v}" for k, v in GAME_SETS.items()) + " (default: table6)")
    ev.add_argument("--seeds", type=_positive_int, default=3, help="seeds per game and method "
                    "(default 3; the paper uses ten); seed i is the config's seed + i")
    ev.add_argument("--steps", type=_positive_int, default=100_000,
                    help="agent steps per run (default 100,000)")
    ev.add_argument("--window", type=_positive_int, default=100, help="moving-average window in "
                    "episodes for curves and the final score (default 100; the paper uses 500)")
    ev.add_argument("--config", default=None,
                    help="experiment YAML (default: the paper's settings)")
    ev.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key, e.g. inner.num_envs=8")
    ev.add_argument("--out", default=None, help="output directory (default: runs/eval-NAME)")
    ev.add_argument("--backend", choices=["a2c", "rllib"], default=None,
                    help="inner learner of every run, Leap and random alike (sets "
                    "inner.backend; default: the config's)")
    ev.add_argument("--address", default=None, help="Ray cluster to join ('auto', host:port); "
                    "default: RAY_ADDRESS if set, else an embedded local instance")
    rp = subparsers.add_parser("report", help="re-render a finished evaluation's table, "
                               "summary.json and plots from its curves.csv; for a "
                               "meta-training run, the path length per meta-step and game")
    rp.add_argument("dir", help="an evaluation's output directory or a meta-training run")
    rp.add_argument("--window", type=_positive_int, default=None,
                    help="moving-average window (default: the one the evaluation used)")
    return {"evaluate": cmd_evaluate, "report": cmd_report}


def select_games(spec: str, cfg: ExperimentConfig) -> list[str]:
    """The games named by ``--games``: a set name or a comma-separated list (any spelling
    ``resolve_game`` accepts); unknown names raise UnknownGameError with suggestions."""
    key = spec.strip().lower()
    if key == "table6":
        games = list(EVALUATION_SET)
    elif key == "pool":
        games = list(cfg.meta.pool)
    elif key == "heldout":
        games = [g for g in EVALUATION_SET if g not in cfg.meta.pool]
    else:
        games = [resolve_game(name.strip()).name for name in spec.split(",") if name.strip()]
    if not games:
        raise ConfigError("--games", [f"{spec!r} selects no game"])
    return list(dict.fromkeys(games))  # without repeats, in order


def cmd_evaluate(args: argparse.Namespace) -> int:
    from leap_rl.run_task import read_init

    backend = [f"inner.backend={args.backend}"] if args.backend else []
    cfg = load_config(args.config, args.overrides + backend)
    games = select_games(args.games, cfg)
    read_init(args.init, cfg)  # a missing or mismatched encoder.pt stops us here
    out = Path(args.out or f"runs/eval-{cfg.name}")
    import ray

    from leap_rl.evaluation.runner import EvaluationError, check_out, run_evaluation

    check_out(out)
    if args.seeds < 10:
        print(f"note: {args.seeds} seed(s) per game; the paper uses ten (--seeds 10)")
    started = not ray.is_initialized()
    if started:
        address = args.address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
    try:
        summary = run_evaluation(args.init, games, cfg, out, seeds=args.seeds, steps=args.steps,
                                 window=args.window)
    except EvaluationError as err:
        print(f"leap-rl: error: {err}", file=sys.stderr)
        return 1
    finally:
        if started:
            ray.shutdown()
    failed = summary["failed"]
    if failed:
        print(f"leap-rl: {len(failed)} run(s) failed: {', '.join(failed)} (see "
              f"{out / 'evaluation.json'})", file=sys.stderr)
    print(f"done: outputs in {out} (curves.csv, summary.json, plots/, tensorboard/)")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from leap_rl.evaluation.report import render

    run_dir = Path(args.dir)
    if (run_dir / "tasks.jsonl").is_file() and not (run_dir / "curves.csv").exists():
        from leap_rl.evaluation.meta_report import render_meta_run

        render_meta_run(run_dir)  # a meta-training run: Leap's objective across meta-steps
        print(f"wrote {run_dir / 'meta_summary.json'} and {run_dir / 'plots' / 'path_length.png'}")
        return 0
    render(args.dir, window=args.window)
    print(f"rewrote {Path(args.dir) / 'summary.json'} and {Path(args.dir) / 'plots'}")
    return 0
