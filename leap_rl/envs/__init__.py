"""Game registry (Atari, MinAtar), the Leap game sets, and vectorised environments."""

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
from leap_rl.envs.minatar import (
    MINATAR_CHANNELS,
    MINATAR_GAMES,
    MinAtarNotInstalledError,
    is_minatar_name,
    make_minatar_vector_env,
)
from leap_rl.envs.pools import (
    CLASSIC_GYM_GAMES,
    EVALUATION_SET,
    HELD_OUT_GAMES,
    MINATAR_HELD_OUT,
    MINATAR_POOL,
    POOL_MAX_ACTIONS,
    PRETRAINING_POOL,
    derive_pretraining_pool,
)

__all__ = [
    "Backend",
    "CLASSIC_GYM_GAMES",
    "EVALUATION_SET",
    "MINATAR_CHANNELS",
    "MINATAR_GAMES",
    "MINATAR_HELD_OUT",
    "MINATAR_POOL",
    "MinAtarNotInstalledError",
    "GameSpec",
    "HELD_OUT_GAMES",
    "MissingRomError",
    "POOL_MAX_ACTIONS",
    "PRETRAINING_POOL",
    "UnknownGameError",
    "derive_pretraining_pool",
    "game_names",
    "is_atari_game",
    "is_minatar_name",
    "make_atari_vector_env",
    "make_minatar_vector_env",
    "make_vector_env",
    "native_backend_available",
    "num_actions",
    "resolve_game",
]
