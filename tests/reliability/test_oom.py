"""A worker killed by Ray's out-of-memory killer is handled as a worker failure (item 8).

A subprocess starts its own local Ray instance with the memory monitor's threshold set 1.5 GB
above the machine's current use; the named stand-in task then leaks 300 MB per chunk until Ray
kills it. The meta-step must complete with the task recorded as failed by the OOM killer.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).parents[2]

SCRIPT = textwrap.dedent("""
    import os, sys
    import ray
    from leap_rl.config import load_config
    from leap_rl.distributed.driver import MetaTrainer
    from leap_rl.testing import StandInTask

    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    cfg = load_config("configs/smoke.yaml", ["meta.meta_steps=1", "meta.meta_batch_size=1",
                                             "workers.num_workers=1", "workers.task_timeout_s=60"])
    MetaTrainer(cfg, sys.argv[1], runner=StandInTask(chunks=25, seconds_per_chunk=0.3,
                                                     leak_mb=300)).run()
    ray.shutdown()
""")


def memory_in_use_fraction(extra_bytes):
    info = dict(line.split(":") for line in Path("/proc/meminfo").read_text().splitlines())
    total = int(info["MemTotal"].split()[0]) * 1024
    available = int(info["MemAvailable"].split()[0]) * 1024
    return (total - available + extra_bytes) / total


def test_worker_killed_by_the_oom_killer_is_a_worker_failure(tmp_path):
    threshold = memory_in_use_fraction(1.5 * 2 ** 30)
    if threshold > 0.9:
        pytest.skip("not enough free memory on this machine to stage an OOM kill safely")
    env = {**os.environ, "RAY_memory_usage_threshold": f"{threshold:.4f}",
           "RAY_memory_monitor_refresh_ms": "100"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = [json.loads(l) for l in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert row["status"] == "partial" and 0 < row["chunks_received"] < 25
    assert "OutOfMemoryError" in row["error"] or "memory" in row["error"].lower(), row["error"]
