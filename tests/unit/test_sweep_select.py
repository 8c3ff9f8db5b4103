"""The study's selection rules (leap_rl/sweep/select.py) on stand-in rows: the point is the
bookkeeping of each rule, so the numbers are made up and named as such."""

import json

import pytest

from leap_rl.sweep.select import arm_scores, final_gain, read_validations, relative_auc_choice


def rows(table: dict[str, dict[float, list[float]]]) -> list[dict]:
    """Stand-in results.csv rows: per game, per rate, one AUC per seed (as csv text)."""
    return [{"task.game": game, "inner.learning_rate": str(rate), "seed": str(s), "auc": str(a)}
            for game, per_rate in table.items() for rate, aucs in per_rate.items()
            for s, a in enumerate(aucs)]


def test_relative_auc_weighs_games_alike_whatever_their_return_scale():
    # Freeway's AUCs are 10× the others': by raw means its best rate (0.008) would win; relative
    # to each game's best, 0.004 is ahead on two games of three and wins.
    table = {"Freeway": {0.002: [20, 20], 0.004: [40, 40], 0.008: [50, 50]},
             "Asterix": {0.002: [2, 2], 0.004: [4, 4], 0.008: [1, 1]},
             "Seaquest": {0.002: [1, 1], 0.004: [2, 2], 0.008: [1, 1]}}
    result = relative_auc_choice(rows(table), value_key="inner.learning_rate")
    assert result["choice"] == 0.004 and not result["at_edge"]
    assert result["scores"][0.004] == pytest.approx((0.8 + 1 + 1) / 3)
    assert result["scores"][0.008] == pytest.approx((1 + 0.25 + 0.5) / 3)
    assert result["means"]["Freeway"][0.008] == 50


def test_a_choice_at_an_end_of_the_grid_is_flagged():
    table = {"A": {0.001: [1.0], 0.002: [2.0]}, "B": {0.001: [1.0], 0.002: [3.0]}}
    result = relative_auc_choice(rows(table), value_key="inner.learning_rate")
    assert result["choice"] == 0.002 and result["at_edge"]


def test_missing_aucs_are_left_out_of_the_mean_and_an_empty_cell_refused():
    data = rows({"A": {0.001: [1.0, 3.0], 0.002: [2.0, 2.0]}})
    data[0]["auc"] = ""  # a run without a finished episode: left out, not counted as 0
    assert relative_auc_choice(data, value_key="inner.learning_rate")["means"]["A"][0.001] == 3.0
    data[1]["auc"] = ""
    with pytest.raises(ValueError, match="no AUC"):
        relative_auc_choice(data, value_key="inner.learning_rate")


def test_the_final_validation_counts_not_the_best():
    records = [{"meta_step": 4, "gain": 2.0}, {"meta_step": 8, "gain": -0.5}]
    assert final_gain(records, 8) == -0.5
    assert final_gain(records, 6) is None
    assert final_gain([{"meta_step": 8, "gain": None}], 8) is None


def test_validations_are_read_from_the_trials_file(tmp_path):
    assert read_validations(tmp_path) == []
    (tmp_path / "validation.jsonl").write_text(json.dumps({"meta_step": 4, "gain": 1.5}) + "\n")
    assert final_gain(read_validations(tmp_path), 4) == 1.5


def test_an_arm_with_a_missing_trial_has_no_score_and_ranks_last():
    trials = [{"arm": "a", "gain": 1.0}, {"arm": "a", "gain": 0.0},
              {"arm": "b", "gain": 3.0}, {"arm": "b", "gain": None},
              {"arm": "c", "gain": 0.1}]
    ranked = arm_scores(trials, ["arm"])
    assert [(r["arm"], r["score"]) for r in ranked] == [("a", 0.5), ("c", 0.1), ("b", None)]
    assert ranked[0]["trials"] == 2
