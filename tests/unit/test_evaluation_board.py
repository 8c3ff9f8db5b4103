"""Each evaluation run's curve as its own TensorBoard run (evaluation.plots.write_tensorboard)."""

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from leap_rl.evaluation.plots import write_tensorboard


def points(directory, tag):
    events = EventAccumulator(str(directory))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_each_init_game_seed_is_its_own_run(tmp_path):
    runs = {("MinAtar/Freeway", "leap", 3): (np.array([100, 200]), np.array([1.0, 3.0]), 200),
            ("MinAtar/Freeway", "random", 3): (np.array([100]), np.array([0.0]), 200)}
    write_tensorboard(tmp_path, runs, window=1)
    game = tmp_path / "eval" / "MinAtar" / "Freeway"
    assert points(game / "leap" / "seed3", "eval/episodic_return") == [(100, 1.0), (200, 3.0)]
    assert points(game / "random" / "seed3", "eval/episodic_return") == [(100, 0.0)]
    assert points(game / "leap" / "mean", "eval/moving_average")
    assert sorted(p.name for p in (game / "leap").iterdir()) == ["mean", "seed3"]
