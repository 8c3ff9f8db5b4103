"""Actor-critic networks: a shared encoder with linear policy and value heads.

The Atari network is the one of Mnih et al. (2013) as used by Flennerhag et al. (ICLR 2019),
appendix F: "estimating both value function and policy through linear layers connected to the
final output of a shared convolutional network". Leap meta-learns the encoder only; the heads
are sized to each game's action set and re-initialized for every task.

``layer_norm=True`` (``inner.layer_norm``) normalizes each layer's pre-activations before its
nonlinearity (Lyle et al. 2024, "Normalization and effective learning rates in reinforcement
learning"; docs/design.md, "LayerNorm in the encoder"): a conv layer's over all its channels and
positions with one gain and bias per channel (``GroupNorm(1, C)``), an fc layer's over its
units (``LayerNorm``). The norm layers are encoder parameters, so Leap meta-learns them. They are
created after the layers of the plain net and draw no random numbers, so with it off the network
and its state_dict are exactly the plain net's, and with it on the conv/fc weights are the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "ActorCritic",
    "MLPEncoder",
    "MinAtarEncoder",
    "Nature2013Encoder",
    "build_actor_critic",
    "encoder_state",
    "load_encoder",
    "meta_parameters",
    "reset_heads",
]

ENCODER_PREFIX = "encoder."


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def _norm(layer_norm: bool, features: int, conv: bool) -> nn.Module:
    """The normalization of one layer's pre-activations, or the identity (no parameters)."""
    if not layer_norm:
        return nn.Identity()
    # GroupNorm with one group = LayerNorm over (C, H, W), with a gain and bias per channel
    # (a channel is a conv layer's unit) rather than per channel and position.
    return nn.GroupNorm(1, features) if conv else nn.LayerNorm(features)


class Nature2013Encoder(nn.Module):
    """Mnih et al. (2013) torso: conv 16x8x8/4, ReLU, conv 32x4x4/2, ReLU, fc 256, ReLU.

    Input: pixels in [0, 255] (uint8 expected), shape (B, C, H, W); output (B, 256).
    """

    output_dim = 256

    def __init__(self, in_channels: int = 3, input_hw: tuple[int, int] = (84, 84),
                 layer_norm: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=8, stride=4)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=4, stride=2)
        h = _conv_out(_conv_out(input_hw[0], 8, 4), 4, 2)
        w = _conv_out(_conv_out(input_hw[1], 8, 4), 4, 2)
        self.fc = nn.Linear(32 * h * w, self.output_dim)
        self.norm1 = _norm(layer_norm, 16, conv=True)
        self.norm2 = _norm(layer_norm, 32, conv=True)
        self.fc_norm = _norm(layer_norm, self.output_dim, conv=False)

    def forward(self, obs: Tensor) -> Tensor:
        # Scaling lives here so rollout buffers stay uint8 (4x less memory and copy traffic).
        x = obs.float() / 255.0
        x = torch.relu(self.norm1(self.conv1(x)))
        x = torch.relu(self.norm2(self.conv2(x)))
        return torch.relu(self.fc_norm(self.fc(x.flatten(1))))


class MinAtarEncoder(nn.Module):
    """The MinAtar paper's torso (Young & Tian 2019): conv 16x3x3/1, ReLU, fc 128, ReLU.

    Input: 0/1 object channels (uint8), shape (B, C, 10, 10); output (B, 128).
    """

    output_dim = 128

    def __init__(self, in_channels: int = 10, input_hw: tuple[int, int] = (10, 10),
                 layer_norm: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 16, kernel_size=3, stride=1)
        h, w = _conv_out(input_hw[0], 3, 1), _conv_out(input_hw[1], 3, 1)
        self.fc = nn.Linear(16 * h * w, self.output_dim)
        self.conv_norm = _norm(layer_norm, 16, conv=True)
        self.fc_norm = _norm(layer_norm, self.output_dim, conv=False)

    def forward(self, obs: Tensor) -> Tensor:
        x = torch.relu(self.conv_norm(self.conv(obs.float())))  # already 0/1: no scaling
        return torch.relu(self.fc_norm(self.fc(x.flatten(1))))


class MLPEncoder(nn.Module):
    """Two tanh hidden layers for vector observations (CartPole); not part of the paper."""

    def __init__(self, obs_dim: int, hidden: int = 64, layer_norm: bool = False) -> None:
        super().__init__()
        self.output_dim = hidden
        self.fc1 = nn.Linear(obs_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.norm1 = _norm(layer_norm, hidden, conv=False)
        self.norm2 = _norm(layer_norm, hidden, conv=False)

    def forward(self, obs: Tensor) -> Tensor:
        x = obs.float().flatten(1)
        return torch.tanh(self.norm2(self.fc2(torch.tanh(self.norm1(self.fc1(x))))))


class ActorCritic(nn.Module):
    """Shared `encoder` with a linear `policy` head (logits) and a linear `value` head."""

    def __init__(self, encoder: nn.Module, num_actions: int) -> None:
        super().__init__()
        feature_dim = int(getattr(encoder, "output_dim"))
        self.encoder = encoder
        self.policy = nn.Linear(feature_dim, num_actions)
        self.value = nn.Linear(feature_dim, 1)
        reset_heads(self)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """Return (logits (B, num_actions), value (B,))."""
        features = self.encoder(obs)
        return self.policy(features), self.value(features).squeeze(-1)


def build_actor_critic(
    cfg_encoder_name: str, observation_shape: Sequence[int], num_actions: int,
    layer_norm: bool = False,
) -> ActorCritic:
    """Build the actor-critic for one env's single observation shape and action count.

    "nature2013" and "minatar" expect channels-first images (C, H, W); "mlp" flattens any
    vector shape. ``layer_norm``: the encoder's norm layers (``inner.layer_norm``).
    """
    shape = tuple(int(s) for s in observation_shape)
    if cfg_encoder_name in ("nature2013", "minatar"):
        if len(shape) != 3:
            raise ValueError(f"{cfg_encoder_name} needs (C, H, W) observations, got shape {shape}")
        conv = Nature2013Encoder if cfg_encoder_name == "nature2013" else MinAtarEncoder
        encoder: nn.Module = conv(shape[0], input_hw=(shape[1], shape[2]),
                                  layer_norm=layer_norm)
    elif cfg_encoder_name == "mlp":
        obs_dim = 1
        for s in shape:
            obs_dim *= s
        encoder = MLPEncoder(obs_dim, layer_norm=layer_norm)
    else:
        raise ValueError(f"unknown encoder {cfg_encoder_name!r}; expected 'nature2013', 'minatar' or 'mlp'")
    return ActorCritic(encoder, num_actions)


def meta_parameters(model: nn.Module, prefixes: Iterable[str]) -> dict[str, nn.Parameter]:
    """The live parameters whose names start with any of `prefixes` (what Leap meta-learns)."""
    prefixes = list(prefixes)
    named = dict(model.named_parameters())
    unmatched = [p for p in prefixes if not any(n.startswith(p) for n in named)]
    if unmatched:
        raise KeyError(
            f"meta-parameter prefixes {unmatched} match no parameter; available: {sorted(named)}"
        )
    return {n: p for n, p in named.items() if any(n.startswith(p) for p in prefixes)}


def reset_heads(model: ActorCritic, generator: torch.Generator | int | None = None) -> None:
    """Re-initialize the policy and value heads (fresh per task, paper app. F).

    Orthogonal init with gain 0.01 (policy, near-uniform initial policy) and 1.0 (value), zero
    biases: the paper is silent; this is the OpenAI-baselines A2C choice.
    """
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    with torch.no_grad():
        for head, gain in ((model.policy, 0.01), (model.value, 1.0)):
            # Generators are device-bound: initialize on CPU, then copy into place.
            weight = torch.empty(head.weight.shape)
            nn.init.orthogonal_(weight, gain=gain, generator=generator)
            head.weight.copy_(weight)
            head.bias.zero_()


def encoder_state(model: ActorCritic) -> dict[str, Tensor]:
    """Detached CPU copies of the encoder parameters, keyed as in `model.named_parameters()`."""
    return {
        ENCODER_PREFIX + n: p.detach().to("cpu", copy=True)
        for n, p in model.encoder.named_parameters()
    }


def load_encoder(model: ActorCritic, state: Mapping[str, Tensor]) -> None:
    """Copy `state` (as from `encoder_state`) into the encoder in place; all names must match."""
    params = {ENCODER_PREFIX + n: p for n, p in model.encoder.named_parameters()}
    missing = sorted(set(params) - set(state))
    unexpected = sorted(set(state) - set(params))
    if missing or unexpected:
        raise KeyError(f"encoder state mismatch: missing {missing}, unexpected {unexpected}")
    bad = [
        f"{n}: model {tuple(p.shape)} vs state {tuple(state[n].shape)}"
        for n, p in params.items()
        if tuple(p.shape) != tuple(state[n].shape)
    ]
    if bad:
        raise ValueError("encoder shape mismatch (different observation shape?): " + "; ".join(bad))
    with torch.no_grad():
        # In-place copy keeps optimizer references to the live parameters valid.
        for n, p in params.items():
            p.copy_(state[n])
