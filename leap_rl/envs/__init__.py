"""Atari game registry, the Leap game sets, and vectorised environments."""

from leap_rl.envs.atari import (
    Backend,
    make_atari_vector_env,
    make_vector_env,
    native_backend_available,
)
from leap_rl.envs.games import (
    GameSpec,
    MissingRomError,
    UnknownGameError,
    game_names,
    is_atari_game,
    num_actions,
    resolve_game,
)
from leap_rl.envs.pools import (
    CLASSIC_GYM_GAMES,
    EVALUATION_SET,
    HELD_OUT_GAMES,
    POOL_MAX_ACTIONS,
    PRETRAINING_POOL,
    derive_pretraining_pool,
)

__all__ = [
    "Backend",
    "CLASSIC_GYM_GAMES",
    "EVALUATION_SET",
    "GameSpec",
    "HELD_OUT_GAMES",
    "MissingRomError",
    "POOL_MAX_ACTIONS",
    "PRETRAINING_POOL",
    "UnknownGameError",
    "derive_pretraining_pool",
    "game_names",
    "is_atari_game",
    "make_atari_vector_env",
    "make_vector_env",
    "native_backend_available",
    "num_actions",
    "resolve_game",
]
