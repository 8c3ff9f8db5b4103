"""The experiment config: shipped files are valid, bad input is explained, every key documented."""

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from leap_rl.config import ConfigError, ExperimentConfig, config_fields_help, load_config
from leap_rl.envs import PRETRAINING_POOL

CONFIGS = sorted(Path(__file__).parents[2].joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    assert isinstance(load_config(path), ExperimentConfig)


def test_paper_config_has_the_papers_values():
    cfg = load_config(Path(__file__).parents[2] / "configs" / "paper.yaml")
    assert (cfg.meta.meta_batch_size, cfg.meta.steps_per_task, cfg.meta.meta_steps) == (16, 5_000_000, 100)
    assert cfg.leap.metric == "energy" and cfg.meta.pool == list(PRETRAINING_POOL)
    inner = cfg.inner
    assert (inner.num_envs, inner.unroll_length, inner.learning_rate, inner.rmsprop_eps,
            inner.rmsprop_alpha, inner.entropy_cost, inner.reward_clip, inner.discount) == \
        (32, 5, 1e-4, 1e-4, 0.99, 0.01, 5.0, 0.99)
    assert not cfg.env.grayscale and cfg.env.frame_stack == 1


def test_overrides_are_parsed_as_yaml_values():
    cfg = load_config(None, ["leap.metric=length", "inner.learning_rate=3e-4",
                             "leap.stabilizer=false", "meta.pool=[pong, ALE/Freeway-v5]",
                             "meta.meta_batch_size=2"])
    assert cfg.leap.metric == "length" and cfg.inner.learning_rate == 3e-4
    assert cfg.leap.stabilizer is False and cfg.meta.pool == ["Pong", "Freeway"]


def test_every_problem_is_listed_with_its_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("inner:\n  learning_rate: -1\n  lr: 3\nleap:\n  metric: lenght\n"
                    "meta:\n  pool: [Pongg]\nsurprise: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text and "5 problems" in text
    for expected in ("inner.learning_rate", "inner.lr: unknown key", "leap.metric",
                     "meta.pool: Unknown game 'Pongg'. Did you mean: Pong", "surprise: unknown key"):
        assert expected in text


@pytest.mark.parametrize("overrides,fragment", [
    (["meta.meta_batch_size=30"], "exceeds the 25 games"),
    (["meta.pool=[Pong, pong]"], "games appear twice"),
    (["meta.betas=[0.9, 1.5]"], "each beta must be in [0, 1)"),
    (["inner.num_envs=0"], "inner.num_envs"),
    (["inner.device=tpu"], "inner.device"),
    (["oops"], "--set oops: expected key=value"),
    (["seed=1", "seed.x=1"], "'seed' is not a section"),
])
def test_bad_values_are_explained(overrides, fragment):
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    assert fragment in str(info.value)


def test_moved_keys_say_where_they_went(tmp_path):
    """The RLlib settings left the inner section for the backend's own rllib section."""
    path = tmp_path / "old.yaml"
    path.write_text("inner:\n  algorithm: APPO\n  rllib:\n    num_epochs: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "inner.algorithm: moved to rllib.algorithm" in text
    assert "inner.rllib: moved to rllib.training" in text
    with pytest.raises(ConfigError, match="inner.rllib: moved to rllib.training"):
        load_config(None, ["inner.rllib.minibatch_size=8"])
    cfg = load_config(None, ["rllib.algorithm=APPO", "rllib.training.num_epochs=2"])
    assert (cfg.rllib.algorithm, cfg.rllib.training) == ("APPO", {"num_epochs": 2})


@pytest.mark.parametrize("text,fragment", [("[1, 2]", "top level must be a mapping"),
                                           ("a: [", "not valid YAML")])
def test_unreadable_files_are_explained(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_every_field_has_a_description():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                walk(field.annotation)
    walk(ExperimentConfig)
    lines = config_fields_help()
    assert "leap.metric (" in "\n".join(lines) and len(lines) >= 30


def test_describe_gives_every_keys_type_default_and_meaning():
    lines = config_fields_help()
    for line in lines:
        assert re.fullmatch(r"[a-z0-9_.]+ \(.+, default .+\): \S.*", line), line
    text = "\n".join(lines)
    for expected in ("inner.learning_rate (float, default 0.0001): RMSProp learning rate",
                     "leap.metric (length | energy, default energy): Path length",
                     "leap.stabilizer (bool, default true): ",
                     "workers.num_workers (int | null, default null): ",
                     "meta.betas (tuple[float, float], default [0.9, 0.999]): ",
                     "rllib.training (dict[str, Any], default {}): ",
                     "env.minatar.channels (int, default 10): "):  # nested sections recurse
        assert expected in text
    pool = next(line for line in lines if line.startswith("meta.pool "))
    assert pool.startswith("meta.pool (list[str], default [AirRaid, Amidar, ")
    assert "(25 items)" in pool


@pytest.mark.parametrize("overrides,text,expected", [
    (["inner.learing_rate=1e-3"], None,
     "inner.learing_rate: unknown key; did you mean inner.learning_rate?"),
    ([], "env:\n  minatar:\n    chanels: 8\n",
     "env.minatar.chanels: unknown key; did you mean env.minatar.channels?"),
    ([], "innr:\n  num_envs: 4\n", "innr: unknown key; did you mean inner?"),
    (["sed=3"], None, "sed: unknown key; did you mean seed?"),
    (["workers.gpus=1"], None, "workers.gpus: unknown key; did you mean workers.num_gpus?"),
    (["metric=length"], None, "metric: unknown key; did you mean leap.metric?"),  # misplaced
    (["learning_rate=0.1"], None, "did you mean inner.learning_rate or meta.learning_rate?"),
])
def test_unknown_keys_suggest_the_closest_known_one(tmp_path, overrides, text, expected):
    path = None
    if text is not None:
        path = tmp_path / "typo.yaml"
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert expected in str(info.value)


def test_unknown_keys_without_a_close_match_get_no_guess():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["surprise=1", "inner.lr=3"])
    text = str(info.value)
    assert "surprise: unknown key\n" in text + "\n" and "did you mean" not in text
