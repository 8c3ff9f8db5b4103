"""Evaluation statistics against hand-computed values (the paired bootstrap on cases whose answer
is known), and `report` reproducing summary.json for every method."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from leap_rl.evaluation import report
from leap_rl.evaluation.stats import (
    auc,
    bootstrap_difference,
    comparisons,
    final_score,
    mean_std,
    moving_average,
    normalize,
    normalizer,
    on_grid,
    paired_bootstrap,
    summarize,
    summarize_game,
)

SQRT2 = math.sqrt(2)


def test_moving_average_is_trailing_and_shorter_at_the_start():
    # window 2: [1], [1,3], [3,5], [5,7] -> 1, 2, 4, 6
    np.testing.assert_allclose(moving_average([1, 3, 5, 7], 2), [1, 2, 4, 6])
    # window 10 > n: running mean 1, 2, 3, 4
    np.testing.assert_allclose(moving_average([1, 3, 5, 7], 10), [1, 2, 3, 4])
    assert len(moving_average([], 5)) == 0
    with pytest.raises(ValueError):
        moving_average([1.0], 0)


def test_final_score_is_the_mean_of_the_last_window_episodes():
    assert final_score([1, 3, 5, 7], 3) == 5.0  # (3 + 5 + 7) / 3
    assert final_score([1, 3, 5, 7], 10) == 4.0  # all four
    assert math.isnan(final_score([], 3))


def test_auc_by_hand():
    # m = 1 on [0, 30) (first value held back to 0), 3 on [30, 40]: (30·1 + 10·3) / 40 = 1.5
    assert auc([10, 30], [1, 3], 40) == pytest.approx(1.5)
    # Two episodes ending at the same step: the earlier value has zero width.
    # boundaries 0, 20, 20, 50, 100 -> widths 20, 0, 30, 50: (40 + 0 + 180 + 400) / 100 = 6.2
    assert auc([0, 20, 20, 50], [2, 4, 6, 8], 100) == pytest.approx(6.2)
    assert auc([70], [5], 100) == 5.0  # one episode: a constant curve
    assert math.isnan(auc([], [], 100))
    # A total below the last episode step is widened to it: widths 30, 0 -> 30 / 30
    assert auc([10, 30], [1, 3], 20) == pytest.approx(1.0)


def test_on_grid_holds_the_last_value_and_is_nan_before_the_first_episode():
    out = on_grid([10, 30], [1.0, 3.0], np.array([0, 10, 29, 30, 40]))
    np.testing.assert_array_equal(out, [np.nan, 1, 1, 3, 3])


def test_mean_std_ignores_nans_and_is_zero_for_one_value():
    mean, std = mean_std(np.array([[1.0, np.nan, np.nan], [3.0, 5.0, np.nan]]))
    np.testing.assert_allclose(mean, [2.0, 5.0, np.nan])
    np.testing.assert_allclose(std, [SQRT2, 0.0, np.nan])  # sample std of (1, 3) = √2


def test_normalization_by_hand():
    # random runs 2, 4, 6: mean 4, sample std √((4 + 0 + 4) / 2) = 2; x = 8 -> (8 − 4) / 2 = 2
    norm = normalizer([2, 4, 6])
    assert (norm["mean"], norm["std"], norm["rule"]) == (4.0, 2.0, "std")
    assert normalize(8.0, norm) == 2.0
    np.testing.assert_allclose(normalize(np.array([2.0, 4.0, 6.0]), norm), [-1, 0, 1])


@pytest.mark.parametrize("baseline, mean", [([3, 3, 3], 3.0), ([7], 7.0), ([7, math.nan], 7.0)])
def test_normalization_falls_back_to_the_plain_difference(baseline, mean):
    # std 0 (all equal) or undefined (one seed): scale 1, so the score is x − mean
    norm = normalizer(baseline)
    assert norm["mean"] == mean and norm["scale"] == 1.0 and norm["rule"].startswith("unit")
    assert normalize(mean + 2, norm) == 2.0


def test_normalization_without_baseline_is_nan():
    assert math.isnan(normalize(1.0, normalizer([])))


def test_bootstrap_ci_by_hand():
    # per-seed differences d = (3 − 2, 5 − 2) = (1, 3); resampled means are 1, 2, 3 with
    # probabilities 1/4, 1/2, 1/4, so both 2.5 % tails fall on the extremes: CI [1, 3]
    ci = bootstrap_difference({0: 3.0, 1: 5.0}, {0: 2.0, 1: 2.0})
    assert ci == {"mean": 2.0, "low": 1.0, "high": 3.0, "n": 2, "note": None}
    assert bootstrap_difference({0: 3.0, 1: 5.0}, {0: 2.0, 1: 2.0}) == ci  # seeded


def test_constant_differences_give_a_zero_width_interval_at_that_value():
    # Seeds differ wildly (100·s), the methods by exactly 1.5 on every seed: the resampled
    # seeds all have difference 1.5, so the paired interval is the point 1.5 — where an
    # unpaired comparison of two spreads of ±100 would conclude nothing.
    a = {s: 100.0 * s + 1.5 for s in range(6)}
    b = {s: 100.0 * s for s in range(6)}
    ci = bootstrap_difference(a, b)
    assert (ci["mean"], ci["low"], ci["high"], ci["n"]) == (1.5, 1.5, 1.5, 6)
    assert ci["note"] == "all differences equal"


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_differences_of_one_sign_give_an_interval_of_that_sign(sign):
    d = sign * np.array([0.5, 1.0, 2.0, 0.2, 3.0, 1.1, 0.7, 0.9, 1.6, 0.4])
    ci = paired_bootstrap(d)
    assert ci["n"] == 10 and ci["mean"] == pytest.approx(d.mean())
    # every resample mean lies between min d and max d, so the interval has d's sign
    assert d.min() <= ci["low"] < ci["mean"] < ci["high"] <= d.max()
    assert (ci["low"] > 0) if sign > 0 else (ci["high"] < 0)


def test_swapping_the_methods_mirrors_the_interval():
    rng = np.random.default_rng(3)
    a = dict(enumerate(rng.normal(1.0, 2.0, size=8)))
    b = dict(enumerate(rng.normal(0.0, 2.0, size=8)))
    ab, ba = bootstrap_difference(a, b), bootstrap_difference(b, a)
    assert ab["mean"] == pytest.approx(-ba["mean"])
    assert (ab["low"], ab["high"]) == pytest.approx((-ba["high"], -ba["low"]))


def test_paired_bootstrap_matches_a_direct_percentile_bootstrap():
    # The same paired percentile bootstrap by hand (resample seeds, take the mean): the two
    # generators differ, so the endpoints agree to Monte-Carlo error only.
    d = np.array([2.0, -1.0, 4.0, 0.5, 3.0, 1.0, -0.5, 2.5])
    means = d[np.random.default_rng(1).integers(0, 8, size=(20_000, 8))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    ci = paired_bootstrap(d)
    assert ci["low"] == pytest.approx(low, abs=0.1) and ci["high"] == pytest.approx(high, abs=0.1)


def test_bootstrap_edge_cases():
    # One seed: a mean but no interval (one pair says nothing about seed-to-seed spread).
    one = bootstrap_difference({4: 2.5}, {4: 1.0})
    assert one["mean"] == 1.5 and one["n"] == 1 and one["note"].startswith("fewer than 2")
    assert math.isnan(one["low"]) and math.isnan(one["high"])
    # Pairs only: seed 1 is the only seed both have (d = 2 − 0); NaN pairs are dropped.
    assert bootstrap_difference({0: 1.0, 1: 2.0, 3: math.nan}, {1: 0.0, 2: 5.0, 3: 1.0})["n"] == 1
    none = bootstrap_difference({0: 1.0}, {1: 1.0})
    assert none["n"] == 0 and math.isnan(none["mean"]) and math.isnan(none["low"])
    d = bootstrap_difference({s: float(s * s) for s in range(5)}, {s: 0.0 for s in range(5)})
    assert 0 <= d["low"] < d["mean"] == 6.0 < d["high"] <= 16  # within [min d, max d]


def test_comparisons_are_each_method_against_random_then_pairs_in_order():
    assert comparisons(["leap", "random"]) == [("leap", "random")]
    assert comparisons(["leap", "reptile", "joint", "random"]) == [
        ("leap", "random"), ("reptile", "random"), ("joint", "random"),
        ("leap", "reptile"), ("leap", "joint"), ("reptile", "joint")]


def _toy_runs():
    """Two seeds per method, two episodes each at steps 10 and 30 of 40, window 2."""
    returns = {("random", 0): [0, 2], ("random", 1): [2, 4], ("leap", 0): [4, 6],
               ("leap", 1): [6, 8]}
    return {key: (np.array([10, 30]), np.array(r, dtype=float), 40)
            for key, r in returns.items()}


def test_summarize_game_by_hand():
    g = summarize_game(_toy_runs(), window=2)
    # finals (mean of both episodes): random 1, 3; leap 5, 7
    # AUCs: ma (a, b) -> (30·a + 10·b) / 40: random (0,1) 0.25, (2,3) 2.25; leap 4.25, 6.25
    assert g["methods"]["random"]["final"]["per_seed"] == {"0": 1.0, "1": 3.0}
    assert g["methods"]["leap"]["auc"]["per_seed"] == {"0": 4.25, "1": 6.25}
    # random finals: mean 2, sample std √2 -> leap normalized (5 − 2)/√2, (7 − 2)/√2, mean 2√2
    assert g["normalizer"]["final"] == {"mean": 2.0, "std": pytest.approx(SQRT2),
                                        "scale": pytest.approx(SQRT2), "rule": "std"}
    leap_norm = g["methods"]["leap"]["final_normalized"]
    assert leap_norm["mean"] == pytest.approx(2 * SQRT2)
    assert leap_norm["per_seed"]["1"] == pytest.approx(5 / SQRT2)
    random_norm = g["methods"]["random"]["final_normalized"]
    assert random_norm["mean"] == pytest.approx(0) and random_norm["std"] == pytest.approx(1)
    # differences 5 − 1 = 7 − 3 = 4 and 4.25 − 0.25 = 6.25 − 2.25 = 4: degenerate CI
    assert list(g["differences"]) == ["leap - random"]
    for q in ("final", "auc"):
        assert g["differences"]["leap - random"][q] == {
            "mean": 4.0, "low": 4.0, "high": 4.0, "n": 2, "note": "all differences equal"}


def test_summarize_game_with_three_methods():
    runs = _toy_runs()
    # reptile: finals 2 and 5 (seed 0: returns 2, 2; seed 1: 4, 6)
    runs[("reptile", 0)] = (np.array([10, 30]), np.array([2.0, 2.0]), 40)
    runs[("reptile", 1)] = (np.array([10, 30]), np.array([4.0, 6.0]), 40)
    g = summarize_game(runs, window=2, methods=["reptile", "leap"])
    assert list(g["methods"]) == ["reptile", "leap", "random"]
    assert list(g["differences"]) == ["reptile - random", "leap - random", "reptile - leap"]
    # reptile − random: finals (2 − 1, 5 − 3) = (1, 2); reptile − leap: (2 − 5, 5 − 7) = (−3, −2)
    assert g["differences"]["reptile - random"]["final"]["mean"] == 1.5
    vs_leap = g["differences"]["reptile - leap"]
    assert (vs_leap["a"], vs_leap["b"]) == ("reptile", "leap")
    assert vs_leap["final"]["mean"] == -2.5 and vs_leap["final"]["high"] <= -2.0
    # normalized by the random runs only (mean 2, std √2): reptile (0, 3/√2)
    assert g["methods"]["reptile"]["final_normalized"]["per_seed"] == {
        "0": pytest.approx(0.0), "1": pytest.approx(3 / SQRT2)}


def test_summarize_across_games():
    runs = {("Pong", m, s): r for (m, s), r in _toy_runs().items()}
    runs[("Breakout", "leap", 0)] = (np.array([5]), np.array([1.0]), 10)
    runs[("Breakout", "random", 0)] = (np.array([5]), np.array([1.0]), 10)
    summary = summarize(runs, window=2)
    assert list(summary["games"]) == ["Breakout", "Pong"]
    # Breakout: one random seed -> unit scale, leap normalized 1 − 1 = 0; Pong: 2√2
    assert summary["overall"]["final_normalized"]["leap"] == pytest.approx(SQRT2)
    assert summary["methods"] == ["leap", "random"]
    # Pong's interval is the point 4 > 0; Breakout's one seed gives none
    assert summary["overall"]["games"] == 2
    assert summary["overall"]["ci_above_zero"] == {"leap - random": 1}
    assert summary["overall"]["final_ci_above_zero"] == {"leap - random": 1}
    assert summary["overall"]["final_ci_below_zero"] == {"leap - random": 0}
    flipped = summarize({(g, "random" if m == "leap" else "leap", s): r
                         for (g, m, s), r in runs.items()}, window=2)["overall"]
    assert flipped["final_ci_below_zero"] == {"leap - random": 1}
    assert flipped["final_ci_above_zero"] == {"leap - random": 0}


def _write_evaluation(out, runs, extra_runs=(), settings=None):
    """A synthetic evaluation: curves.csv and evaluation.json; without ``settings`` in the
    layout of evaluations before named inits (one init, its path at the top)."""
    out.mkdir()
    records = []
    for (game, method, seed), (steps, returns, total) in runs.items():
        report.append_curves(out / "curves.csv", game, method, seed, zip(steps, returns), 3)
        records.append({"game": game, "method": method, "seed": seed, "steps": total,
                        "status": "completed", "agent_steps": total})
    meta = {"window": 3, "runs": records + list(extra_runs)}
    meta.update({"settings": settings} if settings else {"init": "x/encoder.pt", "steps": 40})
    (out / "evaluation.json").write_text(json.dumps(meta))


def test_report_reproduces_summary_from_curves(tmp_path, capsys):
    rng = np.random.default_rng(0)
    runs = {}
    for game in ("Pong", "Breakout"):
        for method in ("leap", "random"):
            for seed in (0, 1, 2):
                steps = np.sort(rng.integers(1, 4000, size=12))
                runs[(game, method, seed)] = (steps, rng.normal(5, 3, size=12), 4000)
    empty = {"game": "Pong", "method": "leap", "seed": 3, "status": "completed",
             "agent_steps": 4000}  # finished no episode: present, with null scores
    failed = {"game": "Pong", "method": "random", "seed": 3, "status": "failed",
              "agent_steps": 1200}  # left out
    _write_evaluation(tmp_path / "eval", runs, [empty, failed])
    first = report.render(tmp_path / "eval")
    text = (tmp_path / "eval" / "summary.json").read_text()
    second = report.render(tmp_path / "eval", plots=False)
    assert first == second and (tmp_path / "eval" / "summary.json").read_text() == text
    runs[("Pong", "leap", 3)] = (np.zeros(0, int), np.zeros(0), 4000)
    direct = report.clean_json({**summarize(runs, 3), "steps": 40, "failed": ["Pong/random/seed 3"],
                                "inits": {"leap": {"path": "x/encoder.pt"}}})
    assert json.loads(text) == json.loads(json.dumps(direct))
    assert first["games"]["Pong"]["methods"]["leap"]["final"]["per_seed"]["3"] is None
    assert first["games"]["Pong"]["methods"]["random"]["seeds"] == [0, 1, 2]
    for name in ("Pong.png", "Breakout.png", "summary.png"):
        assert (tmp_path / "eval" / "plots" / name).stat().st_size > 1000
    table = capsys.readouterr().out
    assert "Breakout" in table and "leap − random" in table and "mean normalized score" in table
    assert "failed: Pong/random/seed 3" in table


def test_report_covers_every_method_in_the_order_given(tmp_path, capsys):
    rng = np.random.default_rng(1)
    runs = {("Pong", m, s): (np.sort(rng.integers(1, 400, size=8)), rng.normal(mu, 1, size=8), 400)
            for m, mu in (("reptile", 3), ("leap", 6), ("random", 0)) for s in (0, 1, 2)}
    settings = {"methods": ["reptile", "leap", "random"], "steps": 400,
                "inits": {"reptile": {"path": "b.pt"}, "leap": {"path": "a.pt"}}}
    _write_evaluation(tmp_path / "eval", runs, settings=settings)
    summary = report.render(tmp_path / "eval")
    assert summary["methods"] == ["reptile", "leap", "random"]
    assert set(summary["games"]["Pong"]["differences"]) == {
        "reptile - random", "leap - random", "reptile - leap"}
    assert summary["inits"] == settings["inits"] and summary["failed"] == []
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split()[1] for line in lines if line.startswith("Pong")]
    assert rows == ["reptile", "leap", "random"]
    diffs = [line.split("(n=")[0].strip() for line in lines if "(n=3)" in line]
    assert diffs == ["reptile − random", "leap − random", "reptile − leap"]
    assert (tmp_path / "eval" / "plots" / "Pong.png").stat().st_size > 1000


def test_report_on_a_directory_without_an_evaluation_is_an_artifact_error(tmp_path):
    from leap_rl.io.artifacts import ArtifactError

    with pytest.raises(ArtifactError, match="evaluation.json"):
        report.render(tmp_path)
    (tmp_path / "evaluation.json").write_text(json.dumps({"window": 3, "runs": []}))
    (tmp_path / "curves.csv").write_text("game,seed\nPong,0\n")
    with pytest.raises(ArtifactError, match="expected columns"):
        report.render(tmp_path)
