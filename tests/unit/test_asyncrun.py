"""The asynchronous handler's rules, without Ray: meta-steps of B ended tasks, staleness, redo."""

import dataclasses
from types import SimpleNamespace

import torch

from leap_rl.config import load_config
from leap_rl.distributed.asyncrun import AsyncRun
from leap_rl.distributed.protocol import Assignment, Chunk, Progress
from leap_rl.distributed.scheduler import Job


def chunk(task, seq, value, version, final=False, attempt=0):
    gradient = {"w": torch.full((3,), float(value))}
    return Chunk(version, task, seq, attempt, Progress(gradient, agent_steps=10 * (seq + 1),
                                                       final=final), node_id="n", pid=1)


def make_run(max_staleness=1, owed=(), next_task=0):
    cfg = load_config(None, ["meta.mode=async", "meta.meta_batch_size=2",
                             f"meta.max_staleness={max_staleness}"])
    pool, closed = SimpleNamespace(version=0), []

    def close(batch):
        closed.append(batch)
        pool.version = batch.meta_step + 1  # what the driver does after its Adam step

    run = AsyncRun(cfg, pool, 0, close, on_chunk=lambda c, v: None, owed=owed,
                   next_task=next_task)
    return run, pool, closed


def start(run, pool, task, attempt=0):
    job = Job(Assignment(pool.version, task, "Pong", task, 100), attempt)
    run.dispatched(job)
    return job


def test_two_ended_tasks_close_a_meta_step_summed_in_task_order_and_late_chunks_are_stale():
    run, pool, closed = make_run()
    jobs = [start(run, pool, t) for t in range(3)]
    for t in (2, 0):
        run.item(jobs[t], chunk(t, 0, t + 1, version=0, final=True))
        run.ended(jobs[t])
    assert len(closed) == 1 and sorted(closed[0].tasks) == [0, 2]
    total, n = closed[0].mean_gradient()
    assert n == 2 and torch.equal(total["w"], torch.full((3,), 4.0))
    run.item(jobs[0], chunk(0, 1, 9.0, version=0))          # a chunk of an ended task
    assert run.batch.stale == 1
    assert run.redo() == {"redo": [1], "next_task": 3}       # task 1 still runs


def test_a_contribution_older_than_max_staleness_is_dropped_but_ends_its_task():
    run, pool, closed = make_run(max_staleness=1)
    old = start(run, pool, 0)                                # from θ⁰ version 0
    for version, pair in enumerate([(1, 2), (3, 4)]):        # two meta-steps pass it by
        for t in pair:
            job = start(run, pool, t)
            run.item(job, chunk(t, 0, 1.0, version=pool.version, final=True))
            run.ended(job)
    assert pool.version == 2
    run.item(old, chunk(0, 0, 1.0, version=0, final=True))
    run.ended(old)                                           # staleness 2 > 1: dropped
    fresh = start(run, pool, 5)
    run.item(fresh, chunk(5, 0, 7.0, version=2, final=True))
    run.ended(fresh)
    batch = closed[-1]
    assert {r.assignment.task: (r.status, r.staleness) for r in batch.records} == {
        0: ("dropped", 2), 5: ("completed", 0)}
    total, n = batch.mean_gradient()
    assert n == 1 and torch.equal(total["w"], torch.full((3,), 7.0))
    assert batch.scalars() == {"workers/staleness_mean": 0.0, "workers/staleness_max": 0.0,
                               "failures/dropped_stale_tasks": 1.0}


def test_a_retry_starts_from_the_newest_version_and_replaces_the_failed_attempt():
    run, pool, closed = make_run(max_staleness=4)
    first = start(run, pool, 0)
    run.item(first, chunk(0, 0, 100.0, version=0))
    run.failed(first, "RayActorError: died", retrying=True)
    assert run.redo() == {"redo": [0], "next_task": 1}       # owed while it waits for a retry
    pool.version = 3
    retry = start(run, pool, 0, attempt=1)
    run.item(retry, chunk(0, 0, 1.0, version=0, attempt=0))  # the failed attempt's, late
    run.item(retry, chunk(0, 0, 2.0, version=3, attempt=1, final=True))
    run.ended(retry)
    other = start(run, pool, 1)
    run.failed(other, "RayActorError: died", retrying=False)  # nothing arrived: failed
    (batch,) = closed
    assert batch.stale == 1
    assert {r.assignment.task: (r.status, r.staleness) for r in batch.records} == {
        0: ("completed", 0), 1: ("failed", 0)}
    total, n = batch.mean_gradient()
    assert n == 1 and torch.equal(total["w"], torch.full((3,), 2.0))


def test_a_resumed_run_owes_its_redone_tasks_until_a_meta_step_holds_them():
    run, pool, closed = make_run(owed=[1, 4], next_task=6)
    assert run.redo() == {"redo": [1, 4], "next_task": 6}    # not yet dispatched: still owed
    jobs = {t: start(run, pool, t) for t in (1, 4, 6)}
    for t in (1, 4):
        run.item(jobs[t], chunk(t, 0, 1.0, version=0, final=True))
        run.ended(jobs[t])
    assert run.redo() == {"redo": [6], "next_task": 7}
    assert dataclasses.asdict(closed[0].records[0].assignment)["task"] == 1
