"""meta.balance: each task's whole Gτ scaled before the mean (sync aggregator and async batch),
the exactly-once bookkeeping untouched, and ``none`` bit-equal to the plain sum."""

import importlib.util
import random
from pathlib import Path

import pytest
import torch

from leap_rl.config import ConfigError, load_config
from leap_rl.distributed.aggregator import MetaStepAggregator, balance_weights, sum_gradients
from leap_rl.distributed.asyncrun import Batch
from leap_rl.distributed.metastep import TaskRecord
from leap_rl.distributed.protocol import Assignment, Chunk, Progress
from leap_rl.distributed.runlog import RunLog

_SCRIPT = Path(__file__).parents[2] / "scripts" / "meta_gradient_shares.py"
_spec = importlib.util.spec_from_file_location("meta_gradient_shares", _SCRIPT)
shares_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shares_script)


def chunk(task, seq, gradient, d1, final=False, attempt=0):
    return Chunk(0, task, seq, attempt, Progress(gradient, agent_steps=seq + 1,
                                                 stats={"d1": d1}, final=final), "n", 1)


def two_tasks(balance=None):
    """Task 0: ‖G‖ = 1 along x, d₁ 0.13; task 1: ‖G‖ = 1000 along y, d₁ 106 (the smoke run's
    Freeway and Asterix path lengths), each streamed in two chunks."""
    agg = MetaStepAggregator(0, 2)
    for task, (axis, size, d1) in enumerate([(0, 1.0, 0.13), (1, 1000.0, 106.0)]):
        half = torch.zeros(2)
        half[axis] = size / 2
        agg.add(chunk(task, 0, {"w": half.clone()}, d1 / 2))
        agg.add(chunk(task, 1, {"w": half.clone()}, d1, final=True))
    return agg


def test_norm_gives_tasks_of_norm_1_and_1000_equal_contributions_at_their_mean_norm():
    total, n = two_tasks().mean_gradient("norm")
    assert n == 2 and torch.allclose(total["w"], torch.tensor([500.5, 500.5]))


def test_path_length_divides_each_task_by_its_d1_times_the_mean_d1():
    agg = two_tasks()
    total, _ = agg.mean_gradient("path_length")
    mean_d1 = (0.13 + 106.0) / 2
    expected = torch.tensor([mean_d1 / 0.13, 1000.0 * mean_d1 / 106.0])
    assert torch.allclose(total["w"], expected)
    assert agg.weights == pytest.approx({0: mean_d1 / 0.13, 1: mean_d1 / 106.0})


def test_none_is_bit_equal_to_the_plain_sum_in_task_order():
    gen = torch.Generator().manual_seed(0)
    agg = MetaStepAggregator(0, 3)
    for t in range(3):
        for s in range(4):
            agg.add(chunk(t, s, {"w": torch.randn(1000, generator=gen) * 10 ** t}, s + 1.0))
    plain = sum_gradients([agg.tasks[t] for t in range(3)])
    for total in (agg.mean_gradient()[0], agg.mean_gradient("none")[0]):
        assert torch.equal(total["w"], plain["w"])
    assert agg.weights == {0: 1.0, 1: 1.0, 2: 1.0}


@pytest.mark.parametrize("balance", ["norm", "path_length"])
def test_balancing_keeps_exactly_once_under_replays_stale_chunks_and_any_order(balance):
    gen = torch.Generator().manual_seed(1)
    chunks = [chunk(t, s, {"w": torch.randn(50, generator=gen) * 10 ** (2 * t)},
                    0.1 * (s + 1) * 10 ** t) for t in range(3) for s in range(4)]
    reference = MetaStepAggregator(0, 3)
    for c in chunks:
        reference.add(c)
    expected, _ = reference.mean_gradient(balance)
    for trial in range(4):
        agg, rng = MetaStepAggregator(0, 3), random.Random(trial)
        stale = chunk(1, 9, {"w": torch.full((50,), 1e6)}, 1e6, attempt=3)  # another attempt
        arrivals = _interleave(chunks, rng)
        arrivals.insert(rng.randrange(len(arrivals) + 1), stale)
        arrivals += rng.sample(chunks, 5)  # replays (after the originals: a task sums in order)
        for c in arrivals:
            agg.add(c)
        assert (agg.duplicates, agg.stale) == (5, 1)
        total, n = agg.mean_gradient(balance)
        assert n == 3 and torch.equal(total["w"], expected["w"])


def _interleave(chunks, rng):
    """A random interleaving of the tasks' streams that keeps each task's own order."""
    streams = {t: [c for c in chunks if c.task == t] for t in range(3)}
    out = []
    while any(streams.values()):
        out.append(streams[rng.choice([t for t, s in streams.items() if s])].pop(0))
    return out


def test_a_lost_task_is_balanced_on_its_kept_prefix():
    """keep_partial: the weight comes from the prefix that counts (its sum and its d₁)."""
    agg = MetaStepAggregator(0, 2)
    agg.add(chunk(0, 0, {"w": torch.tensor([4.0, 0.0])}, 2.0, final=True))
    agg.add(chunk(1, 0, {"w": torch.tensor([0.0, 1.0])}, 1.0))  # then its worker died
    assert balance_weights([agg.tasks[0], agg.tasks[1]], "path_length") == [0.75, 1.5]
    total, _ = agg.mean_gradient("norm")
    assert torch.equal(total["w"], torch.tensor([2.5, 2.5]))


def test_a_task_that_moved_nothing_keeps_weight_1_and_leaves_the_common_norm_alone():
    agg = MetaStepAggregator(0, 3)
    for t, g in enumerate([[3.0, 0.0], [0.0, 0.0], [0.0, 1.0]]):
        agg.add(chunk(t, 0, {"w": torch.tensor(g)}, 0.0 if t == 1 else 1.0, final=True))
    total, n = agg.mean_gradient("norm")
    assert n == 3 and torch.equal(total["w"], torch.tensor([2.0, 2.0]))
    assert agg.weights[1] == 1.0


def test_the_async_batch_balances_its_contributing_tasks_alike():
    batch = Batch(0)
    for n, (g, status) in enumerate([([1.0, 0.0], "completed"), ([0.0, 1000.0], "partial"),
                                     ([7.0, 7.0], "dropped")]):
        tally_agg = MetaStepAggregator(0, 1)
        tally_agg.add(chunk(0, 0, {"w": torch.tensor(g)}, 1.0))
        batch.tasks[n] = tally_agg.tasks[0]
        batch.records.append(TaskRecord(Assignment(0, n, "Pong", n, 10), status=status))
    total, count = batch.mean_gradient("norm")
    assert count == 2 and torch.allclose(total["w"], torch.tensor([500.5, 500.5]))
    assert set(batch.weights) == {0, 1}


def test_tasks_jsonl_rows_give_each_games_share_of_the_squared_norm():
    """The rows' norm, weight and cosine give shares that sum to 1 and match the vectors."""
    agg = two_tasks()
    records = [TaskRecord(Assignment(0, t, g, t, 10), status="completed")
               for t, g in enumerate(["Freeway", "Asterix"])]
    for balance, freeway in (("none", 1.0 / 1_000_001.0), ("norm", 0.5)):
        agg.mean_gradient(balance)
        rows = [RunLog._task_row(0, agg, r) for r in records]
        assert rows[1]["meta_gradient_norm"] == pytest.approx(1000.0)
        shares = shares_script.game_shares(rows)
        assert shares["Freeway"]["share"] == pytest.approx(freeway)
        assert sum(s["share"] for s in shares.values()) == pytest.approx(1.0)


def test_the_config_takes_the_three_modes_and_explains_a_wrong_one():
    assert load_config(None, []).meta.balance == "none"
    assert load_config(None, ["meta.balance=norm"]).meta.balance == "norm"
    with pytest.raises(ConfigError, match="path_length"):
        load_config(None, ["meta.balance=lengths"])
