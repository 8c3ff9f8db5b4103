"""Unit tests of the pure actor-critic math and the network helpers (leap_rl.agent)."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from leap_rl.agent import (
    A2CConfig,
    Nature2013Encoder,
    a2c_loss,
    build_actor_critic,
    encoder_state,
    load_encoder,
    meta_parameters,
    nstep_returns,
    reset_heads,
)


def test_nstep_returns_hand_computed_with_done_and_bootstrap():
    # T=3, N=2; env 0 ends its episode at t=1, env 1 never ends.
    rewards = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, -1.0]])
    dones = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    bootstrap = torch.tensor([10.0, 4.0])
    g = 0.5
    # env 0: R2 = 3 + .5*10 = 8; R1 = 2 (done cuts R2); R0 = 1 + .5*2 = 2
    # env 1: R2 = -1 + .5*4 = 1; R1 = 1 + .5*1 = 1.5; R0 = 0 + .5*1.5 = 0.75
    expected = torch.tensor([[2.0, 0.75], [2.0, 1.5], [8.0, 1.0]])
    out = nstep_returns(rewards, dones, bootstrap, g)
    torch.testing.assert_close(out, expected)


def test_nstep_returns_accepts_bool_dones_and_done_on_last_step():
    rewards = torch.tensor([[1.0], [1.0]])
    dones = torch.tensor([[False], [True]])
    out = nstep_returns(rewards, dones, torch.tensor([100.0]), 0.9)
    torch.testing.assert_close(out, torch.tensor([[1.9], [1.0]]))


def test_a2c_loss_pieces_match_hand_computation():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]], requires_grad=True)
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    actions = torch.tensor([0, 1])
    returns = torch.tensor([3.0, 1.0])
    loss, m = a2c_loss(logits, values, actions, returns, entropy_cost=0.1, value_loss_coef=0.5)
    # probs: row0 = (.5, .5); row1 = (.75, .25); advantages = (2, -1)
    policy = -(math.log(0.5) * 2.0 + math.log(0.25) * -1.0) / 2
    value = (2.0**2 + 1.0**2) / 2
    h0 = math.log(2.0)
    h1 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    entropy = (h0 + h1) / 2
    assert m.policy_loss.item() == pytest.approx(policy, rel=1e-6)
    assert m.value_loss.item() == pytest.approx(value, rel=1e-6)
    assert m.entropy.item() == pytest.approx(entropy, rel=1e-6)
    assert loss.item() == pytest.approx(policy + 0.5 * value - 0.1 * entropy, rel=1e-6)
    assert not (m.policy_loss.requires_grad or m.value_loss.requires_grad or m.entropy.requires_grad)
    loss.backward()
    # d/dV of 0.5 * mean((R - V)^2) = -(R - V) / B; the policy term must not reach V.
    torch.testing.assert_close(values.grad, torch.tensor([-1.0, 0.5]))


def test_meta_parameters_selects_prefix_and_reports_available_names():
    model = build_actor_critic("mlp", (4,), 2)
    enc = meta_parameters(model, ["encoder."])
    assert sorted(enc) == ["encoder.fc1.bias", "encoder.fc1.weight", "encoder.fc2.bias",
                           "encoder.fc2.weight"]
    assert enc["encoder.fc1.weight"] is model.encoder.fc1.weight  # live, not copies
    both = meta_parameters(model, ["encoder.fc1", "policy."])
    assert sorted(both) == ["encoder.fc1.bias", "encoder.fc1.weight", "policy.bias",
                            "policy.weight"]
    with pytest.raises(KeyError, match="available.*encoder.fc1.weight"):
        meta_parameters(model, ["torso."])


def test_nature2013_encoder_shapes_and_parameter_count():
    enc = Nature2013Encoder(in_channels=3)
    obs = torch.randint(0, 256, (2, 3, 84, 84), dtype=torch.uint8)
    assert enc(obs).shape == (2, 256)
    # conv1 3*16*8*8+16, conv2 16*32*4*4+32, fc (32*9*9)*256+256  (84 -> 20 -> 9)
    hand = (3 * 16 * 64 + 16) + (16 * 32 * 16 + 32) + (32 * 9 * 9 * 256 + 256)
    count = sum(p.numel() for p in enc.parameters())
    print(f"Nature2013Encoder parameters: {count}")
    assert count == hand == 675_120


def test_actor_critic_heads_and_forward_shapes():
    model = build_actor_critic("nature2013", (3, 84, 84), 18)
    logits, value = model(torch.zeros((5, 3, 84, 84), dtype=torch.uint8))
    assert logits.shape == (5, 18) and value.shape == (5,)
    assert model.policy.in_features == 256 and model.value.out_features == 1
    with pytest.raises(ValueError, match="C, H, W"):
        build_actor_critic("nature2013", (4,), 2)


def test_reset_heads_is_seeded_and_leaves_encoder_alone():
    model = build_actor_critic("mlp", (4,), 3)
    before = encoder_state(model)
    reset_heads(model, 7)
    w1 = model.policy.weight.detach().clone()
    reset_heads(model, 7)
    torch.testing.assert_close(model.policy.weight.detach(), w1)
    reset_heads(model, 8)
    assert not torch.equal(model.policy.weight.detach(), w1)
    assert torch.all(model.value.bias == 0)
    for n, t in encoder_state(model).items():
        torch.testing.assert_close(t, before[n])


def test_encoder_state_roundtrip_and_shape_mismatch():
    a = build_actor_critic("nature2013", (3, 84, 84), 4)
    b = build_actor_critic("nature2013", (3, 84, 84), 18)  # heads may differ; encoder transfers
    load_encoder(b, encoder_state(a))
    for n, t in encoder_state(b).items():
        torch.testing.assert_close(t, encoder_state(a)[n])
    gray = build_actor_critic("nature2013", (1, 84, 84), 4)
    with pytest.raises(ValueError, match="encoder.conv1.weight"):
        load_encoder(gray, encoder_state(a))
    with pytest.raises(KeyError, match="missing"):
        load_encoder(a, {})


def test_config_defaults_are_paper_values_and_validated():
    cfg = A2CConfig()
    assert (cfg.num_envs, cfg.unroll_length, cfg.learning_rate) == (32, 5, 1e-4)
    assert (cfg.rmsprop_eps, cfg.rmsprop_alpha, cfg.entropy_cost) == (1e-4, 0.99, 0.01)
    assert (cfg.reward_clip, cfg.discount, cfg.meta_parameters) == (5.0, 0.99, ["encoder."])
    assert all(f.description for f in A2CConfig.model_fields.values())
    with pytest.raises(ValidationError):
        A2CConfig(num_envs=0)
    with pytest.raises(ValidationError):
        A2CConfig(unknown_key=1)
    assert A2CConfig(max_grad_norm=None).max_grad_norm is None
