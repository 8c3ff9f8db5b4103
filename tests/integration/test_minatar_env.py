"""The MinAtar vector env satisfies the vector env contract (leap_rl.envs.atari's docstring)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.spaces import Box, Discrete
from gymnasium.vector import AutoresetMode

from leap_rl.envs import MINATAR_GAMES, make_vector_env

pytestmark = pytest.mark.integration


def rollout(env, steps: int, action_seed: int = 0):
    rng = np.random.default_rng(action_seed)
    obs, _ = env.reset()
    out = [obs]
    for _ in range(steps):
        # One action for every env, so that env i of one batch can be compared with env j of another.
        obs, *_ = env.step(np.full(env.num_envs, rng.integers(0, env.single_action_space.n)))
        out.append(obs)
    return np.stack(out)


@pytest.mark.parametrize("name", sorted(MINATAR_GAMES))
def test_contract_spaces_padding_and_autoreset(name):
    game = MINATAR_GAMES[name]
    env = make_vector_env(name, 3, seed=1, max_episode_steps=40)
    assert env.single_observation_space == Box(0, 1, (10, 10, 10), np.uint8)
    assert env.single_action_space == Discrete(len(game.actions))
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = env.reset()
    assert obs.shape == (3, 10, 10, 10) and obs.dtype == np.uint8
    rng, ends = np.random.default_rng(0), 0
    for _ in range(100):
        obs, reward, terminated, truncated, info = env.step(
            rng.integers(0, len(game.actions), 3))
        assert reward.dtype == np.float32 and not (terminated & truncated).any()
        assert set(np.unique(obs)) <= {0, 1}
        assert not obs[:, game.channels:].any()  # padded channels stay zero
        done = terminated | truncated
        if done.any():
            ends += int(done.sum())
            final = info["final_obs"]
            assert final.shape == obs.shape and (info["_final_obs"] == done).all()
            assert (final[~done] == obs[~done]).all()  # unfinished rows: the current obs
    assert ends >= 3  # at 40 steps every game ends at least twice in 100 steps
    env.close()


def test_truncation_after_max_episode_steps():
    # Freeway never terminates early: 2,500 frames per episode.
    env = make_vector_env("MinAtar/Freeway", 2, seed=0, max_episode_steps=25)
    env.reset()
    for step in range(1, 51):
        _, _, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.int64))
        assert not terminated.any()
        assert truncated.all() == (step % 25 == 0) and truncated.any() == (step % 25 == 0)


def test_seeding_is_reproducible_and_per_env():
    a = rollout(make_vector_env("MinAtar/Asterix", 2, seed=7), 60)
    b = rollout(make_vector_env("MinAtar/Asterix", 2, seed=7), 60)
    c = rollout(make_vector_env("MinAtar/Asterix", 2, seed=8), 60)
    assert (a == b).all()
    assert (a[:, 1] == c[:, 0]).all()  # env i is seeded seed + i
    assert not (a[:, 0] == a[:, 1]).all()


def test_out_of_range_action_is_refused():
    env = make_vector_env("MinAtar/Breakout", 2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        env.step(np.array([0, 3]))
