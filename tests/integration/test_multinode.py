"""Meta-training across nodes: a head and two worker nodes of a ray.cluster_utils.Cluster.

Runs in a subprocess so that its cluster and the session's local Ray instance never meet.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]

SCRIPT = textwrap.dedent("""
    import os, sys
    import ray
    from ray.cluster_utils import Cluster
    from leap_rl.config import load_config
    from leap_rl.distributed.driver import MetaTrainer

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        cfg = load_config("configs/smoke.yaml", ["meta.meta_steps=1", "meta.steps_per_task=1200",
                          "workers.num_workers=2", "env.max_episode_frames=160"])
        MetaTrainer(cfg, sys.argv[1], stream=open(os.devnull, "w")).run()
    finally:
        ray.shutdown()
        cluster.shutdown()
""")


def test_tasks_of_one_meta_step_run_on_two_nodes_and_all_contribute(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(l) for l in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and len({r["node_id"] for r in rows}) == 2
    for r in rows:
        assert r["status"] == "completed" and r["chunks_received"] >= 2
