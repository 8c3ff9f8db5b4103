"""θ⁰ health: dormant units, weight scale and drift of an encoder, as pure functions.

The τ-dormant share follows Sokar et al. (2023), "The Dormant Neuron Phenomenon in Deep RL",
eq. 1: unit i of a layer has score sᵢ = E|hᵢ(x)| / ((1/H) Σₖ E|hₖ(x)|) over a fixed set of
frames x, and is τ-dormant when sᵢ ≤ τ. A convolutional unit is a channel (its activation is
averaged over positions as well as frames); the activation is the one the next layer reads
(after the nonlinearity), or the encoder's output for its last layer. docs/design.md, "θ⁰
health and plasticity remedies", says what each tag means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

__all__ = ["dormant_share", "drift", "encoder_layers", "layer_scores", "weight_rms"]

UNIT_LAYERS = (nn.Conv2d, nn.Linear)


def encoder_layers(encoder: nn.Module) -> list[str]:
    """The names of the encoder's convolutional and linear layers in forward order (the order
    the encoders of :mod:`leap_rl.agent.network` define them: each one feeds the next)."""
    return [name for name, m in encoder.named_modules() if isinstance(m, UNIT_LAYERS)]


@torch.no_grad()
def layer_scores(encoder: nn.Module, frames: Tensor, batch: int = 1024) -> dict[str, Tensor]:
    """Per layer, each unit's score sᵢ (Sokar et al. 2023, eq. 1) over ``frames``.

    The activation of layer k is caught as the input of layer k+1 (so a LayerNorm or any
    nonlinearity between them is included), the last layer's as the encoder's output. A flat
    input after a convolution is read back as (channels, positions), channel-major as
    ``flatten(1)`` lays it out.
    """
    names = encoder_layers(encoder)
    modules = dict(encoder.named_modules())
    sums: dict[str, Tensor] = {}

    def add(name: str, activation: Tensor) -> None:
        units = _units(modules[name])
        per_unit = activation.abs().reshape(activation.shape[0], units, -1).mean(dim=2)
        sums[name] = sums.get(name, 0) + per_unit.double().sum(dim=0)

    hooks = [modules[nxt].register_forward_pre_hook(
        lambda _m, args, name=name: add(name, args[0])) for name, nxt in zip(names, names[1:])]
    try:
        for start in range(0, len(frames), batch):
            add(names[-1], encoder(frames[start:start + batch]))
    finally:
        for hook in hooks:
            hook.remove()
    scores = {}
    for name in names:
        mean = sums[name] / len(frames)
        scores[name] = (mean / mean.mean().clamp_min(1e-12)).float()
    return scores


def _units(layer: nn.Module) -> int:
    return layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features


def dormant_share(scores: Mapping[str, Tensor], tau: float) -> dict[str, float]:
    """Per layer, the share of units whose score is ≤ ``tau`` (τ = 0: never active at all)."""
    return {name: float((s <= tau).float().mean()) for name, s in scores.items()}


def weight_rms(init: Mapping[str, Tensor], layers: Sequence[str],
               prefix: str = "encoder.") -> dict[str, float]:
    """Per layer, the root mean square of its weight tensor in ``init`` (θ⁰ keys are
    ``prefix + layer + ".weight"``); layers whose weight is not in θ⁰ are left out."""
    return {layer: float(init[key].double().square().mean().sqrt())
            for layer in layers if (key := f"{prefix}{layer}.weight") in init}


def drift(init: Mapping[str, Tensor], start: Mapping[str, Tensor], layers: Sequence[str],
          prefix: str = "encoder.") -> dict[str, float]:
    """Per layer, the Euclidean distance ‖θ⁰ − θ⁰_start‖ over its weight and bias."""
    out = {}
    for layer in layers:
        keys = [k for k in (f"{prefix}{layer}.weight", f"{prefix}{layer}.bias") if k in init]
        if keys:
            out[layer] = sum(float((init[k] - start[k]).double().square().sum())
                             for k in keys) ** 0.5
    return out
