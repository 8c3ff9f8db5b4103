"""Checkpoints of the outer loop: written atomically, the last k kept, corrupt ones skipped."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from leap_rl.artifacts import atomic_save, one_line, verified_load

_NAME = re.compile(r"^ckpt-(\d{6})\.pt$")


def checkpoint_path(directory: Path, meta_step: int) -> Path:
    return directory / f"ckpt-{meta_step:06d}.pt"


def save_checkpoint(directory: Path, meta_step: int, state: dict[str, Any], keep: int) -> Path:
    """Writes ``state`` as the checkpoint after ``meta_step`` completed meta-steps; prunes old."""
    path = atomic_save({**state, "meta_step": meta_step}, checkpoint_path(directory, meta_step))
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: Path) -> list[Path]:
    """Complete checkpoint files, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


def load_latest(directory: Path, log=None) -> dict[str, Any] | None:
    """The newest checkpoint that loads; a corrupt one is reported and the previous one used.

    Leftover temporary files of an interrupted write are removed first.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    for leftover in directory.glob(".ckpt-*.tmp") if directory.is_dir() else []:
        log(f"removing {leftover.name}: a checkpoint write that never finished")
        leftover.unlink(missing_ok=True)
    return _newest_loadable(directory, log)


def completed_meta_steps(directory: Path) -> int:
    """Meta-steps done in the checkpoint a resume would load (0: none usable); writes nothing."""
    state = _newest_loadable(directory, lambda message: None)
    return int(state["meta_step"]) if state is not None else 0


def _newest_loadable(directory: Path, log) -> dict[str, Any] | None:
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
