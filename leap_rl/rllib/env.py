"""One Atari game for RLlib's EnvRunners, preprocessed with RLlib's own Atari wrappers.

The wrappers are those of ``ray.rllib.env.wrappers.atari_wrappers.wrap_atari_for_new_api_stack``
(resize with ``WarpFrame``, ``NormalizedImageEnv``, ``MaxAndSkipEnv``, ``NoopResetEnv``,
``FrameStack``), in its order, but composed from the config's ``env`` section so that both backends
follow one emulator protocol (Machado et al. 2018, as in :mod:`leap_rl.envs.atari`): sticky
actions, full episodes (no life-loss terminals, RLlib's ``EpisodicLifeEnv``, and no FIRE on reset,
its ``FireResetEnv``), a time limit of ``max_episode_frames`` emulator frames, 84×84 frames, RGB
unless ``env.grayscale``.

Observations are float32 (H, W, C) in [-1, 1] — RLlib's layout and scaling; the RLModule turns
them back into the pixel values 0..255 (exactly: x/128 − 1 is exact in float32) and channels first,
so θ⁰ sees the same input on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

SIZE = 84


def make_rllib_atari_env(env_config: Mapping[str, Any]) -> gym.Env:
    """The env creator given to ``config.environment(env=...)``; ``env_config`` holds the game
    (``game``) and the ``env`` section of the experiment config."""
    import ale_py
    from ray.rllib.env.wrappers.atari_wrappers import (
        FrameStack,
        MaxAndSkipEnv,
        NoopResetEnv,
        NormalizedImageEnv,
        WarpFrame,
    )

    from leap_rl.envs import resolve_game

    gym.register_envs(ale_py)
    s = dict(env_config)
    env = gym.make(resolve_game(s["game"]).gym_id, frameskip=1,
                   repeat_action_probability=s["repeat_action_probability"],
                   max_num_frames_per_episode=None, full_action_space=False,
                   disable_env_checker=True)
    env = WarpFrame(env, dim=SIZE, grayscale=s["grayscale"])
    env = NormalizedImageEnv(env)
    if s["frame_skip"] > 1:
        env = MaxAndSkipEnv(env, skip=s["frame_skip"])
    if s["noop_max"] > 0:
        env = NoopResetEnv(env, noop_max=s["noop_max"])
    if s["max_episode_frames"] > 0:  # counted in agent steps, as leap_rl.envs.atari does
        env = gym.wrappers.TimeLimit(env, max_episode_steps=-(-s["max_episode_frames"]
                                                              // s["frame_skip"]))
    if s["frame_stack"] > 1:
        env = FrameStack(env, k=s["frame_stack"])
    return env


def observation_shape(env_section: Mapping[str, Any]) -> tuple[int, int, int]:
    """(C, H, W) the encoder sees, for the config's ``env`` section (as ``leap_rl.envs``)."""
    channels = (1 if env_section["grayscale"] else 3) * env_section["frame_stack"]
    return channels, SIZE, SIZE
