"""The run directory of ``leap-rl train``: where a run goes, and what happens to what is there.

A new run never writes into another run's directory. A directory that holds anything is refused
unless the run continues it (``--resume DIR``, or ``--out DIR --resume-if-exists``) or ``--force``
deletes its contents first. Without ``--out`` every run gets a directory of its own,
``runs/<name>-s<seed>-<UTC time>``, as cleanrl names its runs. A resumed run keeps its own
``config.yaml``: only keys that are safe mid-run may change, each change recorded in
``overrides.jsonl``. Everything here is checked before Ray starts; :func:`plan_start` changes
nothing on disk, :func:`begin_run` makes the changes. DIR may be a URI (``s3://bucket/run``):
:mod:`leap_rl.io.storage` gives both kinds the same interface.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from leap_rl.config import ExperimentConfig, load_config
from leap_rl.distributed.checkpoint import completed_meta_steps
from leap_rl.io.artifacts import ArtifactError, atomic_write
from leap_rl.io.storage import RunPath, append_text, location, rmtree

LABEL = "start:             "  # aligned with describe_plan's lines
# Keys a resumed run may change, listed one by one so that a key added later is refused until
# someone decides. None changes what a successful run computes: meta.meta_steps extends the run
# (never below the meta-steps done); the workers keys place and stream the same tasks (num_cpus
# also sets a worker's thread count and flush_every how a task's sum is chunked: float rounding at
# most), and failure_policy, max_task_retries and min_tasks_per_meta_step act only when tasks
# fail; the run keys set checkpointing and when to give up. Of the validation keys, patience
# (when to give up), every (when to look) and cache_dir (where the baseline runs are kept) change
# what the run reports, never θ⁰.
SAFE_ON_RESUME = frozenset({
    "validation.patience", "validation.every", "validation.cache_dir",
    "meta.meta_steps", "workers.num_workers", "workers.num_cpus", "workers.num_gpus",
    "workers.flush_every", "workers.failure_policy", "workers.max_task_retries",
    "workers.min_tasks_per_meta_step", "workers.task_timeout_s", "workers.startup_timeout_s",
    "run.checkpoint_every", "run.keep_checkpoints", "run.max_consecutive_bad_meta_steps",
    "run.task_curves"})  # only adds TensorBoard runs of the tasks to come


class RunDirectoryError(ArtifactError):
    """A run directory the command cannot use as asked; the message says what to do instead."""


@dataclass
class RunStart:
    """What ``leap-rl train`` will do with its run directory."""

    cfg: ExperimentConfig
    out: RunPath
    resume: bool = False
    completed: int = 0  # meta-steps in the checkpoint the resume loads
    delete: list[str] = field(default_factory=list)  # DIR's entries that --force deletes first
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # key: (saved, new)

    def describe(self) -> str:
        """Lines for the plan that ``leap-rl train`` prints (``--dry-run`` included)."""
        if self.changes:
            return (self._describe_start() + "\nchanges:           " + self.changes_text()
                    + " (safe mid-run; recorded in overrides.jsonl)")
        return self._describe_start()

    def changes_text(self) -> str:
        return ", ".join(f"{key} {was} → {now}" for key, (was, now) in self.changes.items())

    def _describe_start(self) -> str:
        if self.resume and self.completed:
            return f"{LABEL}resume {self.out} after meta-step {self.completed} (its checkpoint)"
        if self.resume:
            return f"{LABEL}resume {self.out}: no usable checkpoint yet, starts afresh"
        if self.delete:
            return (f"{LABEL}new run in {self.out}; --force deletes its {len(self.delete)} "
                    f"entries first: {', '.join(self.delete)}")
        return f"{LABEL}new run in {self.out}"


def default_out(cfg: ExperimentConfig, now: dt.datetime | None = None) -> Path:
    """``runs/<name>-s<seed>-<UTC time YYYYmmdd-HHMMSS>``: a new directory for every run."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return Path("runs") / f"{cfg.name}-s{cfg.seed}-{now:%Y%m%d-%H%M%S}"


def holds_run(path: RunPath) -> bool:
    """Whether ``path`` holds anything a new run could overwrite or mix with."""
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(f"{path} is not a directory")
    return path.is_dir() and any(path.iterdir())


def plan_start(config: str | None, overrides: list[str], *, out: str | None = None,
               resume: str | None = None, force: bool = False,
               resume_if_exists: bool = False) -> RunStart:
    """The run's config and directory from the command's options; refuses what would overwrite
    another run. Raises :class:`RunDirectoryError` or ``ConfigError``; writes nothing."""
    _check_options(out, resume, force, resume_if_exists)
    if resume or (resume_if_exists and holds_run(location(out))):
        return _plan_resume(location(resume or out), config, overrides)
    if config is None:
        raise RunDirectoryError("a new run needs CONFIG (only --resume DIR takes the run's own "
                                "config.yaml)")
    cfg = load_config(config, overrides)
    target = location(out) if out else default_out(cfg)
    if not holds_run(target):
        return RunStart(cfg, target)
    if not force:
        raise RunDirectoryError(
            f"--out {target} already holds a run ({', '.join(_entries(target)[:6])}); continue "
            f"it with --resume {target}, or add --force to delete everything in it and start a "
            "new run there")
    if not (target / "config.yaml").is_file():
        raise RunDirectoryError(f"--force: {target} has no config.yaml, so it is not a leap-rl "
                                "run directory; refusing to delete its contents")
    return RunStart(cfg, target, delete=_entries(target))


def _check_options(out, resume, force, resume_if_exists) -> None:
    if out and resume:
        raise RunDirectoryError("give --out DIR for a new run or --resume DIR to continue one, "
                                "not both")
    if force and (resume or resume_if_exists):
        raise RunDirectoryError("--force starts a new run in place of the old one; it cannot go "
                                "with --resume or --resume-if-exists")
    if (force or resume_if_exists) and not out:
        flag = "--force" if force else "--resume-if-exists"
        raise RunDirectoryError(f"{flag} needs --out DIR (without it every run gets a new "
                                "directory)")


def _plan_resume(run: RunPath, config: str | None, overrides: list[str]) -> RunStart:
    """The run's own config.yaml, changed only where safe: by --set, or by a CONFIG given."""
    if not run.is_dir():
        raise RunDirectoryError(f"--resume {run}: no such run directory")
    completed, saved_path = completed_meta_steps(run / "checkpoints"), run / "config.yaml"
    if not saved_path.is_file():  # a run stopped before it wrote one: only CONFIG can say
        if config is None:
            raise RunDirectoryError(f"--resume {run}: it has no config.yaml; give the CONFIG "
                                    "the run was started with")
        return RunStart(load_config(config, overrides), run, resume=True, completed=completed)
    saved = load_config(saved_path)
    cfg = (saved if config is None and not overrides
           else load_config(config if config is not None else saved_path, overrides))
    changes = _differences(saved.model_dump(mode="json"), cfg.model_dump(mode="json"))
    problems = [f"{key}: cannot change on resume (the run has {was!r}, given {now!r})"
                for key, (was, now) in changes.items() if key not in SAFE_ON_RESUME]
    if cfg.meta.meta_steps < completed:
        problems.append(f"meta.meta_steps: {cfg.meta.meta_steps} is fewer than the {completed} "
                        "meta-steps already completed")
    if problems:
        raise RunDirectoryError(
            f"--resume {run} continues with the run's own config.yaml; only meta.meta_steps, "
            "workers.*, run.* and validation.patience/every/cache_dir may change (--set, or "
            "CONFIG); other settings need a new run (--out):\n"
            + "\n".join(f"  - {p}" for p in problems))
    return RunStart(cfg, run, resume=True, completed=completed, changes=changes)


def _differences(saved: dict, new: dict, prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose values differ between two config dicts: (saved, new)."""
    found = {}
    for key in saved.keys() | new.keys():
        was, now = saved.get(key), new.get(key)
        if isinstance(was, dict) and isinstance(now, dict):
            found.update(_differences(was, now, f"{prefix}{key}."))
        elif was != now:
            found[f"{prefix}{key}"] = (was, now)
    return dict(sorted(found.items()))


def _entries(directory: RunPath) -> list[str]:
    """The names in ``directory``, sorted; sub-directories end in '/'."""
    return sorted(p.name + ("/" if p.is_dir() and not p.is_symlink() else "")
                  for p in directory.iterdir())


def begin_run(start: RunStart, say=print) -> None:
    """Makes the changes the plan announced: ``--force`` deletes the old run's entries first; a
    resume records its accepted changes in overrides.jsonl, then writes them to config.yaml.
    A run directory in a bucket that does not exist is refused here, before Ray starts."""
    start.out.mkdir(parents=True, exist_ok=True)
    if start.changes:
        _record_changes(start, say)
    if start.delete:
        say(f"--force: deleting the previous run in {start.out}: {', '.join(start.delete)}")
        for name in start.delete:
            path = start.out / name.rstrip("/")
            if name.endswith("/"):
                rmtree(path)
            else:
                path.unlink(missing_ok=True)


def _record_changes(start: RunStart, say) -> None:
    # The record first: a crash before config.yaml is rewritten records the change twice at
    # worst, never loses it.
    record = {"meta_step": start.completed,
              "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "set": {key: now for key, (_, now) in start.changes.items()},
              "was": {key: was for key, (was, _) in start.changes.items()}}
    append_text(start.out / "overrides.jsonl", json.dumps(record) + "\n")
    text = yaml.safe_dump(start.cfg.model_dump(mode="json"), sort_keys=False)
    atomic_write(start.out / "config.yaml", lambda handle: handle.write(text.encode()))
    say(f"resume after meta-step {start.completed}: {start.changes_text()} (recorded in "
        f"{start.out / 'overrides.jsonl'})")
