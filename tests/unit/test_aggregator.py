"""Exactly-once aggregation, and the pieces of the driver that are pure functions."""

import random

import torch

from leap_rl.config import load_config
from leap_rl.distributed.aggregator import MetaStepAggregator
from leap_rl.distributed.driver import sample_games, task_seed
from leap_rl.distributed.protocol import Chunk, Progress


def chunk(task, seq, value, meta_step=0, final=False):
    gradient = {"w": torch.full((3,), float(value)), "b": torch.full((2,), float(value))}
    return Chunk(meta_step, task, seq, 0, Progress(gradient, agent_steps=10 * (seq + 1),
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
