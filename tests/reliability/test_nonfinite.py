"""Non-finite values (item 7 of the reliability issue): a NaN loss inside a task, non-finite
partial sums arriving at the driver, and a run of meta-steps with nothing usable."""

import io
import os
from pathlib import Path

import pytest
import torch

from leap_rl.backends.a2c import A2CTask
from leap_rl.config import load_config
from leap_rl.distributed.checkpoint import load_latest
from leap_rl.distributed.driver import MetaTrainer, MetaTrainingError, initial_init
from leap_rl.distributed.runlog import read_scalars, read_tasks
from leap_rl.testing import StandInTask

pytestmark = pytest.mark.reliability
SMOKE = Path(__file__).parents[2] / "configs" / "smoke.yaml"


def config(*overrides):
    return load_config(SMOKE, ["workers.num_cpus=0.5", "run.checkpoint_every=1", *overrides])


def test_nonfinite_chunks_are_skipped_counted_and_change_nothing(ray_local, tmp_path):
    """NaN and ±inf chunks are dropped: the run equals one whose same chunks were zeros."""
    quiet = open(os.devnull, "w")
    for name, value in (("nan", float("nan")), ("inf", float("inf")), ("zero", 0.0)):
        runner = StandInTask(chunks=4, blank_chunks=(1, 3), blank_value=value)
        MetaTrainer(config("meta.meta_steps=2"), tmp_path / name, runner=runner,
                    stream=quiet).run()
    zero = load_latest(tmp_path / "zero" / "checkpoints")["meta_optimizer"]
    for name in ("nan", "inf"):
        bad = load_latest(tmp_path / name / "checkpoints")["meta_optimizer"]
        for k in zero["init"]:
            assert torch.equal(bad["init"][k], zero["init"][k])
        for slot, state in zero["adam"]["state"].items():
            assert torch.equal(bad["adam"]["state"][slot]["exp_avg_sq"], state["exp_avg_sq"])
        assert read_scalars(tmp_path / name)["failures/nonfinite_chunks"] == [4.0, 4.0]  # 2 tasks × 2
    assert read_scalars(tmp_path / "zero")["failures/nonfinite_chunks"] == [0.0, 0.0]


def test_meta_steps_without_a_usable_update_stop_the_run_with_theta_unchanged(ray_local, tmp_path):
    cfg = config("meta.meta_steps=5", "run.max_consecutive_bad_meta_steps=2")
    log = io.StringIO()
    trainer = MetaTrainer(cfg, tmp_path, runner=StandInTask(chunks=2, blank_chunks=(0, 1)),
                          stream=log)
    with pytest.raises(MetaTrainingError, match="2 meta-steps in a row without an update"):
        trainer.run()
    assert "meta-step 1 skipped, θ⁰ unchanged: only 0 task(s) contributed" in log.getvalue()
    state = load_latest(tmp_path / "checkpoints")  # written after the first (bad) meta-step
    start, _ = initial_init(cfg)
    assert state["meta_step"] == 1 and state["meta_optimizer"]["adam"]["state"] == {}
    for k, v in start.items():
        assert torch.equal(state["meta_optimizer"]["init"][k], v)
    assert [r["meta_step"] for r in read_tasks(tmp_path)] == [0, 0, 1, 1]
    assert read_scalars(tmp_path)["failures/update_skipped"] == [1.0, 1.0]


def test_a_nan_loss_inside_a_real_task_is_skipped_and_counted(ray_local, tmp_path):
    """The paper's A2C on ALE, with the loss replaced by NaN at one optimizer step: the two
    segments touching that point are skipped, counted, and the meta-step still updates θ⁰."""
    from leap_rl.core.leap import LeapAccumulator

    class NaNLossOnce(LeapAccumulator):
        def observe(self, loss, params, grads):
            self.calls = getattr(self, "calls", 0) + 1
            super().observe(torch.full_like(loss, float("nan")) if self.calls == 5 else loss,
                            params, grads)

    class InjectingA2CTask(A2CTask):
        def accumulator(self, cfg):
            leap = cfg.leap
            return NaNLossOnce(leap.metric, leap.loss_in_manifold, leap.stabilizer)

    cfg = config("meta.meta_steps=1", "meta.steps_per_task=800", "workers.num_cpus=1",
                 "env.max_episode_frames=160")
    MetaTrainer(cfg, tmp_path, runner=InjectingA2CTask(), stream=open(os.devnull, "w")).run()
    for row in read_tasks(tmp_path):
        assert row["status"] == "completed" and row["skipped_segments"] == 2
    tags = read_scalars(tmp_path)
    assert tags["failures/skipped_segments"] == [4.0] and tags["failures/update_skipped"] == [0.0]
    assert tags["objective/init_update_norm"][0] > 0
