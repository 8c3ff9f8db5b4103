"""Game registry (Atari, MinAtar), the Leap game sets, and vectorised environments.

Names are imported from their modules on first use (PEP 562), so that ``from leap_rl.envs import
resolve_game`` (the config loader) imports neither gymnasium nor ale-py; the environment
factories (:mod:`leap_rl.envs.atari`, :mod:`leap_rl.envs.minatar_env`) load them when asked for.
"""

from __future__ import annotations

from leap_rl.core.lazy import lazy_exports

# Public name -> the module of leap_rl.envs that defines it.
_HOMES = {
    "atari": ("Backend", "make_atari_vector_env", "make_vector_env", "native_backend_available"),
    "games": ("GameSpec", "MissingRomError", "UnknownGameError", "game_names", "is_atari_game",
              "num_actions", "resolve_game"),
    "minatar": ("MINATAR_CHANNELS", "MINATAR_GAMES", "MinAtarNotInstalledError",
                "is_minatar_name"),
    "minatar_env": ("make_minatar_vector_env",),
    "pools": ("CLASSIC_GYM_GAMES", "EVALUATION_SET", "HELD_OUT_GAMES", "MINATAR_HELD_OUT",
              "MINATAR_POOL", "POOL_MAX_ACTIONS", "PRETRAINING_POOL", "derive_pretraining_pool"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())  # noqa: PLE0605

