"""Where a run stands, read from its run directory only (no Ray): ``leap-rl status RUN``.

It reads config.yaml (name, ``meta.meta_steps``), tasks.jsonl (meta-steps finished, tasks
completed / failed / retried, agent steps), checkpoints/ (the last one and its age, and the times
of the kept ones for the throughput) and validation.jsonl (the best gain so far). The run may be
writing while it reads: an appended file's last line may be half written (an object store shows
whole objects, a local append may be caught mid-line), so a line that does not parse is left out.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import yaml

from leap_rl.io.artifacts import ArtifactError
from leap_rl.io.storage import RunPath, location, modified

_CKPT = re.compile(r"^ckpt-(\d{6})\.pt$")


class NotARunError(ArtifactError):
    """The path is not a run directory (or cannot be read); the message says which."""


def read_jsonl(path: RunPath) -> list[dict]:
    """The records of a JSON-lines file; a line that does not parse (half written) is skipped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _checkpoints(run: RunPath) -> list[tuple[int, float]]:
    """(meta-steps done, time written) of the kept checkpoints, oldest first."""
    directory = run / "checkpoints"
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _CKPT.match(path.name)
        stamp = modified(path) if match else None
        if match and stamp is not None:
            found.append((int(match.group(1)), stamp))
    return sorted(found)


def _config(run: RunPath) -> dict:
    try:
        data = yaml.safe_load((run / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):  # being rewritten by a resume: read again next time
        return {}
    return data if isinstance(data, dict) else {}


def _seconds_per_meta_step(run: RunPath, ckpts: list[tuple[int, float]]) -> float | None:
    """From the kept checkpoints' times; with one, from config.yaml's time to it (the run's
    start, for a run never resumed)."""
    if len(ckpts) >= 2 and ckpts[-1][0] > ckpts[0][0]:
        return (ckpts[-1][1] - ckpts[0][1]) / (ckpts[-1][0] - ckpts[0][0])
    started = modified(run / "provenance.json") or modified(run / "config.yaml")
    if ckpts and started is not None and ckpts[-1][0] > 0 and ckpts[-1][1] > started:
        return (ckpts[-1][1] - started) / ckpts[-1][0]
    return None


def run_status(where: str | RunPath, now: float | None = None) -> dict[str, Any]:
    """The status of the run directory ``where`` as a dict (the ``--json`` form)."""
    run, now = location(where), time.time() if now is None else now
    if not run.is_dir():
        raise NotARunError(f"{run}: no such run directory")
    if not (run / "config.yaml").is_file() and not (run / "tasks.jsonl").is_file():
        raise NotARunError(f"{run}: not a leap-rl run directory (no config.yaml, no "
                           "tasks.jsonl)")
    cfg, tasks, ckpts = _config(run), read_jsonl(run / "tasks.jsonl"), _checkpoints(run)
    meta_steps = (cfg.get("meta") or {}).get("meta_steps")
    done = max((int(r["meta_step"]) + 1 for r in tasks if "meta_step" in r), default=0)
    per_step = _seconds_per_meta_step(run, ckpts)
    steps_by_meta = {}
    for row in tasks:
        steps_by_meta[row.get("meta_step")] = steps_by_meta.get(row.get("meta_step"), 0) \
            + int(row.get("steps") or 0)
    recent = [steps_by_meta[m] for m in sorted(k for k in steps_by_meta if k is not None)[-3:]]
    agent_steps_per_s = (sum(recent) / len(recent) / per_step
                         if recent and per_step else None)
    eta = (max(meta_steps - done, 0) * per_step
           if per_step is not None and meta_steps is not None else None)
    validation = read_jsonl(run / "validation.jsonl")
    best = max((v for v in validation if v.get("gain") is not None),
               key=lambda v: v["gain"], default=None)
    return {
        "run": str(run), "config_name": cfg.get("name"), "meta_step": done,
        "meta_steps": meta_steps,
        "last_checkpoint": ckpts[-1][0] if ckpts else None,
        "last_checkpoint_age_s": now - ckpts[-1][1] if ckpts else None,
        "tasks_completed": sum(r.get("status") == "completed" for r in tasks),
        "tasks_failed": sum(r.get("status") in ("failed", "partial") for r in tasks),
        "tasks_retried": sum(int(r.get("attempts") or 1) > 1 for r in tasks),
        "seconds_per_meta_step": per_step, "agent_steps_per_s": agent_steps_per_s,
        "eta_s": eta, "validations": len(validation),
        "best_validation_gain": best["gain"] if best else None,
        "best_validation_meta_step": best["meta_step"] if best else None}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def describe(status: dict[str, Any]) -> str:
    """The one-screen form of :func:`run_status`."""
    s = status
    ckpt = ("none yet" if s["last_checkpoint"] is None else
            f"after meta-step {s['last_checkpoint']}, {_duration(s['last_checkpoint_age_s'])} ago")
    best = ("not configured" if not s["validations"] else
            f"gain {s['best_validation_gain']:.4g} at meta-step {s['best_validation_meta_step']}"
            f" ({s['validations']} validations)" if s["best_validation_gain"] is not None
            else f"{s['validations']} validations, no gain yet")
    speed = ("unknown (needs a checkpoint)" if s["seconds_per_meta_step"] is None else
             f"{s['seconds_per_meta_step']:.1f} s per meta-step"
             + (f", {s['agent_steps_per_s']:.0f} agent steps/s" if s["agent_steps_per_s"]
                else ""))
    return "\n".join([
        f"run:               {s['run']} (config {s['config_name']})",
        f"meta-step:         {s['meta_step']} of {s['meta_steps']}",
        f"last checkpoint:   {ckpt}",
        f"best validation:   {best}",
        f"tasks:             {s['tasks_completed']} completed, {s['tasks_failed']} failed, "
        f"{s['tasks_retried']} retried",
        f"throughput:        {speed} (last meta-steps)",
        f"time left:         {_duration(s['eta_s'])} (projected)"])
