"""Checkpoints of the outer loop: written atomically, the last k kept, corrupt ones skipped.

The directory is a local path or a URI (:mod:`leap_rl.io.storage`): the same code serves both.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from leap_rl.io.artifacts import atomic_save, one_line, verified_load
from leap_rl.io.storage import RunPath

_NAME = re.compile(r"^ckpt-(\d{6})\.pt$")
_LEFTOVER = re.compile(r"^\.ckpt-.*\.tmp$")  # atomic_write's temporary files


def checkpoint_path(directory: RunPath, meta_step: int) -> RunPath:
    return directory / f"ckpt-{meta_step:06d}.pt"


def save_checkpoint(directory: RunPath, meta_step: int, state: dict[str, Any],
                    keep: int) -> RunPath:
    """Writes ``state`` as the checkpoint after ``meta_step`` completed meta-steps; prunes old."""
    path = atomic_save({**state, "meta_step": meta_step}, checkpoint_path(directory, meta_step))
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: RunPath) -> list[RunPath]:
    """Complete checkpoint files, oldest first."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _NAME.match(p.name)), key=lambda p: p.name)


def load_latest(directory: RunPath, log=None) -> dict[str, Any] | None:
    """The newest checkpoint that loads; a corrupt one is reported and the previous one used.

    Leftover temporary files of an interrupted write are removed first.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    # (An object store has none: an upload that never finished leaves no object.)
    leftovers = [p for p in directory.iterdir() if _LEFTOVER.match(p.name)] \
        if directory.is_dir() else []
    for leftover in leftovers:
        log(f"removing {leftover.name}: a checkpoint write that never finished")
        leftover.unlink(missing_ok=True)
    return _newest_loadable(directory, log)


def completed_meta_steps(directory: RunPath) -> int:
    """Meta-steps done in the checkpoint a resume would load (0: none usable); writes nothing."""
    state = _newest_loadable(directory, lambda message: None)
    return int(state["meta_step"]) if state is not None else 0


def _newest_loadable(directory: RunPath, log) -> dict[str, Any] | None:
    for path in reversed(list_checkpoints(directory)):
        try:
            state = verified_load(path)
            if not isinstance(state, dict) or "meta_optimizer" not in state:
                raise ValueError("not a leap-rl checkpoint")
            return state
        except Exception as err:  # a truncated file raises from deep inside torch/pickle
            log(f"checkpoint {path.name} is unreadable ({one_line(err)}); "
                "falling back to the previous one")
    return None
