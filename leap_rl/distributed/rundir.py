"""The run directory of ``leap-rl train``: where a run goes, and what happens to what is there.

A new run never writes into another run's directory. A directory that holds anything is refused
unless the run continues it (``--resume DIR``, or ``--out DIR --resume-if-exists``) or ``--force``
deletes its contents first. Without ``--out`` every run gets a directory of its own,
``runs/<name>-s<seed>-<UTC time>``, as cleanrl names its runs. Everything here is checked before
Ray starts; :func:`plan_start` changes nothing on disk, :func:`begin_run` makes the changes.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from leap_rl.artifacts import ArtifactError
from leap_rl.config import ExperimentConfig, load_config
from leap_rl.distributed.checkpoint import completed_meta_steps

LABEL = "start:             "  # aligned with describe_plan's lines


class RunDirectoryError(ArtifactError):
    """A run directory the command cannot use as asked; the message says what to do instead."""


@dataclass
class RunStart:
    """What ``leap-rl train`` will do with its run directory."""

    cfg: ExperimentConfig
    out: Path
    resume: bool = False
    completed: int = 0  # meta-steps in the checkpoint the resume loads
    delete: list[str] = field(default_factory=list)  # DIR's entries that --force deletes first

    def describe(self) -> str:
        """One line for the plan that ``leap-rl train`` prints (``--dry-run`` included)."""
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


def holds_run(path: Path) -> bool:
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
    if resume or (resume_if_exists and holds_run(Path(out))):
        return _plan_resume(Path(resume or out), config, overrides)
    cfg = load_config(config, overrides)
    target = Path(out) if out else default_out(cfg)
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


def _plan_resume(run: Path, config: str | None, overrides: list[str]) -> RunStart:
    if not run.is_dir():
        raise RunDirectoryError(f"--resume {run}: no such run directory")
    cfg = load_config(config, overrides)
    return RunStart(cfg, run, resume=True, completed=completed_meta_steps(run / "checkpoints"))


def _entries(directory: Path) -> list[str]:
    """The names in ``directory``, sorted; sub-directories end in '/'."""
    return sorted(p.name + ("/" if p.is_dir() and not p.is_symlink() else "")
                  for p in directory.iterdir())


def begin_run(start: RunStart, say=print) -> None:
    """Makes the changes the plan announced: ``--force`` deletes the old run's entries first."""
    if start.delete:
        say(f"--force: deleting the previous run in {start.out}: {', '.join(start.delete)}")
        for name in start.delete:
            path = start.out / name.rstrip("/")
            if name.endswith("/"):
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
