"""Meta-validation's files in a run directory in a bucket (``s3://…``, a local moto server): the
baseline cache and validation.jsonl go through :mod:`leap_rl.io.storage` as the rest of the run
directory does. Nothing here starts Ray (the local-disk run: tests/integration/
test_meta_validation.py)."""

from __future__ import annotations

from leap_rl.io.storage import location
from leap_rl.validation.cache import BaselineCache
from leap_rl.validation.history import ValidationHistory


def test_cache_and_history_live_in_a_bucket(s3_bucket):
    run = location(f"{s3_bucket}/run")
    cache = BaselineCache(f"{s3_bucket}/run/validation/cache")
    key = {"format": 1, "game": "MinAtar/Breakout", "seed": 1, "steps": 800}
    entry = cache.put(key, {"agent_steps": 800, "episodes": [[100, 1.0]], "seconds": 0.5})
    assert BaselineCache(run / "validation" / "cache").get(key) == entry
    assert cache.put(key, {"agent_steps": 800, "episodes": [], "seconds": 9.0}) == entry

    history = ValidationHistory(run, patience=3)
    history.add({"meta_step": 1, "gain": 0.2})
    history.add({"meta_step": 2, "gain": 0.7})
    again = ValidationHistory(run, patience=3)
    again.load(completed=1)
    assert (again.best_gain, again.best_meta_step, len(again.records)) == (0.2, 1, 1)
    assert len((run / "validation.jsonl").read_text().splitlines()) == 1
