"""The ``leap-rl`` command: validate configs, train one task (more commands build on these).

Bad input (config, game, file) ends with one clear message on stderr and exit status 2, before
any environment, model or Ray resource is created.
"""

from __future__ import annotations

import os

# Before torch loads: passive OpenMP waits keep idle torch threads off the cores the emulator's
# threads need (bench/inner_throughput.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path

import yaml

from leap_rl import __version__
from leap_rl.io.artifacts import ArtifactError
from leap_rl.backends import names as backend_names
from leap_rl.config import ConfigError, config_fields_help, load_config
from leap_rl.envs import MissingRomError, UnknownGameError
from leap_rl.evaluation.cli import add_evaluate_parsers
from leap_rl.joint_cli import add_joint_parser
from leap_rl.io.storage import StorageError
from leap_rl.io.tracking import TrackingError

USER_ERRORS = (ConfigError, ArtifactError, UnknownGameError, MissingRomError, StorageError,
               TrackingError)


def _add_config_args(parser: argparse.ArgumentParser, positional: bool,
                     resumable: bool = False) -> None:
    if positional and resumable:
        parser.add_argument("config", nargs="?", default=None, help="experiment YAML, e.g. "
                            "configs/paper.yaml; optional with --resume DIR, which takes the run's "
                            "own DIR/config.yaml (a CONFIG given must match it but for meta."
                            "meta_steps, workers.* and run.*)")
    elif positional:
        parser.add_argument("config", help="experiment YAML, e.g. configs/paper.yaml")
    else:
        parser.add_argument("--config", default=None,
                            help="experiment YAML (default: the paper's settings)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. leap.metric=length")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leap-rl", description="Leap meta-training of an "
                                     "actor-critic encoder initialization across Atari games.")
    parser.add_argument("--version", action="version", version=f"leap-rl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    config = sub.add_parser("config", help="validate a config and print it resolved")
    _add_config_args(config, positional=True)
    config.add_argument("--describe", action="store_true", help="list every key with its meaning")

    task = sub.add_parser("train-task", help="train one agent on one game (Leap hook on)")
    _add_config_args(task, positional=False)
    task.add_argument("--game", required=True, help="Atari game (Breakout, breakout, "
                      "ALE/Breakout-v5) or a gymnasium id such as CartPole-v1")
    task.add_argument("--steps", type=_positive_int, required=True, help="agent steps to train")
    task.add_argument("--init", default=None, help="encoder.pt to start from (default: random)")
    task.add_argument("--seed", type=int, default=None, help="seed (default: the config's)")
    task.add_argument("--out", default=None, help="output directory (default: runs/task-GAME)")
    task.add_argument("--no-leap", action="store_true", help="train without the Leap hook")
    task.add_argument("--report-every", type=_positive_int, default=20,
                      help="updates between progress reports")
    task.add_argument("--backend", choices=backend_names(), default=None,
                      help="inner learner (sets inner.backend): the paper's A2C or RLlib's "
                      "rllib.algorithm (default: the config's)")
    train = sub.add_parser("train", help="meta-train an initialization with Leap on Ray")
    _add_config_args(train, positional=True, resumable=True)
    train.add_argument("--out", default=None, help="run directory for a new run, a path or a "
                       "URI (s3://bucket/run, gs://bucket/run); one that holds anything is "
                       "refused (see --resume, --force) (default: a new "
                       "runs/NAME-sSEED-YYYYmmdd-HHMMSS, UTC)")
    train.add_argument("--address", default=None, help="Ray cluster to join ('auto', or "
                       "host:port); default: RAY_ADDRESS if set, else an embedded local instance")
    train.add_argument("--resume", default=None, metavar="DIR",
                       help="continue the run in DIR from its latest good checkpoint, with its "
                       "own config.yaml; --set may change only meta.meta_steps, workers.* and "
                       "run.* (recorded in DIR/overrides.jsonl)")
    train.add_argument("--resume-if-exists", action="store_true", help="with --out DIR: "
                       "resume DIR if it holds a run (as --resume DIR), else start a new run "
                       "there; for jobs that are submitted again after a stop")
    train.add_argument("--force", action="store_true", help="with --out DIR: deletes everything "
                       "already in DIR (an earlier run's config.yaml, tasks.jsonl, checkpoints/, "
                       "init/, tensorboard/ and any other file in it) before a new run starts "
                       "there; refused where DIR has no config.yaml")
    train.add_argument("--dry-run", action="store_true",
                       help="validate, print the plan and exit without starting Ray")
    train.add_argument("--track", action="store_true", help="also send every TensorBoard "
                       "scalar to Weights & Biases (needs pip install 'leap-rl[track]')")
    train.add_argument("--wandb-project-name", default="leap-rl",
                       help="W&B project with --track (default: leap-rl)")
    train.add_argument("--wandb-entity", default=None,
                       help="W&B entity (team) with --track (default: your W&B default)")
    # An override like --set seed=S (same list, so the later of the two wins).
    train.add_argument("--seed", dest="overrides", action="append", type=_seed_override,
                       metavar="S", help="seed for game sampling, heads and environments "
                       "(same as --set seed=S; default: the config's)")
    COMMANDS.update(add_evaluate_parsers(sub))
    COMMANDS.update(add_joint_parser(sub))
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _seed_override(text: str) -> str:
    """``--seed S`` as the config override ``seed=S`` (the config checks the range)."""
    try:
        return f"seed={int(text)}"
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def cmd_config(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    if args.describe:
        print("\n".join(config_fields_help()))
    else:
        print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def cmd_train_task(args: argparse.Namespace) -> int:
    from leap_rl.backends import backend_for
    from leap_rl.envs import is_atari_game, is_minatar_name, resolve_game

    backend = [f"inner.backend={args.backend}"] if args.backend else []
    cfg = load_config(args.config, args.overrides + backend)
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
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import os

    from leap_rl.distributed.plan import describe_plan
    from leap_rl.distributed.rundir import begin_run, plan_start
    from leap_rl.io.tracking import WandbSink, require_wandb

    if args.track:
        require_wandb()
    start = plan_start(args.config, args.overrides, out=args.out, resume=args.resume,
                       force=args.force, resume_if_exists=args.resume_if_exists)
    cfg, out = start.cfg, str(start.out)
    address = args.address or os.environ.get("RAY_ADDRESS")
    print(describe_plan(cfg, out, address))
    print(start.describe())
    if args.dry_run:
        return 0
    begin_run(start)
    # Before Ray: a W&B login or settings problem ends the command here.
    sinks = ([WandbSink.start(cfg, start.out, args.wandb_project_name, args.wandb_entity)]
             if args.track else [])
    import ray

    import torch

    from leap_rl.distributed.driver import MetaTrainer, MetaTrainingError

    # The driver's tensor work is small adds; intra-op threads only contend with the workers for
    # the cores (bench/streaming_cost.py: 20 ms → 5 ms per chunk on a shared 2-core machine).
    torch.set_num_threads(1)
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
    try:
        summary = MetaTrainer(cfg, out, resume=start.resume, sinks=sinks).run()
    except MetaTrainingError as err:
        print(f"leap-rl: error: {err}", file=sys.stderr)
        return 1
    finally:
        ray.shutdown()
    print(f"done: learned initialization in {summary['init']}")
    return 0


COMMANDS = {"config": cmd_config, "train-task": cmd_train_task, "train": cmd_train}


def main(argv: list[str] | None = None) -> int:
    status = 0
    try:
        try:
            args = build_parser().parse_args(argv)
            status = COMMANDS[args.command](args)
        except USER_ERRORS as err:
            print(f"leap-rl: error: {err}", file=sys.stderr)
            status = 2
        except SystemExit:  # --help, --version: argparse exits after printing
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # a reader that has gone shows here, not in the flush at exit
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # another pipe or socket broke: a real failure
        # `leap-rl ... | head`: the reader stopped reading, which is no error. stdout now points at
        # devnull so that the interpreter's last flush cannot fail again (Python's docs, "Note on
        # SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return status


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more (poll reports an error or hang-up on it)."""
    import select

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False  # stdout is no file: what broke was something else
    if not hasattr(select, "poll"):
        return True  # Windows: no way to tell; stdout is the likely one
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


if __name__ == "__main__":
    sys.exit(main())
