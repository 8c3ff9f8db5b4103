"""Meta-training on a real local Ray instance: outputs, streaming, a killed worker, resume.

Tests whose point is exact arithmetic or timing (resume equality, chunk counting, streaming
order) use ``StandInTask``, a named stand-in that streams seeded partial sums at a set pace;
the end-to-end test uses the real A2C learner on real ALE games.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from leap_rl.config import load_config
from leap_rl.distributed.checkpoint import list_checkpoints, load_latest
from leap_rl.distributed.driver import MetaTrainer, initial_init
from leap_rl.distributed.runlog import read_scalars, read_tasks
from leap_rl.io.artifacts import load_init, verified_load
from leap_rl.testing import StandInTask

pytestmark = pytest.mark.integration
SMOKE = Path(__file__).parents[2] / "configs" / "smoke.yaml"


def config(*overrides):
    return load_config(SMOKE, list(overrides))


def test_smoke_config_end_to_end(ray_local, tmp_path):
    cfg = config("meta.steps_per_task=800", "env.max_episode_frames=160")
    summary = MetaTrainer(cfg, tmp_path, stream=open(os.devnull, "w")).run()
    records = read_tasks(tmp_path)
    provenance = json.loads((tmp_path / "provenance.json").read_text())  # the run's code, libraries
    assert provenance["torch"] == torch.__version__ and "git_commit" in provenance
    assert len(records) == 4 and {r["meta_step"] for r in records} == {0, 1}
    for r in records:
        assert r["status"] == "completed" and r["steps"] == 800 and r["chunks_received"] >= 2
        assert r["node_id"] and r["pid"] and r["d1"] > 0 and r["final_return"] is not None
    tags = read_scalars(tmp_path)
    for tag in ("objective/d2_ratio_mean", "objective/meta_grad_norm", "objective/init_update_norm",
                "workers/tasks_completed", "failures/tasks_failed", "failures/duplicate_chunks",
                "workers/meta_step_seconds", "workers/agent_steps_per_second"):
        assert len(tags[tag]) == 2, tag
    assert any(t.startswith("games/") and t.endswith("/return_late") for t in tags)
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == [
        "ckpt-000001.pt", "ckpt-000002.pt"]
    learned = load_init(summary["init"])
    assert learned["meta_step"] == 2
    start, _ = initial_init(cfg)
    ckpts = [verified_load(p)["meta_optimizer"] for p in list_checkpoints(tmp_path / "checkpoints")]
    thetas = [start] + [c["init"] for c in ckpts]
    assert all(torch.equal(learned["parameters"][k], thetas[2][k]) for k in start)
    assert_adam_path(thetas, ckpts, tags, cfg.meta)


def assert_adam_path(thetas, ckpts, tags, meta) -> None:
    """θ⁰'s path is Adam's on the meta-gradients ∇F̄ₜ its state holds, with the norms logged.

    ∇F̄₁ = m₁/(1−β₁) and ∇F̄₂ = (m₂ − β₁m₁)/(1−β₁) are read back from the checkpointed first
    moments; both of Adam's steps are redone by hand from them (ε = 1e-8).
    """
    lr, (b1, b2), eps = meta.learning_rate, meta.betas, 1e-8
    names = list(thetas[0])
    m = [{k: c["adam"]["state"][i]["exp_avg"].double() for i, k in enumerate(names)}
         for c in ckpts]
    v = [{k: c["adam"]["state"][i]["exp_avg_sq"].double() for i, k in enumerate(names)}
         for c in ckpts]
    grads = [{k: m[0][k] / (1 - b1) for k in names},
             {k: (m[1][k] - b1 * m[0][k]) / (1 - b1) for k in names}]
    for t, g in enumerate(grads):
        norm = sum(float(x.square().sum()) for x in g.values()) ** 0.5
        assert norm == pytest.approx(tags["objective/meta_grad_norm"][t], rel=1e-4) and norm > 0
    for t in (0, 1):
        for k in names:
            torch.testing.assert_close(v[t][k], (1 - b2) * grads[t][k].square()
                                       + (b2 * v[0][k] if t else 0), rtol=1e-4, atol=1e-20)
            step = (m[t][k] / (1 - b1 ** (t + 1))) / ((v[t][k] / (1 - b2 ** (t + 1))).sqrt() + eps)
            torch.testing.assert_close(thetas[t + 1][k].double(), thetas[t][k].double() - lr * step,
                                       rtol=1e-5, atol=1e-7, msg=k)
        moved = sum(float((thetas[t + 1][k] - thetas[t][k]).double().square().sum())
                    for k in names) ** 0.5
        assert moved == pytest.approx(tags["objective/init_update_norm"][t], rel=1e-4)


def test_driver_update_is_adam_on_the_mean_of_the_chunks_that_arrived(ray_local, tmp_path):
    """θ⁰ after two meta-steps of a tiny real run equals torch.optim.Adam stepped on the mean
    over tasks of each task's sum of the chunks the driver accepted (intercepted as they came)."""
    cfg = config("meta.steps_per_task=200", "env.max_episode_frames=160", "workers.flush_every=2",
                 "workers.num_cpus=0.5")
    trainer = MetaTrainer(cfg, tmp_path, stream=open(os.devnull, "w"))
    start = trainer.meta.init
    sums: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
    log_chunk = trainer.log.chunk

    def intercept(meta_step, game, steps, chunk, verdict):
        if verdict == "accepted":
            total = sums.setdefault((chunk.meta_step, chunk.task), {})
            for k, g in chunk.progress.gradient.items():
                total[k] = total[k] + g if k in total else g.clone()
        log_chunk(meta_step, game, steps, chunk, verdict)

    trainer.log.chunk = intercept
    summary = trainer.run()
    assert all(r["status"] == "completed" and r["chunks_received"] == 3
               for r in read_tasks(tmp_path))
    assert sorted(sums) == [(m, t) for m in (0, 1) for t in (0, 1)]

    theta = {k: torch.nn.Parameter(v.clone()) for k, v in start.items()}
    adam = torch.optim.Adam(theta.values(), lr=cfg.meta.learning_rate, betas=cfg.meta.betas,
                            eps=1e-8)
    for m in (0, 1):
        for k, p in theta.items():
            p.grad = (sums[m, 0][k] + sums[m, 1][k]) / 2  # ∇F̄ = (1/|B|) Σ_τ Gτ
        adam.step()
    learned = load_init(summary["init"])["parameters"]
    assert all(not torch.equal(learned[k], start[k]) for k in start)
    for k, p in theta.items():
        torch.testing.assert_close(learned[k], p.detach(), rtol=1e-5, atol=1e-7, msg=k)
    # Adam is blind to the gradient's scale (up to ε); its moments are not: ∇F̄ is a mean.
    state = load_latest(tmp_path / "checkpoints")["meta_optimizer"]["adam"]["state"]
    for i, p in enumerate(theta.values()):
        for moment in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(state[i][moment], adam.state[p][moment], rtol=1e-5,
                                       atol=1e-12)


def test_chunks_stream_while_tasks_train(ray_local, tmp_path):
    arrivals = []
    trainer = MetaTrainer(config("meta.meta_steps=1", "workers.num_cpus=0.5"), tmp_path,
                          runner=StandInTask(chunks=4, seconds_per_chunk=0.5),
                          stream=open(os.devnull, "w"))
    original = trainer.log.chunk
    trainer.log.chunk = lambda m, g, s, c, v: (arrivals.append((time.monotonic(), c)),
                                                original(m, g, s, c, v))
    trainer.run()
    for task in (0, 1):
        times = [t for t, c in arrivals if c.task == task]
        assert [c.seq for _, c in arrivals if c.task == task] == [0, 1, 2, 3]
        assert times[-1] - times[0] > 1.0  # the first chunk came long before the task ended


@pytest.mark.parametrize("policy", ["keep_partial", "retry"])
def test_killed_worker_keeps_what_arrived_and_counts_nothing_twice(ray_local, tmp_path, policy):
    accepted, killed = [], []

    def kill_after_two(meta_step, game, steps, chunk, verdict):
        if verdict == "accepted":
            accepted.append((chunk.task, chunk.seq, chunk.attempt))
        if chunk.task == 0 and chunk.seq == 1 and not killed:
            killed.append(chunk.pid)
            os.kill(chunk.pid, signal.SIGKILL)

    cfg = config("meta.meta_steps=1", "workers.num_cpus=0.5", f"workers.failure_policy={policy}")
    trainer = MetaTrainer(cfg, tmp_path, runner=StandInTask(chunks=6, seconds_per_chunk=0.4),
                          stream=open(os.devnull, "w"))
    trainer.log.chunk = kill_after_two
    trainer.run()
    record = {r["task"]: r for r in read_tasks(tmp_path)}
    task0 = [(s, a) for t, s, a in accepted if t == 0]
    assert len(set(task0)) == len(task0)  # never one (attempt, sequence number) twice
    last = [s for s, a in task0 if a == record[0]["attempts"] - 1]
    assert record[0]["chunks_received"] == len(last)  # the last attempt's chunks alone
    assert record[1]["status"] == "completed" and record[1]["chunks_received"] == 6
    tags = read_scalars(tmp_path)
    assert tags["failures/duplicate_chunks"] == [0]
    if policy == "keep_partial":
        assert record[0]["status"] == "partial" and 2 <= len(task0) < 6
        assert "ActorDiedError" in record[0]["error"] and tags["failures/tasks_failed"] == [1.0]
    else:  # the retry streams its own path from the start; it replaces the prefix
        assert record[0]["status"] == "completed" and record[0]["attempts"] == 2
        assert sorted(last) == list(range(6)) and len(task0) > 6


def test_resume_equals_an_uninterrupted_run_bit_for_bit(ray_local, tmp_path):
    stand_in = StandInTask(chunks=3)
    quiet = open(os.devnull, "w")
    base = ("workers.num_cpus=0.5", "run.checkpoint_every=1")
    MetaTrainer(config("meta.meta_steps=4", *base), tmp_path / "straight", runner=stand_in,
                stream=quiet).run()
    MetaTrainer(config("meta.meta_steps=2", *base), tmp_path / "split", runner=stand_in,
                stream=quiet).run()
    MetaTrainer(config("meta.meta_steps=4", *base), tmp_path / "split", runner=stand_in,
                stream=quiet, resume=True).run()
    a = load_latest(tmp_path / "straight" / "checkpoints")["meta_optimizer"]
    b = load_latest(tmp_path / "split" / "checkpoints")["meta_optimizer"]
    assert a["steps_taken"] == b["steps_taken"] == 4
    for k in a["init"]:
        assert torch.equal(a["init"][k], b["init"][k])
    for slot, state in a["adam"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[key], b["adam"]["state"][slot][key])
    games = lambda out: [(r["meta_step"], r["game"]) for r in read_tasks(out)]
    assert games(tmp_path / "straight") == games(tmp_path / "split")
