"""Exactly-once aggregation, and the pieces of the driver that are pure functions."""

import random
from types import SimpleNamespace

import torch

from leap_rl.config import load_config
from leap_rl.distributed.aggregator import MetaStepAggregator
from leap_rl.distributed.driver import sample_games, task_seed
from leap_rl.distributed.metastep import MetaStepRun
from leap_rl.distributed.protocol import Assignment, Chunk, Progress
from leap_rl.distributed.scheduler import NO_WORKER, Job, StreamScheduler


def chunk(task, seq, value, meta_step=0, final=False, attempt=0):
    gradient = {"w": torch.full((3,), float(value)), "b": torch.full((2,), float(value))}
    return Chunk(meta_step, task, seq, attempt, Progress(gradient, agent_steps=10 * (seq + 1),
                                                         episodes=[(seq, float(seq), 5)],
                                                         stats={"d1": seq + 1.0}, final=final),
                 node_id="n", pid=1)


def test_duplicates_and_stale_chunks_are_dropped_and_counted():
    agg = MetaStepAggregator(meta_step=3, num_tasks=2)
    assert agg.add(chunk(0, 0, 1.0, meta_step=3)) == "accepted"
    assert agg.add(chunk(0, 0, 1.0, meta_step=3)) == "duplicate"   # a replay of a retried task
    assert agg.add(chunk(1, 0, 5.0, meta_step=2)) == "stale"       # from a past meta-step
    assert agg.add(chunk(7, 0, 5.0, meta_step=3)) == "stale"       # no such task
    assert agg.add(chunk(0, 1, 2.0, meta_step=3, final=True)) == "accepted"
    assert (agg.duplicates, agg.stale) == (1, 2)
    total, n = agg.mean_gradient()
    assert n == 1 and torch.equal(total["w"], torch.full((3,), 3.0))
    tally = agg.tasks[0]
    assert (tally.chunks, tally.agent_steps, tally.final, tally.stats["d1"]) == (2, 20, True, 2.0)
    assert agg.contributing == [0]


def test_a_retry_replaces_the_failed_attempts_chunks_and_late_ones_are_stale():
    """One task, one path: the retry's stream (from sequence 0 again) replaces the prefix of the
    attempt that failed, and a chunk of that attempt arriving late counts nowhere."""
    agg = MetaStepAggregator(meta_step=0, num_tasks=2)
    assert [agg.add(chunk(0, s, 1.0 + s)) for s in (0, 1)] == ["accepted"] * 2  # attempt 0: 1+2
    agg.add(chunk(1, 0, 1000.0, final=True))
    agg.begin_attempt(0, 1)  # the driver dispatched the retry
    assert agg.add(chunk(0, 2, 3.0)) == "stale"  # attempt 0, late
    verdicts = [agg.add(chunk(0, s, 10.0 * (s + 1), attempt=1, final=s == 3)) for s in range(4)]
    assert verdicts == ["accepted"] * 4
    assert agg.add(chunk(0, 1, 20.0, attempt=1)) == "duplicate"
    assert agg.add(chunk(0, 4, 5.0, attempt=2)) == "stale"  # an attempt never dispatched
    assert (agg.stale, agg.duplicates) == (2, 1)
    tally = agg.tasks[0]
    assert torch.equal(tally.gradient["w"], torch.full((3,), 100.0))  # 10+20+30+40, no 1+2
    assert (tally.chunks, tally.agent_steps, tally.final, tally.attempt) == (4, 40, True, 1)
    assert tally.episodes == [(s, float(s), 5) for s in range(4)]
    total, n = agg.mean_gradient()
    assert n == 2 and torch.equal(total["b"], torch.full((2,), 1100.0))


def test_a_retry_never_dispatched_leaves_the_task_its_prefix():
    """No worker left for the retry: the task ends partial with what its failed attempt sent."""
    first = Assignment(0, 0, "Pong", 1, 100)
    run = MetaStepRun(load_config(None, []), SimpleNamespace(members=0, idle=[]), [first], None)
    scheduler = StreamScheduler(run.cfg.workers, SimpleNamespace(exhausted=lambda: True), run)
    run.aggregator.add(chunk(0, 0, 1.0))
    scheduler.queue = [Job(first, attempt=1)]
    scheduler._fail_queue_if_exhausted()
    assert not scheduler.queue and run.records[0].error == NO_WORKER
    assert run.records[0].status == "partial" and run.aggregator.contributing == [0]


def test_dispatching_the_first_attempt_changes_nothing():
    agg = MetaStepAggregator(meta_step=0, num_tasks=1)
    agg.add(chunk(0, 0, 1.0))
    agg.begin_attempt(0, 0)
    assert agg.add(chunk(0, 1, 2.0)) == "accepted"
    assert torch.equal(agg.mean_gradient()[0]["w"], torch.full((3,), 3.0))


def test_non_finite_chunks_are_dropped_and_counted():
    agg = MetaStepAggregator(0, 1)
    agg.add(chunk(0, 0, 1.0))
    assert agg.add(chunk(0, 1, float("nan"))) == "nonfinite"
    assert agg.add(chunk(0, 1, float("nan"))) == "duplicate"
    assert agg.nonfinite == 1 and torch.equal(agg.mean_gradient()[0]["b"], torch.ones(2))


def test_result_is_independent_of_arrival_order():
    """Per task in sequence order, tasks added in task order: bitwise the same any way round."""
    gen = torch.Generator().manual_seed(0)
    chunks = [Chunk(0, t, s, 0, Progress({"w": torch.randn(1000, generator=gen)}, 1), "n", 1)
              for t in range(4) for s in range(5)]
    reference, _ = _aggregate(chunks)
    for trial in range(5):
        shuffled = _interleave(chunks, random.Random(trial))
        total, n = _aggregate(shuffled)
        assert n == 4 and torch.equal(total["w"], reference["w"])


def _aggregate(chunks):
    agg = MetaStepAggregator(0, 4)
    for c in chunks:
        agg.add(c)
    return agg.mean_gradient()


def _interleave(chunks, rng):
    """A random interleaving of the tasks' streams that keeps each task's own order."""
    streams = {t: [c for c in chunks if c.task == t] for t in range(4)}
    out = []
    while any(streams.values()):
        t = rng.choice([t for t, s in streams.items() if s])
        out.append(streams[t].pop(0))
    return out


def test_games_and_seeds_are_functions_of_seed_and_meta_step():
    cfg = load_config(None, ["seed=5"])
    first = [sample_games(cfg, m) for m in range(4)]
    assert first == [sample_games(cfg, m) for m in range(4)]
    assert all(len(set(g)) == 16 and set(g) <= set(cfg.meta.pool) for g in first)
    assert first[0] != first[1]
    assert sample_games(load_config(None, ["seed=6"]), 0) != first[0]
    seeds = {task_seed(cfg, m, t) for m in range(3) for t in range(16)}
    assert len(seeds) == 48 and all(0 <= s < 2 ** 31 for s in seeds)


def test_empty_meta_step_has_no_gradient():
    assert MetaStepAggregator(0, 3).mean_gradient() == (None, 0)
