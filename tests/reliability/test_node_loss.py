"""A node removed without grace mid-meta-step (items 2 and 3 of the reliability issue).

Each case runs in a subprocess holding a ray.cluster_utils.Cluster: a head without CPUs and two
one-CPU worker nodes, with Ray's health checks tightened so that a dead node is noticed within
seconds. A thread removes one worker node while its task streams chunks.

The driver starts its tasks only once both first workers run: on a loaded 2-core machine a
worker takes 4 to over 8 s to start (process, torch import), which the short timeouts of the
no-spare-capacity cases (``startup_timeout_s`` + ``task_timeout_s`` = 8 s before a first chunk,
there so that the replacement that cannot be placed is given up quickly) would count against
the first workers too: issue 20's sweep failed them with "no report for 8 s" on a worker that
had started, or on both.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).parents[2]

SCRIPT = textwrap.dedent("""
    import json, os, sys, threading, time
    import ray
    from ray.cluster_utils import Cluster
    from leap_rl.config import load_config
    from leap_rl.distributed.driver import MetaTrainer, MetaTrainingError
    from leap_rl.distributed.metastep import WorkerPool
    from leap_rl.testing import StandInTask

    start_pool = WorkerPool.__post_init__

    def started_pool(pool):  # the first workers are running before any task is sent
        start_pool(pool)
        ray.get(list(pool._placed.values()), timeout=120)

    WorkerPool.__post_init__ = started_pool  # AsyncPool's too

    out, overrides, wait_dead = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "wait"
    health = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
              "health_check_failure_threshold": 3, "health_check_timeout_ms": 500}
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "_system_config": health})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    result = {"error": None}
    try:
        cfg = load_config("configs/smoke.yaml", ["workers.num_workers=2"] + overrides)
        trainer = MetaTrainer(cfg, out, runner=StandInTask(chunks=8, seconds_per_chunk=0.5),
                              stream=sys.stdout)
        victim = nodes[1]
        log_chunk = trainer.log.chunk

        def dead():
            return any(n["NodeID"] == victim.node_id and not n["Alive"] for n in ray.nodes())

        def on_chunk(m, game, steps, chunk, verdict):
            if chunk.node_id == victim.node_id and "removed_at" not in result:
                result["removed_at"] = time.monotonic()
                if not wait_dead:
                    threading.Thread(target=cluster.remove_node, args=(victim, False)).start()
                else:  # the driver goes on once Ray has marked the node dead
                    cluster.remove_node(victim, False)
                    deadline = time.monotonic() + 60
                    while not dead() and time.monotonic() < deadline:
                        time.sleep(0.1)
                    result["held_s"] = time.monotonic() - result["removed_at"]
            log_chunk(m, game, steps, chunk, verdict)

        trainer.log.chunk = on_chunk
        wall, cpu = time.monotonic(), time.process_time()
        try:
            trainer.run()
        except MetaTrainingError as err:
            result["error"] = str(err)
        result["wall"], result["cpu"] = time.monotonic() - wall, time.process_time() - cpu
        result["ended_at"] = time.monotonic()
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("RESULT " + json.dumps(result))
""")


def run_case(out, overrides, wait_dead=False):
    """``wait_dead``: the driver is held (in the chunk callback) from the node's removal until
    Ray has marked it dead. Until then Ray counts the dying node's freed CPU as spare capacity
    and may place the lost worker's replacement there, where it dies at once and fails the task
    sent to it (seen once in 18 runs of these cases: the replacement was leased
    on the victim 0.18 s before its third failed health check). The cases below that assume no
    spare capacity at all hold the driver so; node loss itself is tested without holding it."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out), json.dumps(overrides),
                           "wait" if wait_dead else "go"],
                          cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    rows = [json.loads(l) for l in (Path(out) / "tasks.jsonl").read_text().splitlines()]
    return json.loads(line[len("RESULT "):]), rows, proc.stdout


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_lost_node_is_detected_within_seconds_and_its_task_handled(tmp_path, mode):
    result, rows, _ = run_case(tmp_path, ["meta.meta_steps=1", "workers.task_timeout_s=60",
                                          "workers.failure_policy=keep_partial",
                                          f"meta.mode={mode}"])
    assert result["error"] is None
    lost = [r for r in rows if r["status"] != "completed"]
    assert len(lost) == 1 and lost[0]["status"] == "partial" and lost[0]["chunks_received"] < 8
    assert "Error" in lost[0]["error"] and "no chunk" not in lost[0]["error"]  # died, not timed out
    # The surviving task streams 8 chunks at 0.5 s; the meta-step ended long before the
    # 60 s silence limit, so the loss was noticed from Ray's health checks.
    assert result["ended_at"] - result["removed_at"] < 20


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_spare_capacity_degrades_without_hanging_or_spinning(tmp_path, mode):
    result, rows, stdout = run_case(tmp_path, [
        "meta.meta_steps=2", "workers.failure_policy=retry", "workers.task_timeout_s=4",
        "workers.startup_timeout_s=4", "workers.min_tasks_per_meta_step=1", f"meta.mode={mode}"],
        wait_dead=True)
    assert result["error"] is None  # degraded: the run went on with the capacity left
    assert len(rows) == 4 and sum(r["status"] == "completed" for r in rows) >= 2
    assert result["cpu"] < 0.5 * result["wall"]  # it waited, it did not spin


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_spare_capacity_stops_with_a_clear_error_when_too_few_tasks(tmp_path, mode):
    # Without retries, the next meta-step's task on the worker that cannot be placed fails,
    # leaving one contributing task where two are required.
    result, rows, stdout = run_case(tmp_path, [
        "meta.meta_steps=3", "workers.failure_policy=keep_partial", "workers.task_timeout_s=4",
        "workers.startup_timeout_s=4", "workers.min_tasks_per_meta_step=2",
        "run.max_consecutive_bad_meta_steps=1", f"meta.mode={mode}"], wait_dead=True)
    assert result["error"] and "fewer than workers.min_tasks_per_meta_step=2" in result["error"]
    assert "worker never started" in result["error"]
    assert [r["meta_step"] for r in rows] == [0, 0, 1, 1]  # it stopped after meta-step 2
    assert result["wall"] < 200 and result["cpu"] < 0.5 * result["wall"]
