"""Game registry (Atari, MinAtar), the Leap game sets, and vectorised environments.

Names are imported from their modules on first use (PEP 562), so that ``from leap_rl.envs import
resolve_game`` (the config loader) imports neither gymnasium nor ale-py; the environment
factories (:mod:`leap_rl.envs.atari`, :mod:`leap_rl.envs.minatar_env`) load them when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

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
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_HOME_OF)  # noqa: PLE0605 - built from _HOMES, the one list of names


def __getattr__(name: str) -> Any:
    if name not in _HOME_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME_OF[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

