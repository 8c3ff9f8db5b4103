"""``leap-rl train-task``: one agent on one game, without Ray (the Leap hook on by default)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leap_rl.cli.common import (
    OK,
    add_backend,
    add_config_file,
    add_overrides,
    backend_override,
    positive_int,
)
from leap_rl.config import ConfigError, load_config

NAME = "train-task"
HELP = "train one agent on one game (no Ray; Leap hook on)"
EXAMPLES = """\
  leap-rl train-task --game Breakout --steps 20000 --init runs/smoke/init/encoder.pt
  leap-rl train-task --game MinAtar/Asterix --steps 100000 --config configs/minatar.yaml --no-leap
  leap-rl train-task --game CartPole-v1 --steps 5000 --set inner.encoder=mlp"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_file(parser)
    add_overrides(parser)
    parser.add_argument("--game", required=True, help="Atari game (Breakout, breakout, "
                        "ALE/Breakout-v5), a MinAtar game (MinAtar/Breakout) or a gymnasium id "
                        "such as CartPole-v1")
    parser.add_argument("--steps", type=positive_int, required=True, help="agent steps to train")
    parser.add_argument("--init", default=None, help="encoder.pt to start from (default: random)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the config's)")
    parser.add_argument("--out", default=None, help="output directory (default: runs/task-GAME)")
    parser.add_argument("--no-leap", action="store_true", help="train without the Leap hook")
    parser.add_argument("--report-every", type=positive_int, default=20,
                        help="updates between progress reports")
    add_backend(parser, "inner learner (sets inner.backend): the paper's A2C or RLlib's "
                "rllib.algorithm (default: the config's)")


def run(args: argparse.Namespace) -> int:
    from leap_rl.backends.base import backend_for, outer_loop_problems
    from leap_rl.envs import is_atari_game, is_minatar_name, resolve_game

    ignored = outer_loop_problems(args.overrides)
    if ignored:
        raise ConfigError("--set", ignored)
    cfg = load_config(args.config, args.overrides + backend_override(args))
    known = is_atari_game(args.game) or is_minatar_name(args.game)
    game = resolve_game(args.game).name if known else args.game
    out = Path(args.out or f"runs/task-{game.replace('/', '_')}")
    seed = cfg.seed if args.seed is None else args.seed
    # The backend imports torch and gym: only once the input is known to be valid.
    summary = backend_for(cfg).train_task(game, args.steps, cfg, out=out, seed=seed,
                                          init_path=args.init, leap=not args.no_leap,
                                          report_every=args.report_every, stream=sys.stdout)
    leap = summary.get("leap")
    extra = (f"  path length d1 {leap['d1']:.4g}  energy d2 {leap['d2']:.4g}" if leap else "")
    print(f"done: {summary['agent_steps']:,} steps, {summary['episodes']} episodes{extra}; "
          f"outputs in {out}")
    return OK
