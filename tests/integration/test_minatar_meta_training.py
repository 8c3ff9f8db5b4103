"""A tiny-budget MinAtar meta-training run end to end: real Ray, real MinAtar games, the shipped
config; then a held-out MinAtar game trained from the learned θ⁰ through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from leap_rl.cli import main
from leap_rl.config import load_config
from leap_rl.distributed.driver import MetaTrainer, initial_init
from leap_rl.distributed.runlog import read_scalars, read_tasks
from leap_rl.envs import MINATAR_HELD_OUT, MINATAR_POOL
from leap_rl.io.artifacts import load_init

pytestmark = pytest.mark.integration
CONFIGS = Path(__file__).parents[2] / "configs"


def test_minatar_meta_training_then_a_held_out_task(ray_local, tmp_path):
    cfg = load_config(CONFIGS / "minatar.yaml", [
        "meta.steps_per_task=1600", "meta.meta_steps=2", "inner.num_envs=8",
        "workers.num_workers=2", "workers.flush_every=10",
        "env.minatar.max_episode_steps=150"])  # Freeway runs 2,500 steps otherwise
    assert cfg.meta.pool == list(MINATAR_POOL)
    summary = MetaTrainer(cfg, tmp_path / "run", stream=open(os.devnull, "w")).run()
    records = read_tasks(tmp_path / "run")
    assert len(records) == 6 and {r["game"] for r in records} == set(MINATAR_POOL)
    for r in records:
        assert r["status"] == "completed" and r["steps"] == 1600 and r["chunks_received"] >= 2
        assert r["d1"] > 0 and r["final_return"] is not None  # MinAtar episodes are short
    check_health_tags(tmp_path / "run")
    learned = load_init(summary["init"])
    assert learned["architecture"] == "minatar" and tuple(learned["observation_shape"]) == (10, 10, 10)
    start, _ = initial_init(cfg)
    assert learned["parameters"].keys() == start.keys()
    # Adam's first steps move every coordinate that had a gradient by about the learning rate.
    lr = cfg.meta.learning_rate
    for name, value in learned["parameters"].items():
        step = (value - start[name]).abs()
        assert 0.5 * lr < float(step.median()) <= 2 * lr + 1e-7, name

    out = tmp_path / "task"
    code = main(["train-task", "--game", MINATAR_HELD_OUT[1], "--steps", "800",
                 "--config", str(CONFIGS / "minatar.yaml"), "--set", "inner.num_envs=8",
                 "--init", summary["init"], "--out", str(out)])
    assert code == 0
    task = json.loads((out / "summary.json").read_text())
    assert task["game"] == "MinAtar/SpaceInvaders" and task["agent_steps"] == 800
    assert task["init"] == summary["init"]
    final = load_init(out / "final_encoder.pt")
    assert final["architecture"] == "minatar" and final["parameters"].keys() == start.keys()
    assert torch.isfinite(torch.cat([v.flatten() for v in final["parameters"].values()])).all()


def check_health_tags(run: Path) -> None:
    """θ⁰'s health every meta-step (issue 25): init/ tags, finite; θ⁰ histograms; each pool
    game's final-encoder dormant share; the frames kept in the run directory."""
    import math

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = read_scalars(run)
    for layer in ("conv", "fc"):
        for tag in (f"init/dormant_share/pool/{layer}/tau=0",
                    f"init/dormant_share/pool/{layer}/tau=0.025",
                    f"init/rms/{layer}", f"init/distance/{layer}"):
            assert len(scalars[tag]) == 2 and all(math.isfinite(v) for v in scalars[tag]), tag
        for game in MINATAR_POOL:
            values = scalars[f"games/{game}/final_dormant_share/{layer}/tau=0"]
            assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
    assert scalars["init/distance/fc"][1] > 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert "init/params/fc.weight" in events.Tags()["histograms"]
    assert (run / "health_frames.pt").is_file()
