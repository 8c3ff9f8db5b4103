"""Env groups (inner.env_groups): stepping the batch in groups changes timing, not the algorithm.

With groups, the A2C learner sends one group its actions and computes the next group's while the
first emulates (issue 9, item 3). The batch, the seeds and the policy are the same, so with a
deterministic policy the rollouts, updates and Leap meta-gradients equal the lockstep learner's.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from gymnasium.vector import SyncVectorEnv
from pydantic import ValidationError

from leap_rl.agent import A2CConfig, A2CLearner, build_actor_critic
from leap_rl.backends.a2c_task import build_learner
from leap_rl.config import ExperimentConfig
from leap_rl.core.leap import LeapAccumulator
from leap_rl.envs import make_vector_env


class GreedyLearner(A2CLearner):
    """Acts by argmax so that two learners' rollouts can be compared step for step."""

    @torch.no_grad()
    def _act(self, obs):
        logits, _ = self.model(obs)
        return logits.argmax(-1)


def cartpole(groups: int, seed: int = 0) -> GreedyLearner:
    cfg = A2CConfig(num_envs=6, env_groups=groups, unroll_length=5, learning_rate=3e-3,
                    encoder="mlp", device="cpu")
    size = cfg.num_envs // groups
    envs = [make_vector_env("CartPole-v1", size, seed=seed + k * size) for k in range(groups)]
    torch.manual_seed(seed)
    model = build_actor_critic("mlp", envs[0].single_observation_space.shape,
                               envs[0].single_action_space.n)
    return GreedyLearner(envs, model, cfg, seed=seed,
                         accumulator=LeapAccumulator(metric="length"))


@pytest.mark.parametrize("groups", [2, 3, 6])
def test_grouped_learner_takes_the_same_path_as_the_lockstep_one(groups):
    lockstep, grouped = cartpole(1), cartpole(groups)
    assert torch.equal(lockstep._obs[0], grouped._obs[0])  # env j seeded seed + j either way
    episode_ends = 0
    for _ in range(30):  # 900 agent steps: CartPole episodes end and reset meanwhile
        lockstep.update()
        grouped.update()
        assert torch.equal(lockstep._actions, grouped._actions)
        torch.testing.assert_close(grouped._obs, lockstep._obs)
        assert (lockstep._dones == grouped._dones).all()
        episode_ends += int(lockstep._dones.sum())
    assert episode_ends > 0
    for name, p in lockstep.model.named_parameters():
        torch.testing.assert_close(dict(grouped.model.named_parameters())[name], p)
    ref, got = lockstep.accumulator.flush(), grouped.accumulator.flush()
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=1e-4, atol=1e-6)
    assert lockstep.agent_steps == grouped.agent_steps == 30 * 5 * 6
    lockstep.close()
    grouped.close()


def test_groups_must_divide_the_batch():
    with pytest.raises(ValidationError, match="equal groups"):
        A2CConfig(num_envs=32, env_groups=3)


def test_learner_checks_the_envs_hold_the_batch():
    envs = [make_vector_env("CartPole-v1", 2, seed=0) for _ in range(2)]
    model = build_actor_critic("mlp", (4,), 2)
    with pytest.raises(ValueError, match="hold 4 environments"):
        A2CLearner(envs, model, A2CConfig(num_envs=6, encoder="mlp", device="cpu"), seed=0)


def test_atari_learner_pipelines_native_groups():
    """On a real game the groups are ale-py vector envs stepped with send/recv."""
    cfg = ExperimentConfig(inner={"num_envs": 4, "env_groups": 2, "device": "cpu"},
                           env={"max_episode_frames": 400})
    learner = build_learner("Pong", cfg, seed=1, accumulator=LeapAccumulator(metric="energy"),
                            env_threads=2)
    assert len(learner.envs) == 2 and all(e.num_envs == 2 for e in learner.envs)
    assert all(hasattr(e.env, "send") for e in learner.envs)  # the native backend
    for _ in range(4):
        learner.update()
    assert learner.accumulator.stats()["segments"] == 3
    assert torch.isfinite(torch.cat([g.flatten() for g in learner.accumulator.flush().values()])).all()
    learner.close()


def test_learner_refuses_envs_without_split_phase_stepping():
    env = SyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2)
    model = build_actor_critic("mlp", (4,), 2)
    with pytest.raises(TypeError, match="step_async/step_wait"):
        A2CLearner(env, model, A2CConfig(num_envs=2, encoder="mlp", device="cpu"), seed=0)
    env.close()
