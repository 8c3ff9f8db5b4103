"""MinAtar names in the game registry, the frozen game table, the encoder and config checks."""

from __future__ import annotations

import pytest
import torch

from leap_rl.agent import MinAtarEncoder, build_actor_critic
from leap_rl.config import ConfigError, load_config
from leap_rl.envs import (
    MINATAR_CHANNELS,
    MINATAR_GAMES,
    MINATAR_HELD_OUT,
    MINATAR_POOL,
    MinAtarNotInstalledError,
    UnknownGameError,
    is_atari_game,
    is_minatar_name,
    num_actions,
    resolve_game,
)
from leap_rl.envs import minatar as minatar_module

POOL = "meta.pool=[MinAtar/Asterix, MinAtar/Freeway, MinAtar/Seaquest]"


@pytest.mark.parametrize("spelling", ["MinAtar/SpaceInvaders", "minatar/space_invaders",
                                      "MinAtar/SpaceInvaders-v1", "MINATAR/spaceinvaders"])
def test_spellings_resolve_to_one_game(spelling):
    spec = resolve_game(spelling)
    assert (spec.name, spec.rom_id, spec.num_actions, spec.family) == (
        "MinAtar/SpaceInvaders", "space_invaders", 4, "minatar")
    assert is_minatar_name(spelling) and not is_atari_game(spelling)


def test_atari_names_stay_atari():
    assert resolve_game("SpaceInvaders").family == "atari"
    assert not is_minatar_name("Breakout") and not is_minatar_name("ALE/Breakout-v5")


def test_unknown_minatar_game_suggests_minatar_games():
    with pytest.raises(UnknownGameError, match=r"Did you mean: MinAtar/Seaquest"):
        resolve_game("MinAtar/Seaquset")


def test_frozen_table_matches_the_installed_package():
    from minatar import Environment

    for game in MINATAR_GAMES.values():
        env = Environment(game.module)
        assert env.state_shape() == [10, 10, game.channels], game.name
        assert tuple(env.minimal_action_set()) == game.actions, game.name
        assert num_actions(game.name) == len(game.actions)
    assert MINATAR_CHANNELS == max(g.channels for g in MINATAR_GAMES.values())
    assert set(MINATAR_POOL).isdisjoint(MINATAR_HELD_OUT)
    assert set(MINATAR_POOL) | set(MINATAR_HELD_OUT) == set(MINATAR_GAMES)


def test_missing_package_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setattr(minatar_module, "_environment_class", lambda: None)
    with pytest.raises(MinAtarNotInstalledError) as err:
        resolve_game("MinAtar/Breakout")
    assert str(err.value).count("\n") == 0 and "leap-rl[minatar]" in str(err.value)
    with pytest.raises(ConfigError, match=r"meta.pool.*leap-rl\[minatar\]"):
        load_config(None, [POOL, "meta.meta_batch_size=2", "inner.encoder=minatar"])


def test_encoder_is_the_minatar_papers_network():
    model = build_actor_critic("minatar", (MINATAR_CHANNELS, 10, 10), num_actions=4)
    assert isinstance(model.encoder, MinAtarEncoder)
    shapes = {n: tuple(p.shape) for n, p in model.encoder.named_parameters()}
    assert shapes == {"conv.weight": (16, 10, 3, 3), "conv.bias": (16,),
                      "fc.weight": (128, 1024), "fc.bias": (128,)}
    logits, value = model(torch.ones(5, MINATAR_CHANNELS, 10, 10, dtype=torch.uint8))
    assert logits.shape == (5, 4) and value.shape == (5,)


def test_config_accepts_a_minatar_experiment_and_gives_family_settings():
    cfg = load_config(None, [POOL, "meta.meta_batch_size=3", "inner.encoder=minatar"])
    assert cfg.meta.pool == list(MINATAR_POOL)
    assert cfg.env.settings_for("MinAtar/Asterix") == {
        "channels": 10, "sticky_action_prob": 0.1, "difficulty_ramping": True,
        "max_episode_steps": 10_000}
    assert "minatar" not in cfg.env.settings_for("Pong")


@pytest.mark.parametrize("overrides, message", [
    (["meta.pool=[MinAtar/Asterix, Pong]", "meta.meta_batch_size=1", "inner.encoder=minatar"],
     "mixes Atari and MinAtar"),
    ([POOL, "meta.meta_batch_size=1"], "need inner.encoder: minatar"),
    (["meta.pool=[Pong]", "meta.meta_batch_size=1", "inner.encoder=minatar"], "for MinAtar games"),
    ([POOL, "meta.meta_batch_size=1", "inner.encoder=minatar", "inner.backend=rllib"],
     "Atari games only"),
    ([POOL, "meta.meta_batch_size=1", "inner.encoder=minatar", "env.minatar.channels=7"],
     "env.minatar.channels"),
])
def test_config_refuses_encoder_and_family_mismatches(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)
