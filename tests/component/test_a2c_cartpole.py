"""Component tests of the A2C learner on CartPole-v1: it learns, is seeded, reports correctly.

CartPole settings (not the paper's Atari ones, which are tuned for 5M-step Atari runs): MLP
encoder, 8 envs, unroll 5, RMSProp lr 7e-3 / eps 1e-5, grad-norm clip 0.5. Seeds 0-4 reached a
mean return >= 195 over 20 episodes within 18k-51k agent steps (~1-3 s) on a 2-core CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leap_rl.agent import A2CConfig, A2CLearner, build_actor_critic
from leap_rl.envs import make_vector_env

SOLVED = 195.0
WINDOW = 20


def make_learner(seed: int, **overrides) -> A2CLearner:
    settings = dict(num_envs=8, unroll_length=5, learning_rate=7e-3, rmsprop_eps=1e-5,
                    max_grad_norm=0.5, encoder="mlp", device="cpu")
    cfg = A2CConfig(**{**settings, **overrides})
    env = make_vector_env("CartPole-v1", cfg.num_envs, seed=seed)
    torch.manual_seed(seed)
    model = build_actor_critic("mlp", env.single_observation_space.shape,
                               env.single_action_space.n)
    return A2CLearner(env, model, cfg, seed=seed)


def test_cartpole_learns_to_195():
    learner = make_learner(seed=0)
    returns: list[float] = []
    best = 0.0
    for report in learner.train(total_agent_steps=150_000, report_every_updates=20):
        returns += [r for r, _ in report.episodes]
        if len(returns) >= WINDOW:
            best = max(best, float(np.mean(returns[-WINDOW:])))
        if best >= SOLVED:
            break
    print(f"CartPole: mean return {best:.1f} over {WINDOW} episodes at "
          f"{learner.agent_steps} agent steps ({learner.updates} updates)")
    assert best >= SOLVED, f"mean of last {WINDOW} returns peaked at {best:.1f} < {SOLVED}"


def test_same_seed_gives_identical_parameters_and_other_seed_differs():
    def final_params(seed: int) -> list[torch.Tensor]:
        learner = make_learner(seed)
        for _ in learner.train(total_agent_steps=2_000, report_every_updates=10):
            pass
        return [p.detach().clone() for p in learner.model.parameters()]

    a, b, c = final_params(3), final_params(3), final_params(4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_reports_every_n_updates_then_a_final_partial_one():
    learner = make_learner(seed=1, num_envs=4, unroll_length=5)  # 20 agent steps per update
    reports = list(learner.train(total_agent_steps=20 * 7, report_every_updates=3))
    assert [(r.updates, r.agent_steps) for r in reports] == [(3, 60), (6, 120), (7, 140)]
    assert learner.updates == 7 and learner.agent_steps == 140
    for r in reports:
        assert np.isfinite([r.policy_loss, r.value_loss, r.entropy, r.steps_per_second]).all()
        assert r.entropy > 0 and all(length >= 1 for _, length in r.episodes)
    # Exactly divisible: no empty extra report; a later call continues from the total reached.
    more = list(learner.train(total_agent_steps=20 * 13, report_every_updates=3))
    assert [r.updates for r in more] == [10, 13]
    assert list(learner.train(total_agent_steps=20 * 13, report_every_updates=3)) == []


def test_caller_may_stop_at_any_yield():
    learner = make_learner(seed=2)
    gen = learner.train(total_agent_steps=10_000, report_every_updates=2)
    first = next(gen)
    gen.close()
    assert first.updates == learner.updates == 2
    assert next(learner.train(total_agent_steps=10_000, report_every_updates=1)).updates == 3


def test_episode_stats_use_raw_rewards_and_lengths():
    learner = make_learner(seed=5, reward_clip=0.5)  # clipping must not touch the stats
    episodes = []
    for report in learner.train(total_agent_steps=2_000, report_every_updates=5):
        episodes += report.episodes
    assert episodes, "random CartPole episodes last ~20 steps; some must finish"
    assert all(ret == pytest.approx(length) for ret, length in episodes)  # reward 1 per step


def test_no_host_sync_in_the_update_loop(monkeypatch):
    learner = make_learner(seed=6)

    def forbidden(self, *args, **kwargs):
        raise AssertionError("Tensor.item() called in the training loop")

    monkeypatch.setattr(torch.Tensor, "item", forbidden)
    for _ in learner.train(total_agent_steps=400, report_every_updates=100):
        pass
    assert learner.updates == 10
