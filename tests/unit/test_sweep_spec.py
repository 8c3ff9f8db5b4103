"""The sweep spec and its trials: grids, draws, folds, names and bad input (no Ray)."""

from pathlib import Path

import pytest

from leap_rl.sweep.spec import SweepError, parse_spec
from leap_rl.sweep.trials import agent_steps, build_trials, safe_name, value_text

SMOKE = str(Path(__file__).parents[2] / "configs" / "smoke.yaml")
MINATAR = str(Path(__file__).parents[2] / "configs" / "minatar.yaml")


def trials_of(data, overrides=()):
    return build_trials(parse_spec(data), list(overrides))


def test_grid_is_the_cartesian_product_with_validated_configs():
    trials = trials_of({"base": SMOKE, "axes": {"meta.learning_rate": [0.001, 0.01],
                                                "seed": [0, 1]}})
    assert [(t.cfg.meta.learning_rate, t.cfg.seed) for t in trials] == [
        (0.001, 0), (0.001, 1), (0.01, 0), (0.01, 1)]
    assert len({t.name for t in trials}) == 4
    assert trials[3].name == "003-learning_rate=0.01-seed=1"
    assert all(t.arm == {"meta.learning_rate": t.cfg.meta.learning_rate} for t in trials)


def test_set_changes_the_base_of_every_trial():
    trials = trials_of({"base": SMOKE, "axes": {"seed": [0, 1]}}, ["meta.meta_steps=5"])
    assert [t.cfg.meta.meta_steps for t in trials] == [5, 5]


def test_random_axes_are_seeded_and_in_range():
    data = {"base": SMOKE, "samples": 5, "sample_seed": 3,
            "axes": {"inner.learning_rate": {"loguniform": [1e-5, 1e-2]},
                     "inner.entropy_cost": {"uniform": [0.0, 0.1]},
                     "leap.metric": {"choice": ["length", "energy"]}, "seed": [0, 1]}}
    first, again = trials_of(data), trials_of(data)
    assert len(first) == 10
    assert [t.settings for t in first] == [t.settings for t in again]
    assert all(1e-5 <= t.cfg.inner.learning_rate <= 1e-2 for t in first)
    assert len({t.cfg.inner.learning_rate for t in first}) == 5  # one draw per sample
    assert {t.cfg.leap.metric for t in first} <= {"length", "energy"}


def test_same_leaf_keys_get_distinct_short_names():
    trials = trials_of({"base": SMOKE, "axes": {"meta.learning_rate": [0.001],
                                                "inner.learning_rate": [1e-05]}})
    assert trials[0].name == "000-meta.learning_rate=0.001-inner.learning_rate=1e-05"
    assert trials[0].cfg.inner.learning_rate == 1e-05


def test_leave_one_game_out_holds_each_pool_game_back():
    trials = trials_of({"base": MINATAR, "folds": "leave_one_game_out"})
    pool = ["MinAtar/Asterix", "MinAtar/Freeway", "MinAtar/Seaquest"]
    assert [t.fold for t in trials] == pool
    for trial in trials:
        assert trial.cfg.meta.pool == [g for g in pool if g != trial.fold]
        assert trial.cfg.meta.meta_batch_size == 2  # min(3, the 2 games left)
        assert "/" not in trial.name
        assert trial.cfg.validation.games == [trial.fold]
    assert trials[2].name == "002-fold=MinAtar-Seaquest"


def test_train_task_trials_take_their_game_from_an_axis():
    trials = trials_of({"base": MINATAR, "kind": "train-task",
                        "task": {"steps": 1000},
                        "axes": {"task.game": ["MinAtar/Asterix", "MinAtar/Freeway"],
                                 "inner.learning_rate": [0.002, 0.004]}})
    assert [(t.task["game"], t.cfg.inner.learning_rate) for t in trials][:2] == [
        ("MinAtar/Asterix", 0.002), ("MinAtar/Asterix", 0.004)]
    assert trials[0].task["init"] == "random"
    assert trials[0].name == "000-game=MinAtar-Asterix-learning_rate=0.002"
    assert sum(agent_steps(t) for t in trials) == 4000


def test_projected_agent_steps_of_a_train_trial():
    trial, = trials_of({"base": SMOKE})
    assert agent_steps(trial) == 2 * 2 * 2000


def test_projected_agent_steps_count_the_learners_of_each_validation():
    # A fold validates on its held-back game: 8 meta-steps, every 4 → 2 validations × 3 seeds
    # × 200,000 steps from θ⁰, beside 8 × 2 games × 150,000 (the baseline's runs are cached).
    trial = trials_of({"base": MINATAR.replace("minatar.yaml", "minatar_v2_screen.yaml"),
                       "folds": "leave_one_game_out"})[0]
    assert agent_steps(trial) == 8 * 2 * 150_000 + 2 * 3 * 200_000


def test_bad_spec_lists_every_problem_at_once():
    with pytest.raises(SweepError) as err:
        parse_spec({"base": "no/such.yaml", "kind": "tran", "axes": {
            "seed": [], "inner.learning_rate": {"loguniform": [0, 1]},
            "meta.learning_rate": {"gauss": [1, 2]}}, "samples": 0, "extra": 1})
    text = "\n".join(err.value.problems)
    for expected in ("extra: unknown key", "base: no such file", "kind: 'tran'",
                     "axes.seed: empty axis", "loguniform: low 0 must be positive",
                     "axes.meta.learning_rate: expected a list", "samples: must be"):
        assert expected in text
    assert len(err.value.problems) == 7


def test_bad_trials_list_each_config_problem_once_with_the_suggestion():
    with pytest.raises(SweepError) as err:
        trials_of({"base": SMOKE, "axes": {"meta.learning_rat": [0.1, 0.2],
                                           "inner.num_envs": ["many"]}})
    problems = err.value.problems
    assert any("meta.learning_rat: unknown key; did you mean meta.learning_rate?" in p
               and "trials 000" in p for p in problems)
    assert any(p.startswith("inner.num_envs:") for p in problems)
    assert len(problems) == 2


def test_a_fold_axis_on_a_one_game_pool_is_refused():
    with pytest.raises(SweepError, match="at least two games"):
        trials_of({"base": SMOKE, "folds": "leave_one_game_out"}, ["meta.pool=[Pong]",
                                                                   "meta.meta_batch_size=1"])


def test_train_task_needs_its_game_and_steps():
    with pytest.raises(SweepError) as err:
        parse_spec({"base": SMOKE, "kind": "train-task", "folds": "leave_one_game_out"})
    assert len(err.value.problems) == 3  # game, steps, folds


def test_train_task_refuses_outer_loop_keys_it_would_ignore():
    spec = {"base": MINATAR, "kind": "train-task", "task": {"game": "MinAtar/Asterix",
                                                            "steps": 1000},
            "axes": {"meta.learning_rate": [0.001, 0.01], "inner.learning_rate": [0.002]}}
    with pytest.raises(SweepError) as err:
        trials_of(spec, ["validation.seeds=2", "leap.metric=length"])
    problems = err.value.problems
    assert [p.split(":")[0] for p in problems] == ["validation.seeds", "meta.learning_rate"]
    assert all("trials 000" in p for p in problems)
    # leap.* and inner.* do reach a standalone run: the same spec without the others builds.
    spec["axes"].pop("meta.learning_rate")
    assert len(trials_of(spec, ["leap.metric=length"])) == 1


def test_names_and_values():
    assert safe_name("MinAtar/Seaquest") == "MinAtar-Seaquest"
    assert value_text(1e-05) == "1.0e-05" and value_text(["a", 1]) == "[a, 1]"


def test_cli_bad_input_exits_2_before_anything_and_dry_run_creates_nothing(tmp_path, capsys):
    from leap_rl.cli import main

    spec = tmp_path / "spec.yaml"
    spec.write_text(f"base: {SMOKE}\naxes: {{meta.learning_rat: [0.1], seed: []}}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "a")]) == 2
    assert "axes.seed: empty axis" in capsys.readouterr().err
    spec.write_text(f"base: {SMOKE}\naxes: {{meta.learning_rat: [0.1, 0.2]}}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "a")]) == 2
    assert "did you mean meta.learning_rate?" in capsys.readouterr().err
    spec.write_text(f"base: {SMOKE}\naxes: {{seed: [0, 1, 2]}}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "a"), "--dry-run",
                 "--set", "meta.meta_steps=3"]) == 0
    out = capsys.readouterr().out
    assert "002-seed=2" in out and "projected: 36,000 agent steps" in out
    assert not (tmp_path / "a").exists()


def test_provenance_names_the_code_and_the_libraries():
    from leap_rl.io.provenance import provenance

    record = provenance()
    assert record["leap_rl"] and record["torch"] and record["ray"]
    assert set(record) >= {"git_commit", "git_dirty", "gymnasium", "ale-py", "minatar"}
