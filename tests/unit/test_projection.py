"""The projection arithmetic of ``train --dry-run --calibrate`` (leap_rl.distributed.projection)."""

import pytest

from leap_rl.distributed.projection import devices_per_worker, packed_seconds, project, task_seconds

RATES, STARTUP = {"a": 100.0, "b": 50.0, "c": 25.0}, {"a": 1.0, "b": 1.0, "c": 1.0}


def test_task_seconds_is_startup_plus_steps_over_rate():
    assert task_seconds(100.0, 2.0, 1000) == 12.0


def test_packing_longest_first_onto_the_least_loaded_worker():
    # 5 → w0, 4 → w1, 3 → w1 (7), 3 → w0 (8), 3 → w1 (10): LPT, as a greedy scheduler places them
    assert packed_seconds([5, 4, 3, 3, 3], 2) == 10
    assert packed_seconds([10, 1, 1], 5) == 10  # more workers than tasks: the slowest task
    assert packed_seconds([2, 2, 2, 2], 1) == 8
    assert packed_seconds([], 3) == 0.0


def test_sync_waits_for_the_slowest_game_of_each_batch():
    p = project(RATES, STARTUP, [["a", "b"], ["a", "c"]], steps_per_task=1000, meta_steps=10,
                workers=2)
    assert p.task_s == {"a": 11.0, "b": 21.0, "c": 41.0}
    assert p.meta_step_s == pytest.approx((21.0 + 41.0) / 2)
    assert p.wall_s == pytest.approx(10 * 31.0) and p.devices == 2.0


def test_async_is_bound_by_throughput():
    p = project(RATES, STARTUP, [["a", "b"], ["a", "c"]], steps_per_task=1000, meta_steps=10,
                workers=2, mode="async")
    assert p.meta_step_s == pytest.approx(((11 + 21) / 2 + (11 + 41) / 2) / 2)


def test_validation_device_hours_and_cost():
    p = project(RATES, STARTUP, [["a"]], steps_per_task=1000, meta_steps=4, workers=4,
                validation=["c"], validation_seeds=2, validation_steps=100, validation_every=2,
                devices_per_worker=devices_per_worker(0.5), price_per_device_hour=3.0)
    assert p.validation_s == pytest.approx(5.0)  # two runs of 1 + 100/25 s side by side
    assert p.wall_s == pytest.approx(4 * 11.0 + 2 * 5.0)
    assert p.devices == 2.0 and p.device_hours == pytest.approx(p.wall_s / 3600 * 2)
    assert p.cost == pytest.approx(p.device_hours * 3.0)
    assert devices_per_worker(0.0) == 1.0
