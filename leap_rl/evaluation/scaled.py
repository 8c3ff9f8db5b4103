"""A scale-matched random θ⁰: a fresh random encoder with each tensor's RMS set to a given θ⁰'s.

Issue 25 (section 3): the learned θ⁰s grew their weight scale (MinAtar fc weight RMS 0.018 →
0.047), and a larger scale alone changes how fast a new learner moves. Comparing θ⁰ with a random
θ⁰ of θ⁰'s own per-tensor scale tells a gain of what θ⁰ learned apart from a change of scale.

The fresh encoder of run seed ``s`` is exactly the one the random baseline's run of seed ``s``
draws (``torch.manual_seed(s)``, then the network, as :func:`leap_rl.backends.a2c_task.
build_learner` does), so ``scaled`` and ``random`` differ only by the rescaling, and stay paired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from leap_rl.agent import build_actor_critic, encoder_state


def rms(tensor: torch.Tensor) -> float:
    """Root mean square of a tensor's entries: sqrt(mean(x²))."""
    return float(tensor.detach().double().pow(2).mean().sqrt())


def scale_matched(fresh: Mapping[str, torch.Tensor],
                  target: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per tensor (weights and biases alike) ``fresh · rms(target) / rms(fresh)``.

    Zero RMS: a target tensor of RMS 0 gives zeros (its scale is 0); a fresh tensor of RMS 0
    (all zeros, which has no direction to scale) stays zeros, whatever the target's RMS. The names
    and shapes of ``fresh`` and ``target`` must agree (KeyError / ValueError otherwise).
    """
    if set(fresh) != set(target):
        raise KeyError(f"tensor names differ: fresh {sorted(fresh)}, target {sorted(target)}")
    out = {}
    for name, x in fresh.items():
        if tuple(x.shape) != tuple(target[name].shape):
            raise ValueError(f"{name}: fresh {tuple(x.shape)} vs target "
                             f"{tuple(target[name].shape)}")
        scale, own = rms(target[name]), rms(x)
        out[name] = (x * (scale / own) if own > 0 else torch.zeros_like(x)).to(x.dtype)
    return out


def fresh_encoder(architecture: str, observation_shape: Sequence[int],
                  seed: int, layer_norm: bool = False) -> dict[str, torch.Tensor]:
    """The encoder a random run of ``seed`` starts from (seeded as build_learner seeds it; the
    encoder is drawn before the heads, so the action count does not change it)."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return encoder_state(build_actor_critic(architecture, observation_shape, 1,
                                                layer_norm=layer_norm))
    finally:
        torch.random.set_rng_state(state)  # the run seeds torch itself again anyway


def scaled_init(target: Mapping[str, torch.Tensor], architecture: str,
                observation_shape: Sequence[int], seed: int,
                layer_norm: bool = False) -> dict[str, torch.Tensor]:
    """The scale-matched random θ⁰ of run seed ``seed`` for the θ⁰ ``target`` (with the norm
    layers' gains and biases when the method's network has LayerNorm, scaled as any tensor)."""
    return scale_matched(fresh_encoder(architecture, observation_shape, seed, layer_norm), target)
