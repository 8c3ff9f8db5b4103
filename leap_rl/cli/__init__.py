"""The ``leap-rl`` command: one module per subcommand, this one puts them together.

A subcommand module (``leap_rl/cli/<name>.py``) defines ``NAME``, ``HELP`` (one line for
``leap-rl --help``), ``EXAMPLES`` (shown by its own ``--help``), ``add_arguments(parser)`` and
``run(args) -> exit status``. What they share (exit codes, user errors, ``--set``, ``--address``,
starting Ray) is in :mod:`leap_rl.cli.common`. Bad input ends with one message on stderr and exit
status 2, before any environment, model or Ray resource is created.
"""

from __future__ import annotations

import os

# Before torch loads: passive OpenMP waits keep idle torch threads off the cores the emulator's
# threads need (bench/inner_throughput.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402

from leap_rl import __version__  # noqa: E402
from leap_rl.cli import (  # noqa: E402
    config,
    evaluate,
    pretrain_joint,
    report,
    status,
    sweep,
    train,
    train_task,
)
from leap_rl.cli.common import USAGE, USER_ERRORS, error  # noqa: E402

SUBCOMMANDS = (config, train, train_task, evaluate, report, pretrain_joint, sweep, status)

# Subcommand name → handler; main() looks the handler up here (tests replace one).
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {m.NAME: m.run for m in SUBCOMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leap-rl", description="Leap meta-training of an "
                                     "actor-critic encoder initialization across Atari games.",
                                     epilog="Run 'leap-rl COMMAND --help' for a command's "
                                     "options and examples.")
    parser.add_argument("--version", action="version", version=f"leap-rl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                 epilog="examples:\n" + module.EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    status = 0
    try:
        try:
            args = build_parser().parse_args(argv)
            status = COMMANDS[args.command](args)
        except USER_ERRORS as err:
            error(str(err))
            status = USAGE
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

