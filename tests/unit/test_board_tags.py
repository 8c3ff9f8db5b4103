"""The grouped TensorBoard tags of a meta-step (leap_rl.distributed.tags) and the layout and
hparams written with a run (leap_rl.distributed.board)."""

import math
from pathlib import Path

from leap_rl.config import load_config
from leap_rl.distributed.aggregator import TaskTally
from leap_rl.distributed.board import flat_config, hparam_metrics, layout
from leap_rl.distributed.metastep import TaskRecord
from leap_rl.distributed.tags import Objective, game_scalars, worker_scalars

SMOKE = Path(__file__).parents[2] / "configs" / "smoke.yaml"


def row(game, d1, d2, status="completed", episodes=0, budget=1000):
    return {"game": game, "d1": d1, "d2": d2, "status": status, "episodes": episodes,
            "steps": budget, "budget": budget, "skipped_segments": 0}


def test_objective_divides_each_game_by_its_first_drawn_value_and_keeps_it():
    objective, update = Objective(), {"grad_norm": 1.0, "update_norm": 0.1}
    first = objective.scalars([row("A", 2.0, 4.0), row("B", 100.0, 1e4)], update)
    assert first["objective/d1_ratio_mean"] == first["objective/d2_ratio_mean"] == 1.0
    later = objective.scalars([row("A", 1.0, 1.0), row("C", 5.0, 5.0),
                               row("B", 0.0, 0.0, status="failed")], update)
    assert later["objective/d1_ratio/A"] == 0.5 and later["objective/d2_ratio/A"] == 0.25
    assert later["objective/d1_ratio/C"] == 1.0 and "objective/d1_ratio/B" not in later
    assert later["objective/d1_ratio_mean"] == 0.75
    resumed = Objective(objective.reference)  # what the checkpoint carries
    again = resumed.scalars([row("B", 50.0, 2500.0)], update)
    assert again["objective/d1_ratio/B"] == 0.5 and again["objective/d2_ratio/B"] == 0.25


def test_games_summarize_each_task_and_leave_missing_returns_out():
    finished = TaskTally(episodes=[(50, 1.0, 9), (100, 3.0, 9), (500, 7.0, 9), (950, 10.0, 9)],
                         stats={"policy_loss": 0.5, "value_loss": 2.0, "entropy": 1.1})
    silent = TaskTally()
    out = game_scalars([row("MinAtar/Asterix", 1.0, 2.0, episodes=4),
                        row("MinAtar/Freeway", 3.0, 4.0)], [finished, silent])
    assert out["games/MinAtar/Asterix/return_early"] == 2.0
    assert out["games/MinAtar/Asterix/return_late"] == 10.0
    assert out["games/MinAtar/Asterix/policy_loss"] == 0.5
    assert out["games/MinAtar/Freeway/d2"] == 4.0 and out["games/MinAtar/Freeway/episodes"] == 0
    assert not any(k.startswith("games/MinAtar/Freeway/return") for k in out)


def test_utilization_is_busy_seconds_over_worker_seconds():
    records = [TaskRecord(None, status="completed", attempts=1, busy_s=3.0, startup_s=[1.0]),
               TaskRecord(None, status="partial", attempts=2, busy_s=1.0, startup_s=[1.0, 3.0])]
    out = worker_scalars(records, seconds=4.0, workers=2, replaced=1, steps=800)
    assert out["workers/utilization"] == 0.5 and out["workers/retries"] == 1.0
    assert out["workers/startup_seconds"] == 5.0 / 3 and out["workers/replacements"] == 1.0
    assert out["workers/agent_steps_per_second"] == 200.0
    assert math.isnan(worker_scalars([], 1.0, 1, 0, 0)["workers/startup_seconds"])


def test_layout_opens_with_the_objective_and_hparams_are_dotted_keys():
    cfg = load_config(SMOKE)
    assert list(layout(cfg))[0] == "objective" and list(layout(cfg))[-1] == "failures"
    validating = load_config(SMOKE, ["validation.games=[Breakout]", "validation.every=1"])
    assert list(layout(validating))[:2] == ["objective", "validation"]
    assert "validation/gain" in hparam_metrics(validating)
    assert "validation/gain" not in hparam_metrics(cfg)  # no empty column when off
    assert "objective/d2_ratio_mean" in hparam_metrics(cfg)
    flat = flat_config(cfg)
    assert flat["meta.steps_per_task"] == 2000
    assert flat["meta.pool"] == "['Pong', 'Freeway', 'Asterix']"
    assert all(isinstance(v, bool | int | float | str) for v in flat.values())


def test_task_curves_are_runs_of_their_own_and_a_retry_replaces_its_attempt(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from leap_rl.distributed.taskcurves import TAG, TaskCurves

    def points(directory):
        events = EventAccumulator(str(directory))
        events.Reload()
        return [(e.step, e.value) for e in events.Scalars(TAG)]

    curves = TaskCurves(tmp_path)
    curves.add(0, 0, 0, "MinAtar/Breakout", [(100, 1.0, 5), (100, 3.0, 5)])
    curves.add(0, 1, 0, "MinAtar/Freeway", [(100, 7.0, 5)])
    curves.add(0, 0, 1, "MinAtar/Breakout", [(100, 4.0, 5)])  # the retry starts over
    curves.add(0, 0, 1, "MinAtar/Breakout", [(200, 6.0, 5)])
    curves.close()
    assert points(tmp_path / "tasks" / "m0001" / "MinAtar" / "Breakout") == [(100, 4.0),
                                                                             (200, 6.0)]
    assert points(tmp_path / "tasks" / "m0001" / "MinAtar" / "Freeway") == [(100, 7.0)]
    assert load_config(SMOKE).run.task_curves is False
