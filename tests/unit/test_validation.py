"""Meta-validation's pure parts: the gain metric, the baseline cache, the history, the config."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

from leap_rl.config import ConfigError, baseline_config, load_config
from leap_rl.core.seeds import task_seed
from leap_rl.validation.cache import BaselineCache, baseline_key, digest
from leap_rl.validation.history import ValidationHistory
from leap_rl.validation.metric import game_gain, mean_gain, run_auc, tensorboard_scalars

MINATAR = ["meta.pool=[MinAtar/Asterix, MinAtar/Freeway]", "meta.meta_batch_size=2",
           "inner.encoder=minatar"]


# The metric.

def test_run_auc_is_the_evaluations_and_missing_without_episodes():
    # One episode of return 2 at step 50 of 100: the curve is 2 from 0 to 100.
    assert run_auc([(50, 2.0)], 100, window=10) == pytest.approx(2.0)
    # Returns 0 then 4 (window 1): 0 until step 50, 4 after: mean 2.
    assert run_auc([(10, 0.0), (50, 4.0)], 100, window=1) == pytest.approx((50 * 0.0 + 50 * 4.0) / 100)
    assert run_auc([], 100, window=10) is None


def test_gain_is_normalized_by_randoms_spread_over_seeds():
    parts = game_gain([5.0, 7.0], [1.0, 3.0], std_floor=0.1, std_floor_relative=0.0)
    std = math.sqrt(2.0)  # sample std of (1, 3)
    assert parts["std_random"] == pytest.approx(std) and parts["scale"] == pytest.approx(std)
    assert parts["gain"] == pytest.approx((6.0 - 2.0) / std)
    # Scaling every return scales the AUCs but not the gain (table 6's point).
    scaled = game_gain([50.0, 70.0], [10.0, 30.0], std_floor=0.1, std_floor_relative=0.0)
    assert scaled["gain"] == pytest.approx(parts["gain"])


def test_the_floor_keeps_a_game_whose_random_auc_does_not_vary_finite():
    flat = game_gain([3.0, 3.0], [1.0, 1.0], std_floor=0.1, std_floor_relative=0.0)
    assert flat["std_random"] == 0.0 and flat["gain"] == pytest.approx(20.0)
    relative = game_gain([3.0, 3.0], [10.0, 10.0], std_floor=0.1, std_floor_relative=0.05)
    assert relative["scale"] == pytest.approx(0.5) and relative["gain"] == pytest.approx(-14.0)
    one_seed = game_gain([3.0], [1.0], std_floor=0.5, std_floor_relative=0.0)
    assert one_seed["std_random"] is None and one_seed["gain"] == pytest.approx(4.0)


def test_missing_runs_are_left_out_never_counted_as_zero():
    parts = game_gain([4.0, None], [1.0, 3.0, None], std_floor=0.1, std_floor_relative=0.0)
    assert parts["auc_init"] == 4.0 and parts["missing_init"] == 1 and parts["missing_random"] == 1
    assert parts["gain"] == pytest.approx((4.0 - 2.0) / math.sqrt(2.0))
    gone = game_gain([None, None], [1.0, 3.0], std_floor=0.1, std_floor_relative=0.0)
    assert gone["gain"] is None and gone["auc_init"] is None
    games = {"A": parts, "B": gone}
    assert mean_gain(games) == pytest.approx(parts["gain"])  # B is not a 0 in the mean
    assert mean_gain({"B": gone}) is None
    scalars = tensorboard_scalars(games, mean_gain(games))
    assert set(scalars) == {"validation/gain", "validation/A/gain", "validation/A/auc_init",
                            "validation/A/auc_random", "validation/B/auc_random"}
    assert all(math.isfinite(v) for v in scalars.values())


# The baseline cache.

def test_the_key_holds_everything_that_determines_a_random_run():
    cfg = load_config(None, MINATAR)
    key = baseline_key(cfg, "MinAtar/Breakout", 7, 1000)
    assert digest(key) == digest(baseline_key(load_config(None, MINATAR), "MinAtar/Breakout", 7, 1000))
    for other in (baseline_key(cfg, "MinAtar/Breakout", 8, 1000),
                  baseline_key(cfg, "MinAtar/Breakout", 7, 2000),
                  baseline_key(cfg, "MinAtar/Seaquest", 7, 1000),
                  baseline_key(load_config(None, MINATAR + ["inner.learning_rate=1e-3"]),
                               "MinAtar/Breakout", 7, 1000),
                  baseline_key(load_config(None, MINATAR + ["env.minatar.sticky_action_prob=0"]),
                               "MinAtar/Breakout", 7, 1000)):
        assert digest(other) != digest(key)
    # Settings that do not touch a random run (meta-training's own) leave the key alone.
    assert digest(baseline_key(load_config(None, MINATAR + ["meta.learning_rate=0.5"]),
                               "MinAtar/Breakout", 7, 1000)) == digest(key)


def test_the_baseline_overrides_reach_the_key():
    cfg = load_config(None, MINATAR + ["validation.games=[MinAtar/Breakout]",
                                       "validation.baseline={inner.learning_rate: 0.008}"])
    base = baseline_config(cfg)
    assert base.inner.learning_rate == 0.008 and cfg.inner.learning_rate != 0.008
    assert digest(baseline_key(base, "MinAtar/Breakout", 1, 10)) != \
        digest(baseline_key(cfg, "MinAtar/Breakout", 1, 10))


def test_cache_round_trip_and_the_first_entry_stays(tmp_path):
    cache = BaselineCache(tmp_path / "cache")
    key = {"format": 1, "game": "MinAtar/Breakout", "seed": 3, "steps": 10}
    assert cache.get(key) is None
    first = cache.put(key, {"agent_steps": 10, "episodes": [[5, 1.0]], "seconds": 1.0})
    again = cache.put(key, {"agent_steps": 10, "episodes": [[6, 9.0]], "seconds": 2.0})
    assert again == first == cache.get(key) and first["episodes"] == [[5, 1.0]]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [cache.path(key).name]
    assert cache.get({**key, "seed": 4}) is None


def test_concurrent_writers_of_one_key_leave_one_whole_entry(tmp_path):
    cache = BaselineCache(tmp_path)
    key = {"format": 1, "game": "G", "seed": 1, "steps": 10}
    run = {"agent_steps": 10, "episodes": [[i, float(i)] for i in range(2000)], "seconds": 1.0}
    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.put(key, run))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g == got[0] for g in got) and cache.get(key) == got[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.path(key).name]  # no temp left
    json.loads(cache.path(key).read_text())


# The history.

def test_history_keeps_the_best_counts_patience_and_reloads(tmp_path):
    history = ValidationHistory(tmp_path, patience=2)
    assert history.add({"meta_step": 1, "gain": 0.5}) is True
    assert history.add({"meta_step": 2, "gain": None}) is False  # missing: no improvement
    assert not history.exhausted
    assert history.add({"meta_step": 3, "gain": 0.4}) is False and history.exhausted
    rows = [json.loads(line) for line in (tmp_path / "validation.jsonl").read_text().splitlines()]
    assert [r["best"] for r in rows] == [True, False, False] and rows[2]["best_meta_step"] == 1
    again = ValidationHistory(tmp_path, patience=2)
    again.load(completed=2)  # a resume from the checkpoint after meta-step 2
    assert (again.best_gain, again.best_meta_step, again.since_best) == (0.5, 1, 1)
    assert len((tmp_path / "validation.jsonl").read_text().splitlines()) == 2


# The config.

def test_the_commented_minatar_example_is_a_valid_in_pool_validation(tmp_path):
    text = (Path(__file__).parents[2] / "configs" / "minatar.yaml").read_text()
    block = text.split("# validation:\n")[1]
    uncommented = "validation:\n" + "\n".join(line[2:] for line in block.splitlines())
    path = tmp_path / "minatar.yaml"
    path.write_text(text + "\n" + uncommented + "\n")
    v = load_config(path).validation
    assert v.in_pool and v.games == ["MinAtar/Asterix", "MinAtar/Seaquest"]
    assert not set(v.games) & {"MinAtar/Breakout", "MinAtar/SpaceInvaders"}  # the held-out games


def test_validation_is_off_by_default_and_documented():
    cfg = load_config(None)
    assert not cfg.validation.enabled
    assert "80,000 agent steps" in type(cfg.validation).model_fields["steps"].description


@pytest.mark.parametrize("overrides, fragment", [
    (["validation.games=[MinAtar/Asterix]"], "are in meta.pool"),
    (["validation.games=[Pong]"], "of meta.pool's family"),
    (["validation.games=[MinAtar/Breakout]", "meta.mode=async"], "sync only"),
    (["validation.games=[MinAtar/Breakout]", "validation.baseline={inner.learning_rate: -1}"],
     "validation.baseline: inner.learning_rate"),
    (["validation.games=[MinAtar/Breakout]", "validation.baseline={meta.learning_rate: 1}"],
     "only inner.* settings"),
])
def test_bad_validation_sections_are_config_errors(overrides, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(None, MINATAR + overrides)
    assert fragment in str(err.value)
    assert any(p.startswith("validation.") for p in err.value.problems), err.value.problems


def test_in_pool_validation_needs_seeds_apart_from_every_task_seed():
    ok = load_config(None, MINATAR + ["validation.games=[MinAtar/Asterix]", "validation.in_pool=true"])
    assert ok.validation.in_pool
    clash = task_seed(0, 1, 1)  # meta-step 2's second task
    with pytest.raises(ConfigError, match="meta-step 2, task 1"):
        load_config(None, MINATAR + ["validation.games=[MinAtar/Asterix]", "validation.in_pool=true",
                                     "meta.meta_steps=3", f"validation.first_seed={clash - 2}"])
