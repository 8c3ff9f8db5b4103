"""Joint pretraining (leap-rl pretrain-joint): one encoder, one head pair per game, A2C on all."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from leap_rl.baselines.joint import JointPretrainer
from leap_rl.baselines.joint_run import run_joint
from leap_rl.config import load_config
from leap_rl.io.artifacts import ArtifactError

pytest.importorskip("minatar")

ROOT = Path(__file__).parents[2]
POOL = "[MinAtar/Asterix, MinAtar/Freeway]"
# Tiny and fast: 4 envs per game, and 30-step episodes so that some end (and some are truncated,
# which bootstraps from info["final_obs"]) within a few updates.
OVERRIDES = ["inner.encoder=minatar", f"meta.pool={POOL}", "meta.meta_batch_size=2",
             "inner.device=cpu", "inner.num_envs=4", "env.minatar.max_episode_steps=30",
             "inner.learning_rate=1e-3"]
STEPS = 4 * 5 * 12  # 12 updates of 4 envs × 5 steps


@pytest.fixture
def cfg():
    return load_config(None, OVERRIDES)


def encoder_of(trainer):
    return {n: p.detach().clone() for n, p in trainer.encoder.named_parameters()}


def run(cfg, out, **kwargs):
    kwargs = {"steps_per_game": STEPS, "seed": 5, "report_every": 4, **kwargs}
    return run_joint(cfg, out, stream=open("/dev/null", "w"), **kwargs)


def read_encoder(path):
    return torch.load(path, weights_only=True)["parameters"]


def assert_same(a, b):
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "encoders differ"


def test_the_same_seed_gives_the_same_encoder_bit_for_bit(cfg):
    encoders = []
    for seed in (3, 3, 4):
        trainer = JointPretrainer(cfg, seed)
        for _ in range(8):
            trainer.update()
        encoders.append(encoder_of(trainer))
        trainer.close()
    assert_same(encoders[0], encoders[1])
    assert not all(torch.equal(encoders[0][k], encoders[2][k]) for k in encoders[0])


def test_one_step_trains_the_shared_encoder_and_every_games_head(cfg):
    trainer = JointPretrainer(cfg, 0)
    asterix, freeway = (g.model for g in trainer.games)
    assert asterix.encoder is freeway.encoder is trainer.encoder
    assert (asterix.policy.out_features, freeway.policy.out_features) == (5, 3)  # own action sets
    params = dict(trainer.net.named_parameters())  # the shared encoder once, then every head
    assert len(params) == 4 + 2 * 4
    assert set(map(id, trainer.optimizer.param_groups[0]["params"])) == set(map(id, params.values()))
    before = {n: p.detach().clone() for n, p in params.items()}
    trainer.update()
    for name, p in params.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"
        assert not torch.equal(p.detach(), before[name]), f"{name} did not move"
    trainer.close()


def test_the_encoder_pt_loads_for_the_same_config_and_starts_a_task(cfg, tmp_path):
    from leap_rl.backends.a2c_task import build_learner, read_init

    summary = run(cfg, tmp_path / "joint")
    assert summary["steps_per_game"] == STEPS and summary["updates"] == 12
    written = json.loads((tmp_path / "joint" / "summary.json").read_text())
    assert written["final_mean_return"].keys() == {"MinAtar/Asterix", "MinAtar/Freeway"}
    init = read_init(tmp_path / "joint" / "init" / "encoder.pt", cfg)
    learner = build_learner("MinAtar/Breakout", cfg, seed=0, init=init)  # a held-out game
    assert_same(init, {f"encoder.{n}": p.detach() for n, p in
                       learner.model.encoder.named_parameters()})
    learner.close()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "joint" / "tensorboard"))
    events.Reload()
    assert {"joint/MinAtar/Asterix/episodic_return",
            "joint/MinAtar/Freeway/episodic_return"} <= set(events.Tags()["scalars"])


def test_a_resumed_run_ends_with_the_encoder_of_an_uninterrupted_one(cfg, tmp_path):
    whole = run(cfg, tmp_path / "whole")
    calls = itertools.count()

    def crash_after_7_updates():
        if next(calls) == 7:
            raise KeyboardInterrupt  # a hard stop: only the periodic checkpoints remain

    with pytest.raises(KeyboardInterrupt):  # checkpoint after every update
        run(cfg, tmp_path / "cut", checkpoint_seconds=0.0, should_stop=crash_after_7_updates)
    assert not (tmp_path / "cut" / "init").exists()
    with pytest.raises(ArtifactError, match="--resume"):
        run(cfg, tmp_path / "cut")  # never starts over
    with pytest.raises(ArtifactError, match="seed"):
        run(cfg, tmp_path / "cut", resume=True, seed=6)
    resumed = run(cfg, tmp_path / "cut", resume=True)
    assert resumed["steps_per_game"] == whole["steps_per_game"]
    assert resumed["final_mean_return"] == whole["final_mean_return"]
    assert_same(read_encoder(tmp_path / "whole" / "init" / "encoder.pt"),
                read_encoder(tmp_path / "cut" / "init" / "encoder.pt"))


def leap_rl(*args):
    return subprocess.run([sys.executable, "-m", "leap_rl.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("override,fragment", [
    ("meta.pool=[MinAtar/Asterix, MinAtar/Frewey]", "Did you mean"),
    ("inner.lerning_rate=1e-3", "inner.lerning_rate"),
])
def test_bad_input_exits_2_before_anything_is_written(tmp_path, override, fragment):
    config = tmp_path / "joint.yaml"
    config.write_text(yaml.safe_dump({"inner": {"encoder": "minatar"},
                                      "meta": {"pool": ["MinAtar/Asterix"], "meta_batch_size": 1}}))
    result = leap_rl("pretrain-joint", str(config), "--out", str(tmp_path / "out"),
                     "--set", override)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
