"""Vectorised Atari (and plain gymnasium) environments behind one observation/reset contract.

Contract, identical for both Atari backends:

* observations: uint8 arrays of shape ``(num_envs, C, size, size)``, channels first, with
  ``C = (1 if grayscale else 3) * frame_stack``, frame-major (oldest frame's channels first;
  older frames are zero right after a reset);
* action space ``Discrete(minimal action set size)`` per sub-environment;
* autoreset mode SAME_STEP: when an episode ends, the returned observation is already the
  first observation of the next episode; ``terminated``/``truncated`` mark the end and
  ``info["final_obs"]`` (same layout, with mask ``info["_final_obs"]``) holds the last one;
* rewards: raw (unclipped) float32 — the learner clips them;
* ``truncated`` after ``ceil(max_episode_frames / frame_skip)`` agent steps (the reset
  no-ops don't count; 0 means no limit);
* ``reset(seed=s)`` seeds sub-environment ``i`` with ``s + i``; the first ``reset()`` with no
  seed uses the factory's ``seed``.

Backends: ``"native"`` is ale-py's C++ ``AtariVectorEnv`` (threads, no Python per step);
``"gymnasium"`` is a ``SyncVectorEnv`` of ``ALE/<Game>-v5`` + ``AtariPreprocessing`` +
``FrameStackObservation``. ``"auto"`` picks native whenever ale-py provides it: it supports
every setting of :func:`make_atari_vector_env` (RGB or grayscale, any size and stack).

Defaults: the paper is silent on the emulator protocol, so we use the modern standard of
Machado et al. (2018): frame skip 4 (max-pooled over the last two frames), sticky actions
with probability 0.25, full 108k-frame episodes, no life-loss terminals, no FIRE on reset
(game-specific knowledge), plus the customary up to 30 no-op actions at reset.
"""

from __future__ import annotations

import inspect
from typing import Literal

import ale_py
import gymnasium as gym
import numpy as np
from gymnasium.spaces import Box
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv
from gymnasium.vector.utils import batch_space
from gymnasium.wrappers import (
    AtariPreprocessing,
    DtypeObservation,
    FrameStackObservation,
    TimeLimit,
)

from leap_rl.envs.contract import ContractWrapper
from leap_rl.envs.games import UnknownGameError, game_names, is_atari_game, resolve_game
from leap_rl.envs.minatar import is_minatar_name
from leap_rl.envs.minatar_env import make_minatar_vector_env

Backend = Literal["auto", "native", "gymnasium"]

gym.register_envs(ale_py)  # registers the ALE/<Game>-v5 ids with gymnasium


class _AtariContractWrapper(ContractWrapper):
    """Turns ``(N, stack, H, W[, 3])`` frames into channels-first ``(N, stack*C, H, W)``."""

    def __init__(self, env: VectorEnv, seed: int, channels: int, frame_stack: int) -> None:
        super().__init__(env, seed)
        height, width = env.single_observation_space.shape[1:3]
        self.single_observation_space = Box(
            0, 255, (channels * frame_stack, height, width), np.uint8
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

    def _obs(self, obs):
        """Stack frames channels first; always a fresh array so callers may keep it."""
        obs = np.asarray(obs, dtype=np.uint8)
        if obs.ndim == 5:  # RGB: (N, stack, H, W, 3) -> (N, stack, 3, H, W)
            obs = obs.transpose(0, 1, 4, 2, 3)
        n, height, width = obs.shape[0], obs.shape[-2], obs.shape[-1]
        return np.array(obs, order="C", copy=True).reshape(n, -1, height, width)


def native_backend_available() -> bool:
    """Whether the installed ale-py ships the C++ vector environment (ale-py >= 0.10).

    The settings this module passes it (RGB frames, autoreset mode) need ale-py >= 0.11.1,
    setup.cfg's floor.
    """
    try:
        from ale_py.vector_env import AtariVectorEnv  # noqa: F401
    except ImportError:
        return False
    return True


def make_atari_vector_env(
    game: str,
    num_envs: int,
    *,
    seed: int,
    frame_skip: int = 4,
    repeat_action_probability: float = 0.25,
    noop_max: int = 30,
    grayscale: bool = False,
    frame_stack: int = 1,
    max_episode_frames: int = 108_000,
    size: int = 84,
    num_threads: int = 0,
    backend: Backend = "auto",
) -> VectorEnv:
    """Vector env of ``num_envs`` copies of an Atari game, following the module contract.

    ``num_threads`` sets the native backend's thread count (0: one per core); the
    gymnasium backend always steps its sub-environments sequentially in this process.
    """
    spec = resolve_game(game)
    _check_settings(num_envs, frame_skip, repeat_action_probability, noop_max, frame_stack)
    settings = dict(
        frame_skip=frame_skip,
        repeat_action_probability=repeat_action_probability,
        noop_max=noop_max,
        grayscale=grayscale,
        frame_stack=frame_stack,
        max_episode_frames=max_episode_frames,
        size=size,
    )
    if backend == "auto":
        backend = "native" if native_backend_available() else "gymnasium"
    if backend == "native":
        env = _make_native(spec.rom_id, num_envs, num_threads=num_threads, **settings)
    elif backend == "gymnasium":
        env = _make_gymnasium(spec.gym_id, num_envs, **settings)
    else:
        raise ValueError(f"backend must be 'auto', 'native' or 'gymnasium', got {backend!r}")
    return _AtariContractWrapper(env, seed, 1 if grayscale else 3, frame_stack)


def _check_settings(
    num_envs: int,
    frame_skip: int,
    repeat_action_probability: float,
    noop_max: int,
    frame_stack: int,
) -> None:
    """Reject settings that neither backend accepts, with a clear message."""
    if num_envs < 1 or frame_skip < 1 or frame_stack < 1 or noop_max < 0:
        raise ValueError(
            "need num_envs >= 1, frame_skip >= 1, frame_stack >= 1 and noop_max >= 0, got "
            f"{num_envs=}, {frame_skip=}, {frame_stack=}, {noop_max=}"
        )
    if not 0.0 <= repeat_action_probability <= 1.0:
        raise ValueError(f"repeat_action_probability must be in [0, 1], got {repeat_action_probability}")


def _make_native(rom_id: str, num_envs: int, *, num_threads: int, **s) -> VectorEnv:
    """ale-py's C++ vector env; its frames are (N, stack, H, W) or (N, stack, H, W, 3)."""
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(
        rom_id,
        num_envs,
        num_threads=num_threads,
        frameskip=s["frame_skip"],
        repeat_action_probability=s["repeat_action_probability"],
        noop_max=s["noop_max"],
        grayscale=s["grayscale"],
        stack_num=s["frame_stack"],
        max_num_frames_per_episode=s["max_episode_frames"],
        img_height=s["size"],
        img_width=s["size"],
        maxpool=True,
        autoreset_mode=AutoresetMode.SAME_STEP,
        reward_clipping=False,  # the learner clips rewards to +-5 (paper, appendix F)
        episodic_life=False,
        use_fire_reset=False,  # Machado et al.: no game-specific reset actions
    )


def _make_gymnasium(gym_id: str, num_envs: int, **s) -> VectorEnv:
    """SyncVectorEnv of preprocessed gymnasium Atari envs, with frames (stack, H, W, C)."""

    def make_one() -> gym.Env:
        env = gym.make(
            gym_id,
            frameskip=1,  # AtariPreprocessing skips and max-pools frames itself
            repeat_action_probability=s["repeat_action_probability"],
            max_num_frames_per_episode=None,  # TimeLimit below, counting as native does
            obs_type="grayscale" if s["grayscale"] else "rgb",
            full_action_space=False,
            disable_env_checker=True,
        )
        env = AtariPreprocessing(
            env,
            noop_max=s["noop_max"],
            frame_skip=s["frame_skip"],
            screen_size=s["size"],
            terminal_on_life_loss=False,
            grayscale_obs=s["grayscale"],
            grayscale_newaxis=True,
            scale_obs=False,
        )
        if s["max_episode_frames"] > 0:
            # Native truncates after ceil(max / skip) agent steps; its no-ops don't count.
            steps = -(-s["max_episode_frames"] // s["frame_skip"])
            env = TimeLimit(env, max_episode_steps=steps)
        # Zero padding matches the native backend's stack right after a reset.
        return FrameStackObservation(env, s["frame_stack"], padding_type="zero")

    return SyncVectorEnv([make_one] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)


def make_vector_env(game_or_gym_id: str, num_envs: int, *, seed: int, **atari_kwargs) -> VectorEnv:
    """Vector env for an Atari game (any spelling) or a plain gymnasium id like ``CartPole-v1``.

    Atari names go to :func:`make_atari_vector_env` with ``atari_kwargs``, ``MinAtar/<Game>``
    names to :func:`~leap_rl.envs.minatar_env.make_minatar_vector_env` with its own settings.
    Other ids get a SAME_STEP ``SyncVectorEnv`` with float32 observations and rewards, seeded
    like Atari; for them ``atari_kwargs`` are checked by name but ignored, so one env config
    serves both.
    """
    if is_minatar_name(game_or_gym_id):
        return make_minatar_vector_env(game_or_gym_id, num_envs, seed=seed, **atari_kwargs)
    unknown = set(atari_kwargs) - set(inspect.signature(make_atari_vector_env).parameters)
    if unknown:
        raise TypeError(f"make_vector_env got unexpected keyword arguments {sorted(unknown)}")
    if is_atari_game(game_or_gym_id):
        return make_atari_vector_env(game_or_gym_id, num_envs, seed=seed, **atari_kwargs)
    if game_or_gym_id not in gym.registry:
        candidates = game_names() + tuple(k for k in gym.registry if not k.startswith("ALE/"))
        raise UnknownGameError(game_or_gym_id, candidates)

    def make_one() -> gym.Env:
        env = gym.make(game_or_gym_id)
        if not isinstance(env.observation_space, Box):
            raise ValueError(f"{game_or_gym_id} needs vector (Box) observations")
        return DtypeObservation(env, np.float32)

    env = SyncVectorEnv([make_one] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)
    return ContractWrapper(env, seed)
