"""The RLlib backend's parts that need no Ray: config keys, errors, runner choice, the RLModule.

The RLModule must carry our encoder under the same names and shapes as the A2C network, so one
``encoder.pt`` serves both backends, and compute what the A2C network computes from the same θ⁰,
heads and frame (RLlib feeds frames as float32 HWC in [-1, 1]).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from leap_rl.agent.network import build_actor_critic, load_encoder, meta_parameters, reset_heads
from leap_rl.backends.a2c import A2CTask
from leap_rl.backends.base import backend_for
from leap_rl.cli import main
from leap_rl.config import ConfigError, load_config

ROOT = Path(__file__).parents[2]
SMOKE, SMOKE_RLLIB = ROOT / "configs" / "smoke.yaml", ROOT / "configs" / "smoke_rllib.yaml"

pytest.importorskip("ray.rllib")


def test_defaults_keep_the_paper_learner():
    cfg = load_config(None)
    assert (cfg.inner.backend, cfg.rllib.algorithm, cfg.rllib.training) == ("a2c", "PPO", {})
    assert isinstance(backend_for(cfg).task_runner(), A2CTask)


def test_rllib_backend_is_chosen_by_the_config():
    from leap_rl.rllib import RLlibTask

    cfg = load_config(SMOKE_RLLIB)
    assert (cfg.inner.backend, cfg.rllib.algorithm) == ("rllib", "PPO")
    assert cfg.rllib.training["num_epochs"] == 2
    assert isinstance(backend_for(cfg).task_runner(), RLlibTask)


@pytest.mark.parametrize("override,words", [
    ("rllib.training.no_such_setting=1", ["rllib.training", "no_such_setting"]),
    ("rllib.training.minibatch_size=4096", ["rllib.training", "minibatch_size", "4096"]),
    ("rllib.algorithm=DQN", ["rllib.algorithm"]),
    # The keys' old place in the inner section: the error says where they went.
    ("inner.algorithm=APPO", ["inner.algorithm", "moved to rllib.algorithm"]),
    ("inner.rllib.num_epochs=1", ["inner.rllib", "moved to rllib.training"]),
])
def test_rllib_settings_are_judged_by_rllib_as_config_errors(override, words):
    with pytest.raises(ConfigError) as err:
        load_config(SMOKE_RLLIB, [override])
    assert all(w in str(err.value) for w in words), str(err.value)


def test_backend_flag_sets_inner_backend_and_bad_settings_exit_2(capsys, tmp_path):
    # smoke.yaml's batch (8 envs × 5 steps) is smaller than PPO's default minibatch of 128:
    # RLlib refuses it, and the command stops with one message before building anything.
    code = main(["train-task", "--config", str(SMOKE), "--backend", "rllib", "--game", "Pong",
                 "--steps", "10", "--out", str(tmp_path / "task")])
    err = capsys.readouterr().err
    assert code == 2 and "rllib.training" in err and "minibatch_size" in err
    assert err.count("leap-rl: error:") == 1 and "Traceback" not in err
    assert not (tmp_path / "task").exists()
    code = main(["evaluate", "--init", str(tmp_path / "none.pt"), "--config", str(SMOKE_RLLIB),
                 "--backend", "rllib", "--set", "rllib.training.bogus=1"])
    err = capsys.readouterr().err
    assert code == 2 and "bogus" in err


def test_module_names_shapes_and_outputs_match_the_a2c_network():
    import gymnasium as gym
    import numpy as np
    from ray.rllib.core.columns import Columns

    from leap_rl.rllib.module import LeapActorCriticModule, encoder_parameters, load_init

    obs_space = gym.spaces.Box(-1.0, 1.0, (84, 84, 3), np.float32)
    module = LeapActorCriticModule(observation_space=obs_space, action_space=gym.spaces.Discrete(6),
                                   model_config={"head_seed": 1})
    reference = build_actor_critic("nature2013", (3, 84, 84), 6)
    ours = meta_parameters(reference, ["encoder."])
    theirs = encoder_parameters(module)
    assert list(theirs) == list(ours) == [f"encoder.{n}.{t}" for n in ("conv1", "conv2", "fc")
                                          for t in ("weight", "bias")]
    assert all(theirs[k].shape == ours[k].shape for k in ours)
    assert list(meta_parameters(module, ["encoder."])) == list(ours)

    torch.manual_seed(5)
    init = {k: torch.randn_like(v) * 0.05 for k, v in ours.items()}
    load_init(module, init, 9)
    load_encoder(reference, init)
    reset_heads(reference, 9)
    pixels = torch.randint(0, 256, (4, 3, 84, 84), dtype=torch.uint8)
    rllib_obs = pixels.permute(0, 2, 3, 1).float() / 128.0 - 1.0  # NormalizedImageEnv
    with torch.no_grad():
        logits, value = reference(pixels)
        out = module.forward_train({Columns.OBS: rllib_obs})
        values = module.compute_values({Columns.OBS: rllib_obs})
    assert torch.equal(out[Columns.ACTION_DIST_INPUTS], logits)
    assert torch.equal(values, value)
    with pytest.raises(ValueError, match="shape mismatch"):
        load_init(module, {**init, "encoder.fc.bias": torch.zeros(3)}, 0)
