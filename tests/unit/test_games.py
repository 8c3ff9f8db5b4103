"""Game registry and the frozen Leap game sets, checked against the installed ale-py."""

from __future__ import annotations

import dataclasses

import pytest
from ale_py import roms

from leap_rl.envs import (
    EVALUATION_SET,
    HELD_OUT_GAMES,
    POOL_MAX_ACTIONS,
    PRETRAINING_POOL,
    GameSpec,
    MissingRomError,
    UnknownGameError,
    derive_pretraining_pool,
    game_names,
    games,
    is_atari_game,
    num_actions,
    pools,
    resolve_game,
)
from leap_rl.envs.games import rom_id_to_name


@pytest.fixture
def fresh_rom_cache():
    """Forget cached ROM checks and action counts so the ROM lookup runs again (and after)."""
    games._checked_rom_path.cache_clear()
    games._minimal_action_count.cache_clear()
    yield
    games._checked_rom_path.cache_clear()
    games._minimal_action_count.cache_clear()


@pytest.fixture(scope="module")
def derived_pool() -> tuple[str, ...]:
    return derive_pretraining_pool()


@pytest.mark.parametrize(
    "spelling, name, rom_id, actions",
    [
        ("Breakout", "Breakout", "breakout", 4),
        ("breakout", "Breakout", "breakout", 4),
        ("ALE/Breakout-v5", "Breakout", "breakout", 4),
        ("BreakoutNoFrameskip-v4", "Breakout", "breakout", 4),
        ("space_invaders", "SpaceInvaders", "space_invaders", 6),
        ("SpaceInvaders", "SpaceInvaders", "space_invaders", 6),
        ("SpaceInvadersNoFrameskip-v4", "SpaceInvaders", "space_invaders", 6),
        ("ALE/SpaceInvaders-v5", "SpaceInvaders", "space_invaders", 6),
        ("spaceinvaders", "SpaceInvaders", "space_invaders", 6),
        ("up_n_down", "UpNDown", "up_n_down", 6),
        ("ALE/Pitfall2-v5", "Pitfall2", "pitfall2", 18),
    ],
)
def test_name_forms_resolve(spelling, name, rom_id, actions):
    spec = resolve_game(spelling)
    assert spec == GameSpec(name, rom_id)
    assert spec.num_actions == actions


def test_game_spec_is_frozen_and_knows_its_gym_id():
    spec = resolve_game("Pong")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.num_actions = 3  # type: ignore[misc]
    assert spec.gym_id == "ALE/Pong-v5"


@pytest.mark.parametrize("name", game_names())
def test_every_game_accepts_every_spelling(name):
    rom_id = games._lookup_rom_id(name)
    assert rom_id is not None
    for spelling in (rom_id, name.lower(), f"ALE/{name}-v5", f"{name}NoFrameskip-v4"):
        assert games._lookup_rom_id(spelling) == rom_id


def test_registry_covers_ale_py_minus_multiplayer_roms():
    shipped = set(roms.get_all_rom_ids()) - games.MULTIPLAYER_ONLY_ROMS
    assert {games._lookup_rom_id(n) for n in game_names()} == shipped


@pytest.mark.parametrize("typo, suggestion", [("Breakot", "Breakout"),
                                              ("ALE/SpaceInvader-v5", "SpaceInvaders"),
                                              ("road_runer", "RoadRunner")])
def test_unknown_game_names_the_game_and_suggests(typo, suggestion):
    with pytest.raises(UnknownGameError) as info:
        resolve_game(typo)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert repr(typo) in message and "Did you mean" in message and suggestion in message
    assert info.value.suggestions[0] == suggestion


def test_multiplayer_only_rom_is_rejected_without_loading_it():
    # Loading it would make ALE call exit(); getting an exception proves it was not loaded.
    with pytest.raises(UnknownGameError, match="single-player"):
        resolve_game("Combat")
    assert not is_atari_game("warlords")
    assert not is_atari_game("CartPole-v1")


def test_missing_rom_directory_message_explains_fix(monkeypatch, tmp_path, fresh_rom_cache):
    monkeypatch.setenv(games.ROM_DIR_ENV_VAR, str(tmp_path))  # empty folder: no ROMs
    with pytest.raises(MissingRomError) as info:
        resolve_game("Pong")
    message = str(info.value)
    for needle in ("Pong", "pong.bin", "ALE_ROMS_DIR", "AutoROM"):
        assert needle in message


def test_missing_rom_path_lookup(monkeypatch, tmp_path, fresh_rom_cache):
    monkeypatch.setattr(roms, "get_rom_path", lambda rom_id: tmp_path / f"{rom_id}.bin")
    with pytest.raises(MissingRomError, match="breakout.bin"):
        num_actions("Breakout")


def test_corrupt_rom_is_reported_as_missing(monkeypatch, tmp_path, fresh_rom_cache):
    (tmp_path / "pong.bin").write_bytes(b"not a rom")
    monkeypatch.setenv(games.ROM_DIR_ENV_VAR, str(tmp_path))
    with pytest.raises(MissingRomError, match="hash"):
        resolve_game("pong")


def test_num_actions_loads_each_rom_once(fresh_rom_cache, monkeypatch):
    # Counted, not timed: a ROM is loaded once, whatever the spelling of later look-ups.
    loads = []
    real = games._load_action_count
    monkeypatch.setattr(games, "_load_action_count", lambda path: loads.append(path.name)
                        or real(path))
    assert num_actions("Alien") == 18
    assert num_actions("ALE/Alien-v5") == 18 and num_actions("alien") == 18
    assert loads == ["alien.bin"]


def test_resolving_and_loading_a_config_load_no_rom(fresh_rom_cache, monkeypatch):
    # Resolving a name checks its ROM file; only reading num_actions loads the ROM.
    from leap_rl.config import load_config

    loads = []
    monkeypatch.setattr(games, "_load_action_count", lambda path: loads.append(path.name) or 4)
    assert resolve_game("Breakout").name == "Breakout"
    load_config(None)  # the default pool: 25 Atari games
    assert loads == []
    assert resolve_game("Breakout").num_actions == 4 and loads == ["breakout.bin"]


def test_frozen_pool_equals_derivation(derived_pool):
    assert PRETRAINING_POOL == derived_pool


def test_pool_size_and_its_difference_to_the_paper_are_documented(derived_pool):
    # Paper: 27 games with <= 10 actions, Breakout and SpaceInvaders held out. ale-py gives
    # 27 *including* the two held-out games, so the pool proper has 25 (see pools docstring).
    small = [rom_id_to_name(g) for g in pools.classic_games_available()
             if num_actions(g) <= POOL_MAX_ACTIONS]
    assert len(small) == 27 and set(HELD_OUT_GAMES) <= set(small)
    assert derived_pool == tuple(g for g in small if g not in HELD_OUT_GAMES)  # the rule itself
    assert len(derived_pool) == len(PRETRAINING_POOL) == 25
    # The docstring's figures are the ones the derivation gives, each where the text puts it.
    doc = " ".join(pools.__doc__.split())
    assert (f"gives exactly {len(small)} games with at most {POOL_MAX_ACTIONS} actions "
            f"*including* {' and '.join(HELD_OUT_GAMES)}, hence {len(derived_pool)} games") in doc
    assert f"keep the {len(derived_pool)} left" in doc
    assert all(resolve_game(g).num_actions <= POOL_MAX_ACTIONS for g in HELD_OUT_GAMES)
    assert not set(HELD_OUT_GAMES) & set(PRETRAINING_POOL)


def test_classic_list_is_the_60_game_gym_list_and_all_roms_ship():
    assert len(pools.CLASSIC_GYM_GAMES) == len(set(pools.CLASSIC_GYM_GAMES)) == 60
    assert pools.classic_games_available() == pools.CLASSIC_GYM_GAMES


def test_evaluation_set_matches_table_6_and_ale():
    assert list(EVALUATION_SET) == ["AirRaid", "UpNDown", "WizardOfWor", "Breakout",
                                    "SpaceInvaders", "Asteroids", "Alien", "Gravitar",
                                    "RoadRunner"]
    assert {g: num_actions(g) for g in EVALUATION_SET} == EVALUATION_SET
    assert {"AirRaid", "UpNDown", "WizardOfWor"} <= set(PRETRAINING_POOL)
    assert set(HELD_OUT_GAMES) <= set(EVALUATION_SET)


def test_large_action_games_exceed_every_pool_game(derived_pool):
    largest_in_pool = max(num_actions(g) for g in derived_pool)
    assert largest_in_pool == POOL_MAX_ACTIONS
    for game in ("Asteroids", "Alien", "Gravitar", "RoadRunner"):
        assert EVALUATION_SET[game] > largest_in_pool
