"""Meta-validation inside a tiny MinAtar meta-training run (real Ray, real games): one meta-step
with a validation on a game outside the pool writes validation.jsonl, the validation/ tags and
init/best.pt; a resume for one more meta-step keeps that history and takes every baseline run
from the cache (none computed again, the cache files untouched)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from leap_rl.config import load_config
from leap_rl.distributed.driver import MetaTrainer
from leap_rl.distributed.runlog import read_scalars
from leap_rl.io.artifacts import load_init

pytestmark = pytest.mark.integration
CONFIGS = Path(__file__).parents[2] / "configs"
GAME = "MinAtar/Breakout"  # short episodes: finished ones within a few hundred steps
TINY = ["meta.pool=[MinAtar/Asterix, MinAtar/Seaquest]", "meta.meta_batch_size=2",
        "meta.steps_per_task=800", "meta.meta_steps=1", "inner.num_envs=8",
        "workers.num_workers=2", "workers.flush_every=10", "env.minatar.max_episode_steps=150",
        f"validation.games=[{GAME}]", "validation.seeds=2", "validation.steps=800",
        "validation.every=1", "validation.window=5",
        "validation.baseline={inner.learning_rate: 0.008}"]


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "validation.jsonl").read_text().splitlines()]


def test_validation_records_tags_best_init_and_a_resume_reuses_the_cache(ray_local, tmp_path):
    run, quiet = tmp_path / "run", open(os.devnull, "w")
    cfg = load_config(CONFIGS / "minatar.yaml", TINY)
    MetaTrainer(cfg, run, stream=quiet).run()
    first = rows(run)
    assert len(first) == 1 and first[0]["meta_step"] == 1
    assert first[0]["baseline_computed"] == 2 and first[0]["baseline_cached"] == 0
    game = first[0]["games"][GAME]
    assert set(game["init"]) == set(game["random"]) == {"1000000", "1000001"}
    assert all(v is not None for v in [*game["init"].values(), *game["random"].values()])
    assert game["gain"] is not None and first[0]["gain"] == game["gain"]
    cache = sorted((run / "validation" / "cache").iterdir())
    assert len(cache) == 2
    stamps = {p.name: p.stat().st_mtime_ns for p in cache}
    best = load_init(run / "init" / "best.pt")
    assert best["meta_step"] == 1 and best["extra"]["validation_gain"] == first[0]["gain"]

    more = load_config(run / "config.yaml", ["meta.meta_steps=2", "validation.patience=1"])
    console = io.StringIO()
    summary = MetaTrainer(more, run, stream=console, resume=True).run()
    both = rows(run)
    assert len(both) == 2 and both[0] == first[0] and both[1]["meta_step"] == 2
    assert both[1]["baseline_computed"] == 0 and both[1]["baseline_cached"] == 2
    assert both[1]["games"][GAME]["random"] == game["random"]  # the same baseline runs
    assert {p.name: p.stat().st_mtime_ns for p in (run / "validation" / "cache").iterdir()} == stamps
    tags = read_scalars(run)
    for tag in ("validation/gain", f"validation/{GAME}/gain", f"validation/{GAME}/auc_init",
                f"validation/{GAME}/auc_random"):
        assert len(tags[tag]) == 2, tag
    assert tags["validation/gain"] == pytest.approx([r["gain"] for r in both])
    improved = both[1]["gain"] > both[0]["gain"]
    assert load_init(run / "init" / "best.pt")["meta_step"] == (2 if improved else 1)
    # Patience 1: a validation without a new best stops the run, and says so.
    assert summary.get("stopped_early", False) is not improved
    assert ("stopping early" in console.getvalue()) is not improved
