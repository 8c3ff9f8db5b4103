"""Pure actor-critic math: n-step bootstrapped returns and the A2C loss.

The inner learner of Flennerhag et al. (ICLR 2019), appendix F, is an actor-critic with
linear policy and value heads; these are the standard advantage actor-critic (Mnih et al., 2016)
objectives. No host synchronisation here: metrics stay detached tensors.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["A2CMetrics", "a2c_loss", "nstep_returns"]


class A2CMetrics(NamedTuple):
    """Detached loss components of one update (tensors, so no host sync when collected)."""

    policy_loss: Tensor
    value_loss: Tensor
    entropy: Tensor


def nstep_returns(
    rewards: Tensor, dones: Tensor, bootstrap_value: Tensor, discount: float
) -> Tensor:
    """n-step returns R_t = r_t + discount * (1 - done_t) * R_{t+1}, with R_T = bootstrap_value.

    rewards, dones: (T, N), already clipped; dones[t] marks that the episode ended at step t
    (a step that truncated its episode carries its own bootstrap, γ·V(last obs), in rewards[t]).
    bootstrap_value: (N,) value estimate of the observation after the last step.
    """
    not_done = 1.0 - dones.to(rewards.dtype)
    returns = torch.empty_like(rewards)
    running = bootstrap_value.to(rewards.dtype)
    # T is the unroll length (5 in the paper): a short Python loop of fused ops, no sync.
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + discount * not_done[t] * running
        returns[t] = running
    return returns


def a2c_loss(
    logits: Tensor,
    values: Tensor,
    actions: Tensor,
    returns: Tensor,
    entropy_cost: float,
    value_loss_coef: float,
) -> tuple[Tensor, A2CMetrics]:
    """Advantage actor-critic loss on a flat batch.

    logits (B, A), values (B,), actions (B,) int, returns (B,).
    loss = policy_loss + value_loss_coef * value_loss - entropy_cost * entropy, where
    policy_loss = -mean(log pi(a|s) * (R - V)) with the advantage detached,
    value_loss = mean((R - V)^2), entropy = mean(H(pi(.|s))).
    """
    log_probs = F.log_softmax(logits, dim=-1)
    action_log_probs = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    advantages = returns - values
    # The advantage is a fixed weight for the policy gradient; the critic learns via value_loss.
    policy_loss = -(action_log_probs * advantages.detach()).mean()
    value_loss = advantages.pow(2).mean()
    entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
    loss = policy_loss + value_loss_coef * value_loss - entropy_cost * entropy
    metrics = A2CMetrics(policy_loss.detach(), value_loss.detach(), entropy.detach())
    return loss, metrics
