"""What every subcommand shares: exit codes, the user errors, and the arguments many take.

The rule every subcommand keeps: bad input (a config key, a value, a game, a file, a run
directory) raises one of :data:`USER_ERRORS` *before* any environment, model or Ray resource is
made, and :func:`leap_rl.cli.main` turns it into one message on stderr and exit status
:data:`USAGE` (argparse's own status for a malformed command line).
"""

from __future__ import annotations

import argparse
import os
import sys

from leap_rl.config import ConfigError
from leap_rl.envs import MissingRomError, UnknownGameError
from leap_rl.io.artifacts import ArtifactError
from leap_rl.io.storage import StorageError
from leap_rl.io.tracking import TrackingError

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130  # 130 = 128 + SIGINT, as shells report Ctrl-C

USER_ERRORS = (ConfigError, ArtifactError, UnknownGameError, MissingRomError, StorageError,
               TrackingError)


def error(message: str) -> None:
    """One line on stderr, in the form every subcommand uses."""
    print(f"leap-rl: error: {message}", file=sys.stderr)


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def seed_override(text: str) -> str:
    """``--seed S`` as the config override ``seed=S`` (the config checks the range)."""
    try:
        return f"seed={int(text)}"
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def add_overrides(parser: argparse.ArgumentParser, example: str = "leap.metric=length") -> None:
    """``--set KEY=VALUE`` (repeatable): dotted config keys, YAML values (:func:`load_config`)."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help=f"override a config key, e.g. {example}")


def add_config_file(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``, optional: without it, the paper's settings."""
    parser.add_argument("--config", default=None,
                        help="experiment YAML (default: the paper's settings)")


def add_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", default=None, help="Ray cluster to join ('auto', or "
                        "host:port); default: RAY_ADDRESS if set, else an embedded local instance")


def add_backend(parser: argparse.ArgumentParser, help: str) -> None:
    from leap_rl.backends import names

    parser.add_argument("--backend", choices=names(), default=None, help=help)


def backend_override(args: argparse.Namespace) -> list[str]:
    """``--backend NAME`` as the override ``inner.backend=NAME`` (none without the flag)."""
    return [f"inner.backend={args.backend}"] if args.backend else []


def start_ray(address: str | None) -> None:
    """Joins ``address`` (else RAY_ADDRESS) or starts an embedded local instance; the workers'
    logs stay off the console, which shows the command's own progress."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
