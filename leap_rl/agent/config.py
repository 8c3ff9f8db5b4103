"""Validated hyperparameters of the actor-critic inner learner.

Defaults reproduce Flennerhag et al. (ICLR 2019), appendix F ("Experiment details: Atari"):
batch of 32 environments, unroll length 5, RMSProp (lr 1e-4, eps 1e-4, alpha 0.99),
entropy cost 0.01, rewards clipped to +-5, discount 0.99. Where the paper is silent the
description says so and the value is the common A2C/IMPALA choice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from leap_rl import backends


class A2CConfig(BaseModel):
    """Hyperparameters of one actor-critic learner (one task = one game)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    num_envs: int = Field(
        32, ge=1, description="Parallel environments per batch (paper, app. F: batch size 32)."
    )
    env_groups: int = Field(
        1, ge=1,
        description="Split the num_envs environments into this many groups stepped in turn, so "
        "acting on one group overlaps the others' emulation (same algorithm; 1 = in lockstep).",
    )
    unroll_length: int = Field(
        5, ge=1, description="Env steps per environment per update (paper, app. F: unroll 5)."
    )
    discount: float = Field(
        0.99, ge=0.0, le=1.0, description="Discount factor gamma (paper, app. F: 0.99)."
    )
    entropy_cost: float = Field(
        0.01, ge=0.0, description="Weight of the entropy bonus (paper, app. F: 0.01)."
    )
    value_loss_coef: float = Field(
        0.5, ge=0.0, description="Weight of the value loss (paper silent; A2C standard 0.5)."
    )
    learning_rate: float = Field(
        1e-4, gt=0.0, description="RMSProp learning rate (paper, app. F: 1e-4)."
    )
    rmsprop_eps: float = Field(
        1e-4, gt=0.0, description="RMSProp epsilon (paper, app. F: 1e-4; torch adds it outside sqrt)."
    )
    rmsprop_alpha: float = Field(
        0.99, gt=0.0, lt=1.0, description="RMSProp squared-gradient decay (paper, app. F: 0.99)."
    )
    max_grad_norm: float | None = Field(
        40.0, gt=0.0, description="Global gradient-norm clip, None = off (paper silent; IMPALA 40)."
    )
    reward_clip: float = Field(
        5.0, gt=0.0, description="Rewards clipped to [-c, c] for the loss (paper, app. F: 5.0)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Torch device; auto = cuda when available, else cpu."
    )
    encoder: Literal["nature2013", "minatar", "mlp"] = Field(
        "nature2013",
        description="Encoder: Mnih et al. (2013) conv net (paper, app. F), the MinAtar paper's "
        "net (Young & Tian 2019: conv 16x3x3, fc 128) for MinAtar games, or an MLP for vector obs.",
    )
    layer_norm: bool = Field(
        False,
        description="Normalize each encoder layer's pre-activations before its nonlinearity "
        "(Lyle et al. 2024, 'Normalization and effective learning rates in reinforcement "
        "learning'; docs/design.md): conv layers over channels and positions with a gain and "
        "bias per channel, fc layers over units. Their gains and biases are encoder parameters "
        "(meta-learned, part of θ⁰). Off (default): the paper's network, unchanged. A2C "
        "backend only.",
    )
    meta_parameters: list[str] = Field(
        default_factory=lambda: ["encoder."],
        min_length=1,
        description="Name prefixes of the parameters Leap meta-learns (paper: the shared encoder).",
    )
    backend: str = Field(
        "a2c",
        description="Inner learner, a backend registered in leap_rl.backends: the paper's A2C "
        "(a2c) or an RLlib algorithm on RLlib's new API stack with the same encoder (rllib; see "
        "the rllib section, leap_rl/rllib).",
    )

    @property
    def architecture(self) -> str:
        """What an ``encoder.pt`` records as its architecture (io.artifacts.save_init): the
        encoder's name, with ``+layer_norm`` when the norm layers (and their θ⁰ entries) are in."""
        return f"{self.encoder}+layer_norm" if self.layer_norm else self.encoder

    @field_validator("backend")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in backends.names():
            raise ValueError(f"unknown backend {name!r}; registered: {', '.join(backends.names())}")
        return name

    @field_validator("env_groups")
    @classmethod
    def _groups_divide_envs(cls, groups: int, info: ValidationInfo) -> int:
        envs = info.data.get("num_envs")
        if envs is not None and envs % groups:
            raise ValueError(f"must divide num_envs ({envs}) into equal groups")
        return groups
