"""A trial's own record of how far it got: ``DIR/trials/<name>/status.json``, written atomically.

The sweep's resume reads these, not Tune's state: ``done`` trials are never run again,
``running`` ones (the sweep was killed under them) continue from their checkpoint, ``failed``
ones are retried while their attempts allow (``--retry-failed``).
"""

from __future__ import annotations

import json
from typing import Any

from leap_rl.io.artifacts import atomic_write
from leap_rl.io.storage import RunPath

STATUS = "status.json"
FINISHED = ("done", "stopped")  # stopped: early-stopped by the scheduler, a result too


def read_status(trial_dir: RunPath) -> dict[str, Any]:
    """The trial's status; ``{"status": "pending", "attempts": 0}`` before it ever started."""
    path = trial_dir / STATUS
    if not path.is_file():
        return {"status": "pending", "attempts": 0}
    return json.loads(path.read_text())


def write_status(trial_dir: RunPath, **fields: Any) -> dict[str, Any]:
    """Updates the trial's status with ``fields`` (a reader sees the old file or the new one)."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    record = {**read_status(trial_dir), **fields}
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(trial_dir / STATUS, lambda handle: handle.write(text.encode()))
    return record


def needs_run(record: dict[str, Any], retry_failed: int) -> bool:
    """Whether a resumed sweep runs the trial: not finished, and a failed one only while its
    attempts are at most 1 + ``retry_failed``."""
    if record["status"] in FINISHED:
        return False
    return record["status"] != "failed" or record.get("attempts", 0) <= retry_failed
