"""Where a run's numbers came from: the package's version, its git commit (and whether the
checkout had uncommitted changes), and the versions of the libraries that compute them."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "ray", "gymnasium", "ale-py", "minatar")
CHECKOUT = Path(__file__).parents[2]  # the repository root when installed from a checkout


def provenance() -> dict[str, Any]:
    """Package version, git commit and dirty flag (None outside a checkout), library versions
    (None for one not installed)."""
    record: dict[str, Any] = {"leap_rl": _version("leap-rl"), **_git()}
    record.update({name: _version(name) for name in LIBRARIES})
    return record


def write_provenance(directory, name: str = "provenance.json") -> None:
    """``provenance.json`` in ``directory`` (a path or a :mod:`leap_rl.io.storage` location)."""
    (directory / name).write_text(json.dumps(provenance(), indent=2) + "\n")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git() -> dict[str, Any]:
    if not (CHECKOUT / ".git").exists():
        return {"git_commit": None, "git_dirty": None}
    try:
        commit = _run("rev-parse", "HEAD")
        dirty = bool(_run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": dirty}


def _run(*args: str) -> str:
    return subprocess.run(["git", "-C", str(CHECKOUT), *args], capture_output=True, text=True,
                          check=True, timeout=10).stdout.strip()
