"""Registry of the games: ale-py's Atari ROMs and MinAtar's five, name resolution, action counts.

Every game is described by a :class:`GameSpec` (CamelCase gym name, snake_case ROM id,
family; its minimal action set size on demand). The registry is built from
``ale_py.roms.get_all_rom_ids()``, and ale-py (which imports gymnasium) is imported only when a
name is first looked up. Resolving an Atari name checks that its ROM file is there and matches
ale-py's checksum (``ale_py.roms.get_rom_path``: a hash of a small file, no emulator); the ROM
is loaded into the emulator (one ``ALEInterface.loadROM``, ~0.1 s, cached per ROM) only when
``GameSpec.num_actions`` is read.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from leap_rl.envs.minatar import (
    MINATAR_GAMES,
    MinAtarNotInstalledError,
    is_minatar_name,
    minatar_installed,
    resolve_minatar_game,
)

# ALE's C++ core calls exit() when asked to load these ROMs: they have no single-player
# mode. ale-py's own gym registration skips them for the same reason.
MULTIPLAYER_ONLY_ROMS = frozenset({"combat", "joust", "maze_craze", "warlords"})

# The environment variable that ale_py.roms.get_rom_path reads to override the ROM folder.
ROM_DIR_ENV_VAR = "ALE_ROMS_DIR"

_GYM_ID = re.compile(
    r"^(?:ALE/)?(?P<game>.+?)(?:-ram)?(?:NoFrameskip|Deterministic)?(?:-v\d+)?$",
    re.IGNORECASE,
)


class UnknownGameError(ValueError):
    """Raised for a game name that matches no known game; the message suggests close names."""

    def __init__(self, name: str, candidates: tuple[str, ...] = (), reason: str = "") -> None:
        self.name = name
        self.suggestions = close_matches(name, candidates or game_names())
        message = f"Unknown game {name!r}"
        if reason:
            message += f" ({reason})"
        if self.suggestions:
            message += f". Did you mean: {', '.join(self.suggestions)}?"
        else:
            message += ". See leap_rl.envs.game_names() for the supported games."
        super().__init__(message)


class MissingRomError(FileNotFoundError):
    """Raised when a known game's ROM file cannot be found (or fails ale-py's checksum)."""


@dataclass(frozen=True)
class GameSpec:
    """A game: registry name, snake_case ROM id (MinAtar: module) and family.

    ``family`` is ``"atari"`` (ale-py's ROMs) or ``"minatar"`` (``MinAtar/<Game>``).
    """

    name: str
    rom_id: str
    family: str = "atari"

    @property
    def num_actions(self) -> int:
        """Size of the minimal action set; for Atari the first read loads the ROM (cached)."""
        if self.family == "minatar":
            return MINATAR_GAMES[self.name].num_actions
        return _minimal_action_count(self.rom_id)

    @property
    def gym_id(self) -> str:
        """The gymnasium id of the game's v5 environment, e.g. ``ALE/Breakout-v5``."""
        return f"ALE/{self.name}-v5"


def close_matches(name: str, candidates: tuple[str, ...], n: int = 5) -> tuple[str, ...]:
    """Candidates closest to ``name``, ignoring case, punctuation and gym id decorations."""
    match = _GYM_ID.match(name.strip())
    query = _key(match.group("game") if match else name)
    by_key = {_key(candidate): candidate for candidate in candidates}
    keys = difflib.get_close_matches(query, list(by_key), n=n, cutoff=0.6)
    return tuple(by_key[key] for key in keys)


def rom_id_to_name(rom_id: str) -> str:
    """CamelCase gym name of a ROM id, e.g. ``space_invaders`` -> ``SpaceInvaders``."""
    # Same rule as ale_py.registration, so names always match the gym ids.
    return rom_id.title().replace("_", "")


def _key(name: str) -> str:
    """Normalised lookup key: lower case, only letters and digits."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@functools.lru_cache(maxsize=1)
def _rom_ids_by_key() -> dict[str, str]:
    """Map from normalised key to ROM id, for every single-player ROM ale-py knows."""
    from ale_py import roms  # imports gymnasium too: deferred until a name is looked up

    return {
        _key(rom_id): rom_id
        for rom_id in roms.get_all_rom_ids()
        if rom_id not in MULTIPLAYER_ONLY_ROMS
    }


def game_names() -> tuple[str, ...]:
    """CamelCase names of every supported game, in ale-py's ROM order."""
    return tuple(rom_id_to_name(rom_id) for rom_id in _rom_ids_by_key().values())


def _lookup_rom_id(name: str) -> str | None:
    """ROM id for any accepted spelling of a game name, or None."""
    by_key = _rom_ids_by_key()
    if _key(name) in by_key:  # covers Breakout, breakout, space_invaders, SpaceInvaders
        return by_key[_key(name)]
    match = _GYM_ID.match(name.strip())
    if match is None:
        return None
    return by_key.get(_key(match.group("game")))


def is_atari_game(name: str) -> bool:
    """Whether ``name`` is any accepted spelling of a supported Atari game."""
    return _lookup_rom_id(name) is not None


def rom_path(rom_id: str) -> Path:
    """Path of a ROM file; raises MissingRomError with instructions if it is unavailable."""
    from ale_py import roms

    try:
        path = roms.get_rom_path(rom_id)
    except OSError as err:  # missing file or folder, or a checksum mismatch
        raise MissingRomError(_missing_rom_message(rom_id, str(err))) from err
    if path is None or not Path(path).is_file():
        raise MissingRomError(_missing_rom_message(rom_id, f"no file at {path}"))
    return Path(path)


def _missing_rom_message(rom_id: str, detail: str) -> str:
    """Explain how to make the ROM of ``rom_id`` available."""
    return (
        f"ROM for {rom_id_to_name(rom_id)} ({rom_id}.bin) is not available: {detail}. "
        "ale-py >= 0.9 ships every ROM inside its wheel, so reinstalling ale-py usually "
        f"fixes this. If ${ROM_DIR_ENV_VAR} is set, it must name a folder that contains "
        f"{rom_id}.bin (unset it to use the bundled ROMs), or install the ROMs with "
        f"`pip install autorom && AutoROM --accept-license --install-dir DIR` and set "
        f"{ROM_DIR_ENV_VAR}=DIR."
    )


@functools.lru_cache(maxsize=None)
def _checked_rom_path(rom_id: str) -> Path:
    """:func:`rom_path`, once per ROM (ale-py prints a line per look-up when ALE_ROMS_DIR is set)."""
    return rom_path(rom_id)


@functools.lru_cache(maxsize=None)
def _minimal_action_count(rom_id: str) -> int:
    """Size of the minimal action set of a ROM (cached): :func:`_load_action_count` of its file."""
    return _load_action_count(_checked_rom_path(rom_id))


def _load_action_count(path: Path) -> int:
    """Loads the ROM at ``path`` into a bare ALEInterface and counts its minimal action set."""
    import ale_py

    # The same global setting ale_py.env.AtariEnv applies: silence the ROM banners.
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    ale = ale_py.ALEInterface()
    ale.loadROM(str(path))
    return len(ale.getMinimalActionSet())


def resolve_game(name: str) -> GameSpec:
    """Resolve any spelling of a game (``Breakout``, ``ALE/Breakout-v5``, ``space_invaders``, ...).

    An Atari name's ROM file must be present and intact (:class:`MissingRomError` otherwise);
    the ROM is not loaded. ``MinAtar/<Game>`` names resolve to MinAtar games, which need the
    optional ``minatar`` package (:class:`~leap_rl.envs.minatar.MinAtarNotInstalledError`
    names the extra).
    """
    if is_minatar_name(name):
        return _resolve_minatar(name)
    rom_id = _lookup_rom_id(name)
    if rom_id is None:
        base = _GYM_ID.match(name.strip())
        if base and _key(base.group("game")) in {_key(r) for r in MULTIPLAYER_ONLY_ROMS}:
            raise UnknownGameError(name, reason="ROM has no single-player mode")
        raise UnknownGameError(name)
    _checked_rom_path(rom_id)  # raises MissingRomError now, not when the game first runs
    return GameSpec(rom_id_to_name(rom_id), rom_id)


def _resolve_minatar(name: str) -> GameSpec:
    game = resolve_minatar_game(name)
    if game is None:
        raise UnknownGameError(name, tuple(MINATAR_GAMES))
    if not minatar_installed():
        raise MinAtarNotInstalledError(game.name)
    return GameSpec(game.name, game.module, family="minatar")


def num_actions(game: str) -> int:
    """Size of the minimal action set of ``game`` (any accepted spelling); cached per ROM."""
    return resolve_game(game).num_actions
