"""The RLModule of the RLlib backend: our encoder under RLlib's algorithms, names kept 1:1.

``LeapActorCriticModule`` is a ``TorchRLModule`` whose ``encoder`` attribute is
:class:`leap_rl.agent.network.Nature2013Encoder` (conv 16×8×8/4, conv 32×4×4/2, fc 256, ReLU), with
linear ``pi`` (logits) and ``vf`` (value) heads on its 256-d output — the network of the A2C
backend. Its parameters are therefore named ``encoder.conv1.weight`` … ``encoder.fc.bias`` exactly
as in :class:`leap_rl.agent.network.ActorCritic`, so one ``encoder.pt`` serves both backends.

It implements what PPO, IMPALA (``ValueFunctionAPI``) and APPO (also ``TargetNetworkAPI``) need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import (
    TARGET_NETWORK_ACTION_DIST_INPUTS,
    TargetNetworkAPI,
    ValueFunctionAPI,
)
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn

from leap_rl.agent.network import Nature2013Encoder, reset_heads


class LeapActorCriticModule(TorchRLModule, ValueFunctionAPI, TargetNetworkAPI):
    """Shared Mnih et al. (2013) encoder, linear policy and value heads (paper, app. F)."""

    def setup(self) -> None:
        height, width, channels = self.observation_space.shape  # RLlib: (H, W, C) in [-1, 1]
        self.encoder = Nature2013Encoder(channels, input_hw=(height, width))
        self.pi = nn.Linear(Nature2013Encoder.output_dim, int(self.action_space.n))
        self.vf = nn.Linear(Nature2013Encoder.output_dim, 1)
        seed = (self.model_config or {}).get("head_seed")
        reset_heads(self, None if seed is None else int(seed))  # type: ignore[arg-type]

    @property
    def policy(self) -> nn.Linear:  # the names reset_heads expects
        return self.pi

    @property
    def value(self) -> nn.Linear:
        return self.vf

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """The encoder's 256-d output for RLlib observations (B, H, W, C) in [-1, 1]."""
        pixels = (obs.float() + 1.0) * 128.0  # exactly the frame's values 0..255
        return self.encoder(pixels.permute(0, 3, 1, 2))

    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self.pi(self.features(batch[Columns.OBS]))}

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        features = self.features(batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: self.pi(features), Columns.EMBEDDINGS: features}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        if embeddings is None:
            embeddings = self.features(batch[Columns.OBS])
        return self.vf(embeddings).squeeze(-1)

    # -- TargetNetworkAPI (APPO) --------------------------------------------------------------

    def make_target_networks(self) -> None:
        self._old_encoder = make_target_network(self.encoder)
        self._old_pi = make_target_network(self.pi)

    def get_target_network_pairs(self):
        return [(self.encoder, self._old_encoder), (self.pi, self._old_pi)]

    def forward_target(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        pixels = (batch[Columns.OBS].float() + 1.0) * 128.0
        features = self._old_encoder(pixels.permute(0, 3, 1, 2))
        return {TARGET_NETWORK_ACTION_DIST_INPUTS: self._old_pi(features)}


def encoder_parameters(module: nn.Module) -> dict[str, nn.Parameter]:
    """The live ``encoder.*`` parameters of a module (θ of the Leap path), in a fixed order."""
    return {f"encoder.{n}": p for n, p in module.encoder.named_parameters()}


def load_init(module: nn.Module, init: Mapping[str, torch.Tensor], head_seed: int | None) -> None:
    """θ⁰ into the module's encoder (names and shapes checked), heads re-initialized (seeded)."""
    params = encoder_parameters(module)
    missing, unexpected = sorted(set(params) - set(init)), sorted(set(init) - set(params))
    if missing or unexpected:
        raise KeyError(f"encoder state mismatch: missing {missing}, unexpected {unexpected}")
    bad = [f"{n}: module {tuple(p.shape)} vs init {tuple(init[n].shape)}"
           for n, p in params.items() if tuple(p.shape) != tuple(init[n].shape)]
    if bad:
        raise ValueError("encoder shape mismatch (different observation shape?): " + "; ".join(bad))
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(init[n])
    reset_heads(module, head_seed)  # type: ignore[arg-type]
    if hasattr(module, "_old_encoder"):  # APPO's target networks start from the same weights
        for main, target in module.get_target_network_pairs():
            target.load_state_dict(main.state_dict())
