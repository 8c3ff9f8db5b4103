"""TensorBoard's x axis of a meta-training run: every scalar against the run's cumulative agent
steps, a step that only grows over the whole run, across a crash and a resume.

A tiny MinAtar run (real Ray, real games) does two meta-steps; the checkpoint of the second is
then removed, as if the driver died after logging meta-step 2 but before checkpointing it. The
resume redoes meta-step 2 and adds a third. Meta-step 1's points of the per-game curves must
survive the resume, meta-step 2's first pass must be gone (its redo logs the same steps), and
every tag's steps must strictly increase.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from leap_rl.config import load_config
from leap_rl.distributed.driver import MetaTrainer
from leap_rl.distributed.runlog import read_tasks

pytestmark = pytest.mark.integration
MINATAR = Path(__file__).parents[2] / "configs" / "minatar.yaml"


def config(meta_steps: int):
    return load_config(MINATAR, [
        "meta.steps_per_task=1600", f"meta.meta_steps={meta_steps}", "inner.num_envs=8",
        "workers.num_workers=2", "workers.flush_every=10", "env.minatar.max_episode_steps=150",
        "run.checkpoint_every=1"])


def scalar_events(run: Path) -> dict[str, list[tuple[int, float]]]:
    """tag → (step, value) of every point TensorBoard shows, in the order it shows them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def test_every_curve_grows_across_a_resume_and_keeps_its_pre_resume_points(ray_local, tmp_path):
    run, quiet = tmp_path / "run", open(os.devnull, "w")
    MetaTrainer(config(2), run, stream=quiet).run()
    first = sum(r["steps"] for r in read_tasks(run) if r["meta_step"] == 0)
    before = {tag: [p for p in points if p[0] <= first]  # meta-step 1's points
              for tag, points in scalar_events(run).items()}
    (run / "checkpoints" / "ckpt-000002.pt").unlink()  # died before checkpointing meta-step 2
    MetaTrainer(config(3), run, stream=quiet, resume=True).run()

    rows = read_tasks(run)
    assert [r["meta_step"] for r in rows] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    ends = list(itertools.accumulate(sum(r["steps"] for r in rows if r["meta_step"] == m)
                                     for m in range(3)))  # the axis after each meta-step
    events = scalar_events(run)
    drawn = {g: [m for m in range(3) if any(r["game"] == g and r["meta_step"] == m
                                            for r in rows)] for g in {r["game"] for r in rows}}
    for tag, points in events.items():
        steps = [s for s, _ in points]
        assert all(a < b for a, b in zip(steps, steps[1:])), f"{tag}: steps {steps}"
        if tag.split("/")[0] in ("objective", "workers", "failures") and "_ratio/" not in tag:
            assert steps == ends, tag  # one point per meta-step: no gap, no duplicate
        if tag.startswith("games/") and tag.endswith(("/d1", "/d2", "/episodes")):
            game = tag.removeprefix("games/").rsplit("/", 1)[0]
            assert steps == [ends[m] for m in drawn[game]], tag
        if tag in before:  # meta-step 1's points survived the resume
            assert set(before[tag]) <= set(points), tag
    assert [v for _, v in events["workers/meta_step"]] == [1.0, 2.0, 3.0]
