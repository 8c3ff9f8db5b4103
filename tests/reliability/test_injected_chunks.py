"""Duplicate and stale chunks injected at the driver are dropped, exactly, and change nothing.

``MetaStepAggregator.add`` is wrapped so that every chunk that arrives is preceded by stale
copies (the previous meta-step's tag, a task index the meta-step does not have, and for task 0 an
altered copy tagged with an attempt that was never dispatched) and followed by duplicates (an
exact copy, and for task 0 a copy with the same tag and a different gradient). The run must drop
exactly those, count them in the aggregator and in TensorBoard, and end with θ⁰ and Adam's state
bit for bit equal to a clean run's. In ``meta.mode: async`` the same injections go through the
asynchronous handler, and each Adam step's input must equal the sums recomputed from the real
chunks alone (no two asynchronous runs batch alike, so there is no clean run to equal).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections import Counter
from pathlib import Path

import pytest
import torch

from leap_rl.config import load_config
from leap_rl.distributed.aggregator import MetaStepAggregator
from leap_rl.distributed.asyncrun import AsyncRun, Batch
from leap_rl.distributed.checkpoint import load_latest
from leap_rl.distributed.driver import MetaTrainer
from leap_rl.distributed.protocol import Assignment
from leap_rl.distributed.runlog import read_scalars, read_tasks
from leap_rl.io.artifacts import load_init
from leap_rl.testing import StandInTask, expected_async_sums

pytestmark = pytest.mark.reliability
SMOKE = Path(__file__).parents[2] / "configs" / "smoke.yaml"
CHUNKS, META_STEPS, TASKS = 3, 2, 2  # smoke.yaml: meta_batch_size 2


def assert_same_meta_state(a: dict, b: dict) -> None:
    """θ⁰, Adam's moments and step counts: equal bit for bit."""
    assert a["steps_taken"] == b["steps_taken"]
    assert a["init"].keys() == b["init"].keys()
    for k in a["init"]:
        assert torch.equal(a["init"][k], b["init"][k]), k
    assert a["adam"]["state"].keys() == b["adam"]["state"].keys()
    for slot, state in a["adam"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[key], b["adam"]["state"][slot][key]), (slot, key)


def test_injected_duplicate_and_stale_chunks_are_dropped_exactly(ray_local, tmp_path, monkeypatch):
    cfg = load_config(SMOKE, ["workers.num_cpus=0.5", f"meta.meta_steps={META_STEPS}"])
    stand_in, quiet = StandInTask(chunks=CHUNKS), open(os.devnull, "w")
    MetaTrainer(cfg, tmp_path / "clean", runner=stand_in, stream=quiet).run()

    real_add = MetaStepAggregator.add
    aggregators: list[MetaStepAggregator] = []
    verdicts: Counter = Counter()  # (meta-step, what was injected, verdict) -> count

    def add_with_injections(self, chunk):
        if self not in aggregators:
            aggregators.append(self)
        m = self.meta_step
        # Stale copies first: a dropped stale chunk must not mark its sequence number as seen.
        altered = dataclasses.replace(chunk, progress=dataclasses.replace(
            chunk.progress, gradient={k: 1e3 * g + 1 for k, g in chunk.progress.gradient.items()}))
        stale = [dataclasses.replace(chunk, meta_step=chunk.meta_step - 1)]
        if chunk.seq == 0:
            stale.append(dataclasses.replace(chunk, task=len(self.tasks)))
        if chunk.task == 0:  # an attempt not dispatched: θ⁰ would move elsewhere if counted
            stale.append(dataclasses.replace(altered, attempt=chunk.attempt + 1))
        for injected in stale:
            verdicts[m, "stale", real_add(self, injected)] += 1
        verdict = real_add(self, chunk)
        verdicts[m, "real", verdict] += 1
        duplicates = [copy.deepcopy(chunk)]
        if chunk.task == 0:  # same key, different content: counted, θ⁰ would move elsewhere
            duplicates.append(altered)
        for injected in duplicates:
            verdicts[m, "duplicate", real_add(self, injected)] += 1
        return verdict

    monkeypatch.setattr(MetaStepAggregator, "add", add_with_injections)
    MetaTrainer(cfg, tmp_path / "injected", runner=stand_in, stream=quiet).run()
    monkeypatch.undo()

    stale_per_step = TASKS * CHUNKS + TASKS + CHUNKS  # previous meta-step, no task, no attempt
    duplicates_per_step = TASKS * CHUNKS + CHUNKS     # exact copies + task 0's altered copies
    expected = Counter()
    for m in range(META_STEPS):
        expected[m, "real", "accepted"] = TASKS * CHUNKS
        expected[m, "stale", "stale"] = stale_per_step
        expected[m, "duplicate", "duplicate"] = duplicates_per_step
    assert verdicts == expected
    assert [(a.meta_step, a.duplicates, a.stale, a.nonfinite) for a in aggregators] == [
        (m, duplicates_per_step, stale_per_step, 0) for m in range(META_STEPS)]

    injected, clean = read_scalars(tmp_path / "injected"), read_scalars(tmp_path / "clean")
    assert injected["failures/duplicate_chunks"] == [duplicates_per_step] * META_STEPS
    assert injected["failures/stale_chunks"] == [stale_per_step] * META_STEPS
    assert clean["failures/duplicate_chunks"] == clean["failures/stale_chunks"] == [0] * META_STEPS
    assert injected["objective/meta_grad_norm"] == clean["objective/meta_grad_norm"]
    assert injected["objective/init_update_norm"] == clean["objective/init_update_norm"]
    drop = lambda r: {k: v for k, v in r.items() if k not in ("node_id", "pid")}
    assert ([drop(r) for r in read_tasks(tmp_path / "injected")]
            == [drop(r) for r in read_tasks(tmp_path / "clean")])
    assert all(r["chunks_received"] == CHUNKS for r in read_tasks(tmp_path / "injected"))

    a = load_latest(tmp_path / "clean" / "checkpoints")
    b = load_latest(tmp_path / "injected" / "checkpoints")
    assert a["meta_step"] == b["meta_step"] == META_STEPS
    assert_same_meta_state(a["meta_optimizer"], b["meta_optimizer"])
    init_a = load_init(tmp_path / "clean" / "init" / "encoder.pt")["parameters"]
    init_b = load_init(tmp_path / "injected" / "init" / "encoder.pt")["parameters"]
    assert all(torch.equal(init_a[k], init_b[k]) for k in init_a)


def test_async_injected_duplicate_and_stale_chunks_are_dropped_exactly(ray_local, tmp_path,
                                                                     monkeypatch):
    cfg = load_config(SMOKE, ["workers.num_cpus=0.5", f"meta.meta_steps={META_STEPS}",
                              "meta.mode=async"])
    real_item = AsyncRun.item

    def item_with_injections(self, job, chunk):
        altered = dataclasses.replace(chunk, progress=dataclasses.replace(
            chunk.progress, gradient={k: 1e3 * g + 1 for k, g in chunk.progress.gradient.items()}))
        stale = [dataclasses.replace(chunk, meta_step=chunk.meta_step - 1),  # another θ⁰
                 dataclasses.replace(altered, attempt=chunk.attempt + 1)]   # no such attempt
        if chunk.seq == 0:
            stale.append(dataclasses.replace(chunk, task=10 ** 6))          # no such task
        for injected in [*stale, chunk, copy.deepcopy(chunk), altered]:    # then duplicates
            real_item(self, job, injected)

    monkeypatch.setattr(AsyncRun, "item", item_with_injections)
    trainer = MetaTrainer(cfg, tmp_path, runner=StandInTask(chunks=CHUNKS),
                          stream=open(os.devnull, "w"))
    updates, real_step = [], trainer.meta.step
    trainer.meta.step = lambda total, n: (updates.append((trainer.meta.init, total)),
                                          real_step(total, n))[1]
    trainer.run()
    monkeypatch.undo()

    tasks = META_STEPS * TASKS
    scalars, rows = read_scalars(tmp_path), read_tasks(tmp_path)
    assert sum(scalars["failures/stale_chunks"]) == 2 * tasks * CHUNKS + tasks
    assert sum(scalars["failures/duplicate_chunks"]) == 2 * tasks * CHUNKS
    assert sorted(r["task"] for r in rows) == list(range(tasks))
    assert all(r["status"] == "completed" and r["chunks_received"] == CHUNKS for r in rows)
    expected = expected_async_sums(StandInTask(chunks=CHUNKS), cfg, rows,
                                   [init for init, _ in updates])
    assert len(updates) == META_STEPS
    for m, (_, total) in enumerate(updates):
        for k in total:
            torch.testing.assert_close(total[k], expected[m][k], rtol=0, atol=1e-5, msg=k)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_retry_replaces_the_failed_attempts_chunks(ray_local, tmp_path, monkeypatch, mode):
    """Under ``retry`` a task's meta-gradient comes from one path: the retry's. Task 0's first
    attempt raises after two chunks; every attempt's chunks differ (+10 per attempt), so keeping
    the failed attempt's prefix under the retry's later chunks would change the sum."""

    class FirstAttemptFails:
        def __call__(self, assignment, init, cfg):
            chunks = StandInTask(chunks=CHUNKS)(assignment, init, cfg)
            for s, progress in enumerate(chunks):
                if (assignment.task, assignment.attempt, s) == (0, 0, 2):
                    raise RuntimeError("injected: task 0's first attempt fails")
                progress.gradient = {k: g + 10.0 * assignment.attempt
                                     for k, g in progress.gradient.items()}
                yield progress

    sums = []
    for cls in (MetaStepAggregator, Batch):  # a meta-step's, sync or async
        monkeypatch.setattr(cls, "mean_gradient", lambda self, *args, real=cls.mean_gradient: (
            sums.append(real(self, *args)), sums[-1])[1])
    cfg = load_config(SMOKE, ["workers.num_cpus=0.5", "meta.meta_steps=1",
                              "workers.failure_policy=retry", f"meta.mode={mode}"])
    trainer = MetaTrainer(cfg, tmp_path, runner=FirstAttemptFails(), stream=open(os.devnull, "w"))
    init = trainer.meta.init
    trainer.run()

    rows = {r["task"]: r for r in read_tasks(tmp_path)}
    assert (rows[0]["status"], rows[0]["attempts"], rows[0]["chunks_received"]) == (
        "completed", 2, CHUNKS)
    assert read_scalars(tmp_path)["failures/duplicate_chunks"] == [0]
    expected = {}
    for task, attempt in ((0, 1), (1, 0)):  # task 0: its retry alone
        a = Assignment(0, task, rows[task]["game"], rows[task]["seed"], cfg.meta.steps_per_task,
                       attempt)
        for progress in FirstAttemptFails()(a, init, cfg):
            for k, g in progress.gradient.items():
                expected[k] = expected.get(k, 0) + g
    (total, n), = sums
    assert n == TASKS
    for k, v in expected.items():
        torch.testing.assert_close(total[k], v, msg=k)
