"""The Leap hook of the A2C learner: one observe per optimizer step, with θⁱ and gⁱ before the step.

Flennerhag et al. (ICLR 2019), eq. 8: the meta-gradient needs, per inner step i, the loss
f(θⁱ), the parameters θⁱ and the gradient ∇f(θⁱ) that the step is taken with.
"""

from __future__ import annotations

import pytest
import torch

from leap_rl.agent import A2CConfig, A2CLearner, build_actor_critic, encoder_state
from leap_rl.core.leap import LeapAccumulator
from leap_rl.envs import make_vector_env
from leap_rl.testing import RecordingAccumulator


def cartpole_learner(accumulator, seed: int = 0, **overrides) -> A2CLearner:
    cfg = A2CConfig(num_envs=4, unroll_length=5, learning_rate=3e-3, encoder="mlp", device="cpu",
                    **overrides)
    env = make_vector_env("CartPole-v1", cfg.num_envs, seed=seed)
    torch.manual_seed(seed)
    model = build_actor_critic("mlp", env.single_observation_space.shape,
                               env.single_action_space.n)
    return A2CLearner(env, model, cfg, seed=seed, accumulator=accumulator)


def test_one_observe_per_step_with_params_before_the_step():
    acc = RecordingAccumulator(metric="length")
    learner = cartpole_learner(acc)
    acc.attach(learner)
    for _ in learner.train(total_agent_steps=20 * 12, report_every_updates=5):
        pass
    assert acc.calls == acc.steps == learner.updates == 12
    assert sorted(acc.seen_params[0]) == sorted(encoder_state(learner.model))
    # θⁱ⁺¹ (seen at step i+1) differs from θⁱ: the step was applied after observe, not before.
    for before, after in zip(acc.seen_params, acc.seen_params[1:]):
        assert any(not torch.equal(before[n], after[n]) for n in before)
    final = dict(learner.model.named_parameters())
    assert any(not torch.equal(acc.seen_params[-1][n], final[n].detach()) for n in final
               if n in acc.seen_params[-1])
    assert all(torch.isfinite(loss) and loss.dim() == 0 for loss in acc.losses)
    flushed = acc.flush()
    assert sorted(flushed) == sorted(acc.seen_params[0])
    assert all(torch.isfinite(t).all() and t.abs().sum() > 0 for t in flushed.values())


def test_loss_and_grads_passed_are_f_and_grad_f_at_theta_i(monkeypatch):
    import copy

    import leap_rl.agent.a2c as a2c_module

    learner = cartpole_learner(None, seed=1, max_grad_norm=1e-3)  # gⁱ is raw though clipped
    batches = []
    real_loss = a2c_module.a2c_loss

    def recording_loss(logits, values, actions, returns, *args):
        obs = learner._obs[: learner.cfg.unroll_length].flatten(0, 1).clone()
        batches.append((obs, actions.clone(), returns.clone(), args))
        return real_loss(logits, values, actions, returns, *args)

    monkeypatch.setattr(a2c_module, "a2c_loss", recording_loss)
    seen = []

    class Spy(LeapAccumulator):
        def observe(self, loss, params, grads):
            seen.append((loss.clone(), {n: g.clone() for n, g in grads.items()},
                         copy.deepcopy(learner.model)))
            super().observe(loss, params, grads)

    learner.accumulator = Spy()
    for _ in range(3):
        learner.update()
    assert len(seen) == len(batches) == 3  # else the zip below could check nothing
    for (loss, grads, model_i), (obs, actions, returns, args) in zip(seen, batches):
        logits, values = model_i(obs)  # a fresh forward at θⁱ on step i's batch
        expected, _ = real_loss(logits, values, actions, returns, *args)
        torch.testing.assert_close(loss, expected.detach())
        names = list(grads)
        params = [dict(model_i.named_parameters())[n] for n in names]
        for n, g in zip(names, torch.autograd.grad(expected, params)):
            torch.testing.assert_close(grads[n], g)


def eq8(points, p: int, stabilizer: bool = True) -> dict[str, torch.Tensor]:
    """Σᵢ cⁱ of eq. 8 (J = I) over consecutive points (θⁱ, fⁱ, gⁱ), per parameter in float64."""
    total = {k: torch.zeros_like(v) for k, v in points[0][0].items()}
    for (theta, f, g), (theta_next, f_next, _) in zip(points, points[1:]):
        d_theta = {k: theta_next[k] - theta[k] for k in theta}
        d_f = -abs(f_next - f) if stabilizer else f_next - f
        length = (sum(float(d.square().sum()) for d in d_theta.values()) + d_f ** 2) ** 0.5
        scale = -2.0 if p == 2 else -1.0 / length
        for k in total:
            total[k] += scale * (d_theta[k] + d_f * g[k])
    return total


@pytest.mark.parametrize("metric, p", [("length", 1), ("energy", 2)])
def test_meta_gradient_is_eq8_with_raw_gradients_while_clipping(monkeypatch, metric, p):
    """gⁱ in eq. 8 is ∇f(θⁱ) itself; the clip only shapes the step Δθⁱ actually taken.

    Clipping is active on every step (max norm 1e-3); fⁱ and the raw gⁱ are recomputed with a
    fresh forward and backward at θⁱ on step i's batch, and eq. 8 is summed from them.
    """
    import copy

    import leap_rl.agent.a2c as a2c_module

    max_norm, updates = 1e-3, 4
    learner = cartpole_learner(None, seed=3, max_grad_norm=max_norm)
    batches, models, used_norms = [], [], []
    real_loss = a2c_module.a2c_loss

    def recording_loss(logits, values, actions, returns, *args):
        obs = learner._obs[: learner.cfg.unroll_length].flatten(0, 1).clone()
        batches.append((obs, actions.clone(), returns.clone(), args))
        models.append(copy.deepcopy(learner.model))  # θⁱ: the step has not been taken yet
        return real_loss(logits, values, actions, returns, *args)

    monkeypatch.setattr(a2c_module, "a2c_loss", recording_loss)
    learner.accumulator = LeapAccumulator(metric=metric)
    for _ in range(updates):
        learner.update()  # the gradient the optimizer used stays in .grad until the next update
        used_norms.append(float(torch.linalg.vector_norm(
            torch.cat([q.grad.flatten() for q in learner.model.parameters()]))))
    assert len(batches) == len(models) == updates
    points = []
    for model_i, (obs, actions, returns, args) in zip(models, batches):
        logits, values = model_i(obs)
        loss, _ = real_loss(logits, values, actions, returns, *args)
        named = dict(model_i.named_parameters())
        raw = dict(zip(named, torch.autograd.grad(loss, list(named.values()))))
        assert float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in raw.values()]))) \
            > 10 * max_norm  # so the clip rescaled this step's gradient
        meta = [n for n in named if n.startswith("encoder.")]
        points.append(({n: named[n].detach().double() for n in meta}, loss.item(),
                       {n: raw[n].double() for n in meta}))
    assert all(n == pytest.approx(max_norm, rel=1e-3) for n in used_norms)  # clipped steps
    expected, got = eq8(points, p), learner.accumulator.flush()
    assert learner.accumulator.stats()["segments"] == updates - 1
    scale = max(float(v.abs().max()) for v in expected.values())
    for k, v in expected.items():
        torch.testing.assert_close(got[k].double(), v, rtol=1e-4, atol=1e-5 * scale, msg=k)


def test_training_without_accumulator_works():
    learner = cartpole_learner(None, seed=2)
    before = [p.detach().clone() for p in learner.model.parameters()]
    reports = list(learner.train(total_agent_steps=400, report_every_updates=10))
    assert learner.updates == 20 and reports[-1].agent_steps == 400
    after = list(learner.model.parameters())
    assert all(not torch.equal(b, a.detach()) for b, a in zip(before, after))
