"""Fixed frames for the θ⁰ health measures: random play on each game, gathered once per run.

A frame set is ``{set name: {game: frames (N, C, H, W)}}``, e.g. ``{"pool": {...}}``; more sets
(validation games) are more keys. The frames of a game are a function of (game, env settings,
count, seed) alone, so a worker that needs them for its final encoder gathers the very frames
the driver holds instead of receiving them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from leap_rl.envs import make_vector_env
from leap_rl.io.artifacts import ArtifactError, atomic_save, verified_load
from leap_rl.io.storage import RunPath

FRAMES_FORMAT = "leap-rl/health-frames"
ENVS = 4      # environments played at once (an Atari vector env's start costs more than its steps)
STRIDE = 4    # agent steps between two kept frames of one environment: later frames, less alike

FrameSets = dict[str, dict[str, Tensor]]


def frame_seed(run_seed: int, game: str) -> int:
    """The seed of ``game``'s frames in a run seeded ``run_seed`` (stable across processes)."""
    return int(np.random.SeedSequence([run_seed, *game.encode()]).generate_state(1)[0] >> 1)


def cached_frames(game: str, settings: Mapping[str, Any], count: int, seed: int) -> Tensor:
    """:func:`gather_frames`, kept per process: a worker that trains a game again reuses them."""
    return _cached(game, tuple(sorted(settings.items())), count, seed)


@functools.lru_cache(maxsize=64)
def _cached(game: str, settings: tuple, count: int, seed: int) -> Tensor:
    return gather_frames(game, dict(settings), count, seed)


def gather_frames(game: str, settings: Mapping[str, Any], count: int, seed: int) -> Tensor:
    """``count`` observations of uniform random play on ``game`` (env ``settings`` as for
    ``make_vector_env``): every ``STRIDE``-th step of ``ENVS`` environments, episodes reset
    as they end."""
    env = make_vector_env(game, ENVS, seed=seed, **settings)
    try:
        rng = np.random.default_rng(seed)
        actions = int(env.single_action_space.n)
        obs, _ = env.reset(seed=seed)
        kept = []
        for step in range(STRIDE * -(-count // ENVS)):
            obs, *_ = env.step(rng.integers(actions, size=ENVS))
            if step % STRIDE == STRIDE - 1:
                kept.append(torch.from_numpy(np.array(obs)))
    finally:
        env.close()
    return torch.cat(kept)[:count]


def save_frames(path: str | RunPath, sets: FrameSets, meta: Mapping[str, Any]) -> None:
    """Writes the frame sets atomically, with what they were gathered with (``meta``)."""
    atomic_save({"format": FRAMES_FORMAT, "meta": dict(meta), "sets": sets}, path)


def load_frames(path: str | RunPath, meta: Mapping[str, Any]) -> FrameSets | None:
    """The frame sets of ``path`` if they were gathered with ``meta``; None if not (the caller
    gathers them again, which gives the same frames for the same settings)."""
    try:
        record = verified_load(path)
    except (OSError, ValueError, ArtifactError, RuntimeError):
        return None
    if not isinstance(record, dict) or record.get("format") != FRAMES_FORMAT \
            or record.get("meta") != dict(meta):
        return None
    return record["sets"]
