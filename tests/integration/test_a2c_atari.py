"""The A2C learner with the Leap hook on real Atari games (the paper's network, RGB 84×84).

The same checks as tests/component/test_a2c_leap_hook.py's CartPole runs, on the real thing: one
observation per optimizer step, before it, and a finite meta-gradient for every encoder tensor.
"""

from __future__ import annotations

import pytest
import torch

from leap_rl.agent import A2CConfig, A2CLearner, build_actor_critic, encoder_state
from leap_rl.envs import make_vector_env
from leap_rl.testing import RecordingAccumulator


@pytest.mark.parametrize("game, actions", [("Breakout", 4), ("Alien", 18)])
def test_atari_end_to_end_with_real_accumulator(game, actions):
    cfg = A2CConfig(num_envs=8)  # paper settings otherwise; 8 envs to stay quick
    env = make_vector_env(game, cfg.num_envs, seed=0)
    try:
        assert env.single_observation_space.shape == (3, 84, 84)
        torch.manual_seed(0)
        model = build_actor_critic(cfg.encoder, env.single_observation_space.shape,
                                   env.single_action_space.n)
        assert model.policy.out_features == actions
        acc = RecordingAccumulator(metric="energy")
        learner = A2CLearner(env, model, cfg, seed=0, accumulator=acc)
        acc.attach(learner)
        assert learner._obs.shape[1:] == (8, 3, 84, 84)
        reports = list(learner.train(total_agent_steps=320, report_every_updates=4))
        assert acc.calls == acc.steps == learner.updates == 8 and learner.agent_steps == 320
        assert len(reports) == 2
        flushed = acc.flush()
        assert sorted(flushed) == sorted(encoder_state(model))
        assert sorted(flushed) == ["encoder.conv1.bias", "encoder.conv1.weight",
                                   "encoder.conv2.bias", "encoder.conv2.weight",
                                   "encoder.fc.bias", "encoder.fc.weight"]
        assert all(torch.isfinite(t).all() for t in flushed.values())
        assert acc.stats()["segments"] == 7
    finally:
        env.close()
