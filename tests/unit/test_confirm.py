"""The confirmation's primary statistic: normalization, bootstrap p-value, Holm (stand-in numbers:
the point is the arithmetic)."""

import math

import numpy as np
import pytest

from leap_rl.evaluation.bootstrap import (
    hierarchical_bootstrap,
    hierarchical_contrast,
    hierarchical_p_value,
    holm_levels,
)
from leap_rl.evaluation.confirm import (
    game_gain,
    holm_judgement,
    method_contrast,
    normalized_differences,
)


def test_differences_are_normalized_by_randoms_spread_over_shared_seeds():
    random = {0: 1.0, 1: 3.0, 2: 2.0}  # sd 1
    members = [{0: 2.0, 1: 5.0}, {1: 3.0, 2: 2.5, 7: 9.0}]  # seed 7 has no random run
    groups, norm = normalized_differences(members, random)
    assert norm["std"] == pytest.approx(1.0)
    assert groups[0] == pytest.approx([1.0, 2.0])
    assert groups[1] == pytest.approx([0.0, 0.5])
    random2 = {s: 2 * v for s, v in random.items()}
    doubled = [{s: 2 * v for s, v in m.items()} for m in members]
    scaled = normalized_differences(doubled, random2)[0]  # scale-free
    assert all(a == pytest.approx(b) for a, b in zip(scaled, groups))


def test_p_value_is_small_for_a_clear_effect_and_large_for_none():
    rng = np.random.default_rng(1)
    clear = [list(rng.normal(1.0, 0.3, 30)) for _ in range(3)]
    none = [list(rng.normal(0.0, 1.0, 30)) for _ in range(3)]
    assert hierarchical_p_value(clear) < 0.001
    assert hierarchical_p_value(none) > 0.05
    assert hierarchical_p_value([[1.0, 2.0]]) != hierarchical_p_value([[1.0, 2.0]])  # NaN


@pytest.mark.parametrize("shift", [0.0, 0.25, 0.4, 0.6, 1.0])
def test_p_value_agrees_with_the_interval_on_the_same_resamples(shift):
    rng = np.random.default_rng(2)
    groups = [list(rng.normal(shift, 1.0, 30)) for _ in range(3)]
    p = hierarchical_p_value(groups)
    interval = hierarchical_bootstrap(groups)
    excludes = interval["low"] > 0 or interval["high"] < 0
    if abs(p - 0.05) > 0.005:  # away from the edge, where quantile interpolation decides
        assert excludes == (p < 0.05)


def test_holm_orders_by_p_and_relaxes_the_level_step_by_step():
    assert holm_levels({"a": 0.04, "b": 0.01}) == [("b", pytest.approx(0.975)),
                                                     ("a", pytest.approx(0.95))]
    order = holm_levels({"a": math.nan, "b": 0.3, "c": 0.2})
    assert [name for name, _ in order] == ["c", "b", "a"]
    assert [level for _, level in order] == pytest.approx([1 - 0.05 / 3, 0.975, 0.95])


def _game(effect: float, seed: int) -> tuple[list[dict], dict]:
    rng = np.random.default_rng(seed)
    random = {s: float(v) for s, v in enumerate(rng.normal(0, 1, 30))}
    members = [{s: v + effect + float(rng.normal(0, 0.5)) for s, v in random.items()}
               for _ in range(3)]
    return members, random


def test_holm_rejects_the_clear_game_and_judges_the_next_one():
    out = holm_judgement({"clear": _game(1.0, 3), "null": _game(0.0, 4)})
    assert out["clear"]["holm_rank"] == 0 and out["clear"]["level"] == pytest.approx(0.975)
    assert out["clear"]["rejected"]
    assert out["null"]["judged"] and out["null"]["level"] == pytest.approx(0.95)
    assert not out["null"]["rejected"]
    assert out["clear"]["mean"] == pytest.approx(game_gain(*_game(1.0, 3))["mean"])


def test_holm_stops_after_the_first_game_it_cannot_reject():
    out = holm_judgement({"a": _game(0.0, 5), "b": _game(0.0, 6)})
    first = min(out, key=lambda g: out[g]["holm_rank"])
    second = max(out, key=lambda g: out[g]["holm_rank"])
    assert out[first]["judged"] and not out[first]["rejected"]
    assert not out[second]["judged"] and not out[second]["rejected"]


def test_contrast_is_the_difference_of_the_two_estimates_and_detects_a_clear_gap():
    rng = np.random.default_rng(3)
    a = [list(rng.normal(1.0, 0.5, 10)) for _ in range(3)]
    b = [list(rng.normal(0.0, 0.5, 10)) for _ in range(3)]
    gap = hierarchical_contrast(a, b)
    assert gap["mean"] == pytest.approx(hierarchical_bootstrap(a)["mean"]
                                        - hierarchical_bootstrap(b)["mean"])
    assert 0 < gap["low"] < gap["mean"] < gap["high"]
    same = hierarchical_contrast(a, a)
    assert same["mean"] == 0 and same["low"] < 0 < same["high"]
    assert math.isnan(hierarchical_contrast(a, b[:1])["low"])  # one meta-seed: no interval


def test_method_contrast_pairs_each_method_with_random_on_its_own_seeds():
    random = {0: 1.0, 1: 3.0, 2: 2.0}  # sd 1
    a = [{0: 2.0, 1: 4.0, 2: 3.0}, {0: 3.0, 1: 5.0, 2: 4.0}]  # +1 and +2 over random
    b = [{0: 1.0, 1: 3.0}, {1: 3.0, 2: 2.0, 9: 0.0}]  # 0 over random; seed 9 unpaired
    out = method_contrast(a, b, random)
    assert out["mean"] == pytest.approx(1.5)
    assert out["n"] == [3, 3, 2, 2]
