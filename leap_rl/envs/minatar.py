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

This module is the name registry and imports neither gymnasium nor numpy, so that a config
validates cheaply; the environment itself is in :mod:`leap_rl.envs.minatar_env`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MINATAR_CHANNELS",
    "MINATAR_GAMES",
    "MinAtarGame",
    "MinAtarNotInstalledError",
    "is_minatar_name",
    "minatar_installed",
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
