"""``leap-rl evaluate``: learned θ⁰s vs random initializations, on Ray (section 4.3, table 6).

``--init NAME=PATH`` (repeatable) names each initialization compared against random, e.g.
``--init leap=runs/a/init/encoder.pt --init reptile=runs/b/init/encoder.pt``; a bare
``--init PATH`` is ``leap``; ``NAME=A.pt,B.pt`` gives θ⁰s of several meta-training seeds,
``NAME=scaled:PATH`` a scale-matched random θ⁰, ``@inner.KEY=VALUE`` a method's own inner
settings, ``random@inner.KEY=VALUE`` the baseline's (:mod:`leap_rl.evaluation.methods`). Bad
input (config, game, init name or file, output directory, a
resume with other settings) raises one of :data:`leap_rl.cli.common.USER_ERRORS` before Ray
starts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leap_rl.cli.common import (
    FAILED,
    INTERRUPTED,
    OK,
    add_address,
    add_backend,
    add_config_file,
    add_overrides,
    backend_override,
    error,
    positive_int,
    start_ray,
)
from leap_rl.config import ConfigError, ExperimentConfig, load_config
from leap_rl.envs import (
    EVALUATION_SET,
    MINATAR_GAMES,
    UnknownGameError,
    is_minatar_name,
    resolve_game,
)
from leap_rl.evaluation.bootstrap import METHODS as CI_METHODS
from leap_rl.evaluation.methods import add_method, complete, method_configs, parse_init
from leap_rl.io.storage import staged

__all__ = ["parse_init"]  # the --init grammar, here for the CLI's tests and readers

GAME_SETS = {
    "table6": "the paper's evaluation games (table 6)",
    "pool": "the config's pretraining pool (meta.pool)",
    "heldout": "table-6 games not in meta.pool (default pool: Breakout, SpaceInvaders, "
               "Asteroids, Alien, Gravitar, RoadRunner); for a MinAtar pool, the MinAtar games "
               "not in it (configs/minatar.yaml: MinAtar/Breakout, MinAtar/SpaceInvaders)",
}


class InitAction(argparse.Action):
    """Collects ``--init NAME=SOURCE[@inner.KEY=VALUE ...]`` into {name: Method}
    (:mod:`leap_rl.evaluation.methods`); a bad or repeated name, or an override outside
    ``inner.*``, is a usage error (exit status 2) at parse time, before anything is read."""

    def __call__(self, parser, namespace, value, option_string=None) -> None:
        try:
            methods = add_method(getattr(namespace, self.dest) or {}, parse_init(value))
        except ValueError as err:
            raise argparse.ArgumentError(self, str(err)) from None
        setattr(namespace, self.dest, methods)


NAME = "evaluate"
HELP = ("train from each initialization and from random ones on Ray, then compare "
        "(figure 4, table 6)")
EXAMPLES = """\
  leap-rl evaluate --init leap=runs/smoke/init/encoder.pt --games Breakout --seeds 2 --steps 5000
  leap-rl evaluate --init leap=runs/a/init/encoder.pt --init reptile=runs/b/init/encoder.pt \\
      --games heldout --config configs/minatar.yaml --seeds 10 --out runs/eval-minatar
  leap-rl evaluate ... --out runs/eval-minatar --resume    # the same command after an interruption
  leap-rl evaluate --init leap=runs/a/init/encoder.pt,runs/b/init/encoder.pt \
      --init random@inner.learning_rate=8e-3 --init scale=scaled:runs/a/init/encoder.pt \
      --games heldout --config configs/minatar.yaml --seeds 20 --first-seed 100 --ci bca
  leap-rl evaluate --init leap=gs://my-bucket/runs/a/init/encoder.pt --out gs://my-bucket/eval"""


def add_arguments(ev: argparse.ArgumentParser) -> None:
    ev.add_argument("--init", dest="inits", action=InitAction, required=True,
                    metavar="[NAME=]PATH[@inner.KEY=V]", help="an encoder.pt to evaluate "
                    "against random init, named NAME (letters, digits, _ . -; not 'random'); "
                    "repeat it to compare several, e.g. --init leap=A/init/encoder.pt --init "
                    "reptile=B/... (a bare PATH is named leap). NAME=A.pt,B.pt: θ⁰s from several "
                    "meta-training seeds (hierarchical interval); NAME=scaled:PATH: a random θ⁰ "
                    "rescaled to PATH's per-tensor RMS; @inner.KEY=V (repeatable): this "
                    "method's own inner settings; random@inner.KEY=V: the random baseline's")
    ev.add_argument("--games", default="table6", help="comma-separated games (Atari, or a "
                    "gymnasium id such as CartPole-v1 with --set inner.encoder=mlp), or a set: "
                    + "; ".join(f"{k} = {v}" for k, v in GAME_SETS.items()) + " (default: table6)")
    ev.add_argument("--seeds", type=positive_int, default=3, help="seeds per game and method "
                    "(default 3; the paper uses ten); seed i is --first-seed + i")
    ev.add_argument("--first-seed", type=non_negative_int, default=None, metavar="N",
                    help="the first evaluation seed (default: the config's seed), e.g. 100 for "
                    "seeds never used in meta-training or validation")
    ev.add_argument("--ci", choices=CI_METHODS, default="percentile", help="bootstrap "
                    "interval: percentile (default) or bca (bias-corrected and accelerated)")
    ev.add_argument("--steps", type=positive_int, default=100_000,
                    help="agent steps per run (default 100,000)")
    ev.add_argument("--window", type=positive_int, default=100, help="moving-average window in "
                    "episodes for curves and the final score (default 100; the paper uses 500)")
    add_config_file(ev)
    add_overrides(ev, example="inner.num_envs=8")
    ev.add_argument("--out", default=None, help="output directory (default: runs/eval-NAME)")
    ev.add_argument("--resume", action="store_true", help="finish the evaluation in --out: "
                    "skip its completed runs, train the rest (failed ones again); refused if "
                    "games, seeds, steps, inits (file hashes) or config differ")
    add_backend(ev, "inner learner of every run, Leap and random alike (sets inner.backend; "
                "default: the config's)")
    add_address(ev)


def select_games(spec: str, cfg: ExperimentConfig) -> list[str]:
    """The games named by ``--games``: a set name or a comma-separated list (any spelling
    ``resolve_game`` accepts); unknown names raise UnknownGameError with suggestions."""
    key = spec.strip().lower()
    if key == "table6":
        games = list(EVALUATION_SET)
    elif key == "pool":
        games = list(cfg.meta.pool)
    elif key == "heldout":
        family = MINATAR_GAMES if all(is_minatar_name(g) for g in cfg.meta.pool) else EVALUATION_SET
        games = [g for g in family if g not in cfg.meta.pool]
    else:
        games = [_game(name.strip()) for name in spec.split(",") if name.strip()]
    if not games:
        raise ConfigError("--games", [f"{spec!r} selects no game"])
    return list(dict.fromkeys(games))  # without repeats, in order


def _game(name: str) -> str:
    """A game's registry name; else a registered gymnasium id such as CartPole-v1 (trained with
    ``inner.encoder: mlp``), as train-task accepts."""
    try:
        return resolve_game(name).name
    except UnknownGameError:
        import gymnasium

        if name in gymnasium.envs.registry:
            return name
        raise


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from leap_rl.backends.a2c_task import read_init

    cfg = load_config(args.config, args.overrides + backend_override(args))
    games = select_games(args.games, cfg)
    methods = complete(args.inits)
    configs = method_configs(methods, cfg)  # a bad @inner.KEY=VALUE stops us here
    for m in methods:
        for member, path in m.member_paths().items():
            read_init(path, configs.get(member, cfg))  # so does a missing or mismatched file
    out = args.out or f"runs/eval-{cfg.name}"
    # A bucket URI: written to a local copy, uploaded when the evaluation ends (or stops).
    with staged(out) as local:
        return _evaluate(args, cfg, games, methods, local, out)


def _evaluate(args: argparse.Namespace, cfg: ExperimentConfig, games: list[str], methods,
              out: Path, shown: str) -> int:
    """Checks ``out`` and runs the evaluation into it; ``shown`` is the name the user gave."""
    from leap_rl.evaluation import store

    first = cfg.seed if args.first_seed is None else args.first_seed
    seeds = [first + i for i in range(args.seeds)]
    # Before Ray: an existing directory without --resume, or with other settings, is refused.
    store.check_out(out, store.make_settings(methods, games, seeds, args.steps, cfg, args.ci),
                    args.resume)
    if args.seeds < 10:
        print(f"note: {args.seeds} seed(s) per game; the paper uses ten (--seeds 10)")
    try:
        summary = _evaluate_on_ray(args, games, cfg, out)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are saved in {shown}; run the same command with "
              "--resume to do the rest", file=sys.stderr)
        return INTERRUPTED
    if summary is None:
        return FAILED
    failed = summary["failed"]
    if failed:
        print(f"leap-rl: {len(failed)} run(s) failed: {', '.join(failed)} (see "
              f"{shown}/evaluation.json; --resume retries them)", file=sys.stderr)
    print(f"done: outputs in {shown} (curves.csv, summary.json, plots/, tensorboard/)")
    return FAILED if failed else OK


def _evaluate_on_ray(args: argparse.Namespace, games: list[str], cfg: ExperimentConfig,
                     out: Path) -> dict | None:
    """Runs the evaluation on Ray (joined or started here); None when every run failed."""
    import ray

    from leap_rl.evaluation.experiment import run_evaluation
    from leap_rl.evaluation.runner import EvaluationError

    started = not ray.is_initialized()
    if started:
        start_ray(args.address)
    try:
        return run_evaluation(complete(args.inits), games, cfg, out, seeds=args.seeds,
                              steps=args.steps, window=args.window, resume=args.resume,
                              first_seed=args.first_seed, ci=args.ci)
    except EvaluationError as err:
        error(str(err))
        return None
    finally:
        if started:
            ray.shutdown()
