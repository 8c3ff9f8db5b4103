"""The random-θ⁰ baseline runs of meta-validation, computed once and kept.

A random θ⁰'s run depends on nothing that meta-training changes, so it is computed once per
*key*: everything that determines it (game, seed, steps, the baseline's inner settings with
``validation.baseline``'s overrides — architecture included —, the game's environment settings,
the backend and its own settings). A resumed run, and sweep trials sharing ``cache_dir``, find
it there. Entries are JSON files written atomically (:func:`leap_rl.io.artifacts.atomic_write`,
one upload on an object store); two writers of one key agree, because a writer that finds the
entry already written keeps that one and uses its value, and each write is whole.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from leap_rl.io.artifacts import atomic_write
from leap_rl.io.storage import RunPath, location

if TYPE_CHECKING:
    from leap_rl.config import ExperimentConfig

FORMAT = 1  # bumped when what a cached run means changes


def baseline_key(baseline: ExperimentConfig, game: str, seed: int, steps: int) -> dict[str, Any]:
    """Everything that determines a random-θ⁰ validation run, as plain JSON values.

    ``baseline``: the baseline's config (:func:`leap_rl.config.baseline_config`)."""
    from leap_rl.envs import is_atari_game, is_minatar_name

    family = is_atari_game(game) or is_minatar_name(game)
    key = {"format": FORMAT, "game": game, "seed": seed, "steps": steps,
           "inner": baseline.inner.model_dump(mode="json"),
           "env": baseline.env.settings_for(game) if family else {}}
    if baseline.inner.backend != "a2c":  # another backend's own section shapes its runs too
        key["rllib"] = baseline.rllib.model_dump(mode="json")
    return key


def digest(key: dict[str, Any]) -> str:
    """The key's SHA-256 over its canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class BaselineCache:
    """Baseline runs in ``directory`` (a path or a URI), one JSON file per key."""

    def __init__(self, directory: str | RunPath) -> None:
        self.directory = location(directory)

    def path(self, key: dict[str, Any]) -> RunPath:
        game = re.sub(r"[^A-Za-z0-9]+", "-", str(key["game"])).strip("-")
        return self.directory / f"{game}-s{key['seed']}-{digest(key)[:20]}.json"

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The cached run of ``key`` ({key, agent_steps, episodes, seconds}); None if absent."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # unreadable: computed again and rewritten
        return entry if entry.get("key") == key else None  # a digest prefix clash: not ours

    def put(self, key: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        """Stores ``run`` under ``key`` unless an entry is there already; returns the entry that
        is there afterwards (when two writers race, the one whose write landed last: both are
        whole runs of the same key, and every later reader uses that one)."""
        existing = self.get(key)
        if existing is not None:
            return existing
        entry = {"key": key, **run}
        text = json.dumps(entry, sort_keys=True)
        atomic_write(self.path(key), lambda handle: handle.write(text.encode()))
        return self.get(key) or entry
