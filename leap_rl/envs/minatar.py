"""MinAtar (Young & Tian 2019): 10×10 versions of five Atari games, as a second task family.

MinAtar is GPL-3.0 and an optional extra (``pip install 'leap-rl[minatar]'``): this module knows
the games' names, channel counts and minimal action sets without importing it, so configs and
game names validate on any install; only making an environment needs the package.

Names are written ``MinAtar/<Game>`` (any spelling of the game after the prefix: ``minatar/
space_invaders``, ``MinAtar/SpaceInvaders-v1``). Observations follow the contract of
``leap_rl.envs.atari``, with MinAtar's own layout: uint8 0/1 arrays ``(num_envs, C, 10, 10)``,
channels first, where the games' 4–10 object channels are zero-padded to ``C = channels``
(default 10, the largest game's count) so that one encoder serves every game. Actions are the
game's minimal action set (3–6 actions), as for Atari.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from gymnasium.spaces import Box, Discrete
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from leap_rl.envs.contract import ContractWrapper

__all__ = [
    "MINATAR_CHANNELS",
    "MINATAR_GAMES",
    "MinAtarGame",
    "MinAtarNotInstalledError",
    "is_minatar_name",
    "make_minatar_vector_env",
    "resolve_minatar_game",
]

PREFIX = "MinAtar/"
MINATAR_CHANNELS = 10  # Seaquest's count, the largest of the five games


@dataclass(frozen=True)
class MinAtarGame:
    """A MinAtar game: registry name, MinAtar module, object channels, minimal action set."""

    name: str
    module: str
    channels: int
    actions: tuple[int, ...]  # MinAtar's action indices (of its 6) the agent chooses among

    @property
    def num_actions(self) -> int:
        return len(self.actions)


# minatar 1.0.15: Environment(module).state_shape()[2] and .minimal_action_set(); a test
# checks these against the installed package.
MINATAR_GAMES: dict[str, MinAtarGame] = {
    g.name: g for g in (
        MinAtarGame("MinAtar/Asterix", "asterix", 4, (0, 1, 2, 3, 4)),
        MinAtarGame("MinAtar/Breakout", "breakout", 4, (0, 1, 3)),
        MinAtarGame("MinAtar/Freeway", "freeway", 7, (0, 2, 4)),
        MinAtarGame("MinAtar/Seaquest", "seaquest", 10, (0, 1, 2, 3, 4, 5)),
        MinAtarGame("MinAtar/SpaceInvaders", "space_invaders", 6, (0, 1, 3, 5)),
    )
}

_NAME = re.compile(r"^minatar[/:_-]?(?P<game>.+?)(?:-v\d+)?$", re.IGNORECASE)


class MinAtarNotInstalledError(ValueError):
    """A MinAtar game was asked for but the optional ``minatar`` package is missing."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} needs the optional MinAtar package (GPL-3.0): "
                         "pip install 'leap-rl[minatar]'")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_minatar_name(name: str) -> bool:
    """Whether ``name`` is written as a MinAtar game (``MinAtar/...``), known or not."""
    return _NAME.match(name.strip()) is not None


def resolve_minatar_game(name: str) -> MinAtarGame | None:
    """The MinAtar game ``name`` spells (``MinAtar/Breakout``, ``minatar/space_invaders``), or None."""
    match = _NAME.match(name.strip())
    if match is None:
        return None
    by_key = {_key(g.module): g for g in MINATAR_GAMES.values()}
    return by_key.get(_key(match.group("game")))


def _environment_class():
    try:
        from minatar import Environment
    except ImportError:
        return None
    return Environment


def minatar_installed() -> bool:
    """Whether the optional ``minatar`` package can be imported."""
    return _environment_class() is not None


class MinAtarVectorEnv(VectorEnv):
    """``num_envs`` MinAtar games stepped in one Python loop (SAME_STEP autoreset).

    A MinAtar step is a few microseconds of numpy; a thread or process per game would cost
    more than it saves, so the envs are stepped in turn and written straight into one batch.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, game: MinAtarGame, num_envs: int, *, channels: int,
                 sticky_action_prob: float, difficulty_ramping: bool,
                 max_episode_steps: int) -> None:
        environment = _environment_class()
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
