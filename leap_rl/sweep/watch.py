"""Where a sweep stands, from its directory only (``leap-rl status SWEEP_DIR``): its trials'
``status.json`` records, counted, and the study's projected time left."""

from __future__ import annotations

import time
from typing import Any

from leap_rl.io.storage import RunPath, location
from leap_rl.sweep.plan import SPEC, SweepError, plan_sweep
from leap_rl.sweep.status import FINISHED, read_status


def is_sweep(where: str | RunPath) -> bool:
    """Whether ``where`` is a sweep directory (it keeps a spec.yaml)."""
    return (location(where) / SPEC).is_file()


def _statuses(out: RunPath) -> dict[str, dict]:
    """Every trial's record: the spec's trials (pending where never started), or, where the
    spec cannot be planned here (its base config moved), the trial directories there are."""
    try:
        return plan_sweep(None, None, [], resume=str(out)).statuses
    except SweepError:
        trials = out / "trials"
        return {t.name: read_status(t) for t in (trials.iterdir() if trials.is_dir() else [])}


def sweep_status(where: str | RunPath, now: float | None = None) -> dict[str, Any]:
    """Trials done / running / failed / pending and the study's ETA: the mean wall time of the
    finished trials × the trials left ÷ the trials running at once (at least 1)."""
    out, now = location(where), time.time() if now is None else now
    statuses = _statuses(out)
    count = lambda *names: sum(s.get("status") in names for s in statuses.values())
    done, running = count(*FINISHED), count("running")
    failed, pending = count("failed"), count("pending")
    walls = [s["finished"] - s["started"] for s in statuses.values()
             if s.get("status") in FINISHED and s.get("finished") and s.get("started")]
    mean_wall = sum(walls) / len(walls) if walls else None
    eta = (mean_wall * (running + pending + failed) / max(running, 1)
           if mean_wall is not None else None)
    return {"sweep": str(out), "trials": len(statuses), "trials_done": done,
            "trials_running": running, "trials_failed": failed, "trials_pending": pending,
            "mean_trial_s": mean_wall, "eta_s": eta}


def describe(status: dict[str, Any]) -> str:
    s = status
    eta = "unknown (no trial finished yet)" if s["eta_s"] is None else f"{s['eta_s']:.0f} s"
    return "\n".join([
        f"sweep:             {s['sweep']}",
        f"trials:            {s['trials_done']} done, {s['trials_running']} running, "
        f"{s['trials_failed']} failed, {s['trials_pending']} pending (of {s['trials']})",
        f"time left:         {eta} (projected from the finished trials)"])
