"""The A2C learner's n-step returns at episode ends, worked out by hand on a stand-in env.

A truncated episode (time limit) did not end in its MDP: its return bootstraps from the value of
its last observation, ``info["final_obs"]`` (SAME_STEP autoreset: the observation returned is
already the next episode's first). Only a termination cuts the bootstrap.
"""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import torch
from gymnasium.spaces import Box, Discrete
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorWrapper
from gymnasium.wrappers import TimeLimit

import leap_rl.agent.a2c as a2c_module
from leap_rl.agent import A2CConfig, A2CLearner, build_actor_critic

GAMMA, LIMIT, T = 0.9, 3, 5


class Counter(gym.Env):
    """Observation (k, ident) after k steps of the episode; reward 2k; terminates at step
    ``terminate_at`` (never if None). The reward of step 3, 6, is clipped to 5 by the learner."""

    observation_space = Box(-np.inf, np.inf, (2,), np.float32)
    action_space = Discrete(2)

    def __init__(self, ident: int, terminate_at: int | None) -> None:
        self.ident, self.terminate_at, self.k = ident, terminate_at, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.k = 0
        return self._obs(), {}

    def step(self, action):
        self.k += 1
        return self._obs(), 2.0 * self.k, self.k == self.terminate_at, False, {}

    def _obs(self) -> np.ndarray:
        return np.array([self.k, self.ident], dtype=np.float32)


class SplitPhase(VectorWrapper):
    """``step_async``/``step_wait`` over a plain vector env (what the learner steps with)."""

    def step_async(self, actions) -> None:
        self._actions = actions

    def step_wait(self):
        return self.env.step(self._actions)


def counter_envs() -> SplitPhase:
    """Env 0 is truncated at its step 3; env 1 terminates at step 2; env 2 terminates at step 3,
    the very step its time limit truncates it too (a termination: no bootstrap)."""
    makers = [lambda i=i, end=end: TimeLimit(Counter(i, end), max_episode_steps=LIMIT)
              for i, end in ((0, None), (1, 2), (2, 3))]
    return SplitPhase(SyncVectorEnv(makers, autoreset_mode=AutoresetMode.SAME_STEP))


def test_truncation_bootstraps_from_the_final_observation_termination_cuts(monkeypatch):
    cfg = A2CConfig(num_envs=3, unroll_length=T, discount=GAMMA, encoder="mlp", device="cpu")
    torch.manual_seed(0)
    learner = A2CLearner(counter_envs(), build_actor_critic("mlp", (2,), 2), cfg, seed=0)
    model = copy.deepcopy(learner.model)  # θ of the unroll (the step comes after the loss)

    def v(k: int, ident: int) -> float:
        with torch.no_grad():
            return model(torch.tensor([[k, ident]], dtype=torch.float32))[1].item()

    seen = []
    real_loss = a2c_module.a2c_loss
    monkeypatch.setattr(a2c_module, "a2c_loss", lambda logits, values, actions, returns, *a:
                        (seen.append(returns.detach().clone()),
                         real_loss(logits, values, actions, returns, *a))[1])
    learner.update()
    assert len(seen) == 1
    got = seen[0].reshape(T, 3)
    g = GAMMA
    # Env 0, rewards 2 4 5 | 2 4: truncated at t=2, so R₂ = 5 + γ·V(final obs (3, 0)).
    r4 = 4 + g * v(2, 0)
    r2 = 5 + g * v(3, 0)
    env0 = [2 + g * (4 + g * r2), 4 + g * r2, r2, 2 + g * r4, r4]
    # Env 1, rewards 2 4 | 2 4 | 2: terminated at t=1 and t=3.
    env1 = [2 + g * 4, 4, 2 + g * 4, 4, 2 + g * v(1, 1)]
    # Env 2, rewards 2 4 5 | 2 4: terminated (and truncated) at t=2.
    r4 = 4 + g * v(2, 2)
    env2 = [2 + g * (4 + g * 5), 4 + g * 5, 5, 2 + g * r4, r4]
    expected = torch.tensor([env0, env1, env2], dtype=torch.float32).T
    torch.testing.assert_close(got, expected)
