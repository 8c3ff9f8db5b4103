"""The MinAtar vector environment (names and games: :mod:`leap_rl.envs.minatar`).

Observations follow the contract of ``leap_rl.envs.atari`` with MinAtar's own layout (see
:mod:`leap_rl.envs.minatar`); making one needs the optional ``minatar`` package.
"""

from __future__ import annotations

import numpy as np
from gymnasium.spaces import Box, Discrete
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from leap_rl.envs import minatar
from leap_rl.envs.contract import ContractWrapper
from leap_rl.envs.minatar import (
    MINATAR_CHANNELS,
    MINATAR_GAMES,
    MinAtarGame,
    MinAtarNotInstalledError,
    resolve_minatar_game,
)

__all__ = ["MinAtarVectorEnv", "make_minatar_vector_env"]


class MinAtarVectorEnv(VectorEnv):
    """``num_envs`` MinAtar games stepped in one Python loop (SAME_STEP autoreset).

    A MinAtar step is a few microseconds of numpy; a thread or process per game would cost
    more than it saves, so the envs are stepped in turn and written straight into one batch.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, game: MinAtarGame, num_envs: int, *, channels: int,
                 sticky_action_prob: float, difficulty_ramping: bool,
                 max_episode_steps: int) -> None:
        environment = minatar._environment_class()  # looked up here: tests replace it
        if environment is None:
            raise MinAtarNotInstalledError(game.name)
        if channels < game.channels:
            raise ValueError(f"{game.name} has {game.channels} channels; channels={channels} "
                             "cannot hold them")
        self.game, self.num_envs, self.channels = game, num_envs, channels
        self._envs = [environment(game.module, sticky_action_prob=sticky_action_prob,
                                  difficulty_ramping=difficulty_ramping) for _ in range(num_envs)]
        self._actions = np.asarray(game.actions, dtype=np.int64)
        self._max_steps = max_episode_steps
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self.single_observation_space = Box(0, 1, (channels, 10, 10), np.uint8)
        self.single_action_space = Discrete(game.num_actions)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

    def _write(self, batch: np.ndarray, i: int) -> None:
        # state() is (10, 10, c) bool; padded channels stay zero.
        batch[i, : self.game.channels] = self._envs[i].state().transpose(2, 0, 1)

    def reset(self, *, seed: int | None = None, options=None):
        """Reset every game; with ``seed``, game ``i`` is seeded ``seed + i``."""
        obs = np.zeros((self.num_envs, self.channels, 10, 10), dtype=np.uint8)
        for i, env in enumerate(self._envs):
            if seed is not None:
                env.seed(seed + i)
            env.reset()
            self._write(obs, i)
        self._steps[:] = 0
        return obs, {}

    def step(self, actions):
        """One step of every game; a finished game is reset in the same step (SAME_STEP)."""
        n = self.num_envs
        obs = np.zeros((n, self.channels, 10, 10), dtype=np.uint8)
        rewards = np.zeros(n, dtype=np.float32)
        terminated = np.zeros(n, dtype=bool)
        self._steps += 1
        truncated = self._steps >= self._max_steps if self._max_steps else np.zeros(n, dtype=bool)
        final_obs = None
        for i, (env, a) in enumerate(zip(self._envs, self._actions[actions])):
            rewards[i], terminated[i] = env.act(int(a))
            if terminated[i] or truncated[i]:
                if final_obs is None:
                    final_obs = np.zeros_like(obs)
                self._write(final_obs, i)
                env.reset()
                self._steps[i] = 0
            self._write(obs, i)
        truncated &= ~terminated
        if final_obs is None:
            return obs, rewards, terminated, truncated, {}
        running = ~(terminated | truncated)
        final_obs[running] = obs[running]  # contract: unfinished rows hold the current obs
        info = {"final_obs": final_obs}
        return obs, rewards, terminated, truncated, info


def make_minatar_vector_env(name: str, num_envs: int, *, seed: int, channels: int = MINATAR_CHANNELS,
                            sticky_action_prob: float = 0.1, difficulty_ramping: bool = True,
                            max_episode_steps: int = 10_000) -> VectorEnv:
    """Vector env of ``num_envs`` copies of a MinAtar game, following the vector env contract.

    Defaults are MinAtar's own (sticky actions 0.1, difficulty ramping on); episodes are
    truncated after ``max_episode_steps`` agent steps (0 = never).
    """
    game = resolve_minatar_game(name)
    if game is None:
        from leap_rl.envs.games import UnknownGameError

        raise UnknownGameError(name, tuple(MINATAR_GAMES))
    if num_envs < 1 or max_episode_steps < 0 or not 0.0 <= sticky_action_prob <= 1.0:
        raise ValueError(f"need num_envs >= 1, max_episode_steps >= 0 and sticky_action_prob in "
                         f"[0, 1], got {num_envs=}, {max_episode_steps=}, {sticky_action_prob=}")
    env = MinAtarVectorEnv(game, num_envs, channels=channels,
                           sticky_action_prob=sticky_action_prob,
                           difficulty_ramping=difficulty_ramping,
                           max_episode_steps=max_episode_steps)
    return ContractWrapper(env, seed)
