"""Plasticity remedies that act on θ⁰ between meta-steps, as pure tensor functions.

Each takes θ⁰ (named tensors) and what it needs, and returns a new θ⁰ (and the entries it
changed); nothing is held between calls. The sources (docs/design.md, "θ⁰ health and
plasticity remedies"):

- ReDo, Sokar et al. (2023), "The Dormant Neuron Phenomenon in Deep RL": a τ-dormant unit's
  incoming weights are re-initialized and its outgoing weights set to zero.
- Shrink and perturb, Ash & Adams (2020), "On Warm-Starting Neural Network Training":
  θ ← λθ + σ·(a fresh initialization).
- L2 toward the initialization, Kumar et al. (2023), "Maintaining Plasticity in Continual
  Learning via Regenerative Regularization": the loss gains (c/2)‖θ − θ_start‖².
- Decoupled weight decay, Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization"
  (AdamW): θ ← θ − η·wd·θ beside the optimizer's step.

Pure torch: no Ray, no gym, no network classes. Layers are named by their θ⁰ prefix
(``encoder.conv``), in forward order, each feeding the next; the weight of layer k+1 read as
(out, units of layer k, rest) holds unit i's outgoing weights at ``[:, i, :]`` (for a
convolution the input channel, for a linear layer after a flattened convolution the channel's
block of ``flatten(1)``, after a linear layer the column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

Params = Mapping[str, Tensor]


def redo(init: Params, fresh: Params, dormant: Mapping[str, Tensor],
         layers: Sequence[str]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """ReDo (Sokar et al. 2023, algorithm 1) on θ⁰.

    ``dormant``: per layer prefix a boolean vector over its units (True = recycle);
    ``fresh``: a new initialization of the same network (its values for the recycled units'
    incoming weights and biases). The outgoing weights of layer k's recycled units are zeroed
    in layer k+1 where that layer is in θ⁰; the last layer's outgoing weights belong to the
    per-task heads, which start fresh for every task anyway. Returns (new θ⁰, changed) where
    ``changed[key]`` marks every entry that was set (for resetting the optimizer's moments).
    """
    new = {k: v.clone() for k, v in init.items()}
    changed = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in init.items()}
    for k, layer in enumerate(layers):
        mask = dormant.get(layer)
        if mask is None or not bool(mask.any()):
            continue
        for key in (f"{layer}.weight", f"{layer}.bias"):
            if key in new:
                new[key][mask] = fresh[key][mask].to(new[key])
                changed[key][mask] = True
        following = f"{layers[k + 1]}.weight" if k + 1 < len(layers) else None
        if following in new:
            weight, flags = new[following], changed[following]
            view = weight.view(weight.shape[0], mask.numel(), -1)
            view[:, mask, :] = 0.0
            flags.view(weight.shape[0], mask.numel(), -1)[:, mask, :] = True
    return new, changed


def shrink_perturb(init: Params, fresh: Params, shrink: float,
                   perturb: float) -> dict[str, Tensor]:
    """Shrink and perturb (Ash & Adams 2020): θ⁰ ← λθ⁰ + σ·θ_fresh, with λ = ``shrink`` and
    σ = ``perturb``, ``fresh`` a new initialization of the same network."""
    return {k: shrink * v + perturb * fresh[k].to(v) for k, v in init.items()}


def l2_init_gradient(init: Params, start: Params, coefficient: float) -> dict[str, Tensor]:
    """The gradient c·(θ⁰ − θ⁰_start) of the L2-to-init penalty (c/2)‖θ⁰ − θ⁰_start‖²
    (Kumar et al. 2023), to be added to the mean meta-gradient before the optimizer's step."""
    return {k: coefficient * (v - start[k].to(v)) for k, v in init.items()}


def decoupled_decay(before: Params, after: Params, lr: float,
                    weight_decay: float) -> dict[str, Tensor]:
    """AdamW's decoupled weight decay (Loshchilov & Hutter 2019) on one step that moved θ⁰ from
    ``before`` to ``after``: θ⁰ ← after − η·wd·before, η the meta learning rate."""
    return {k: v - (lr * weight_decay) * before[k].to(v) for k, v in after.items()}


def reset_entries(moments: Mapping[str, Sequence[Tensor]],
                  changed: Params) -> dict[str, list[Tensor]]:
    """Each moment tensor of ``moments[key]`` (Adam's first and second) with the entries that
    ``changed[key]`` marks set to 0, as ReDo resets the optimizer state of recycled weights."""
    return {k: [m.masked_fill(changed[k].to(m.device), 0.0) if k in changed else m.clone()
                for m in ms] for k, ms in moments.items()}
