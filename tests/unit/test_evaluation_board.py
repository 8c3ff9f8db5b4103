"""Each evaluation run's curve as its own TensorBoard run (leap_rl.evaluation.board)."""

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from leap_rl.evaluation.board import TAG, write_curve_run


def points(directory):
    events = EventAccumulator(str(directory))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(TAG)]


def test_each_run_is_its_own_run_and_a_rewrite_duplicates_nothing(tmp_path):
    record = {"game": "MinAtar/Freeway", "method": "leap", "seed": 3}
    episodes = [(100, 1.0), (100, 3.0), (200, 5.0)]
    first = write_curve_run(tmp_path, record, episodes)
    assert first == tmp_path / "tensorboard" / "eval" / "MinAtar" / "Freeway" / "leap" / "seed3"
    again = write_curve_run(tmp_path, record, episodes)  # an interrupted run finished again
    assert again == first and points(first) == [(100, 2.0), (200, 5.0)]
    other = write_curve_run(tmp_path, {**record, "method": "random"}, [(100, 0.0)])
    assert other != first and points(other) == [(100, 0.0)]
