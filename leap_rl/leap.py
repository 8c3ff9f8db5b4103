"""The Leap meta-gradient, accumulated on the fly (Flennerhag et al., ICLR 2019).

A task's learner visits θ⁰, θ¹, …, θᴷ with losses f⁰ … fᴷ and gradients g⁰ … gᴷ. For every
segment i → i+1 of that path (eq. 8 with the Jacobians taken as identity, evaluated at θ⁰ = ψ⁰):

    Δθⁱ = θⁱ⁺¹ − θⁱ                      the step actually taken (optimizer preconditioning included)
    Δfⁱ = fⁱ⁺¹ − fⁱ, or 0 when the loss is not part of the task manifold
    Δfⁱ ← −|Δfⁱ|                         with the stabilizer (sec. 2.3: never follow gⁱ uphill)
    ℓⁱ  = sqrt(‖Δθⁱ‖² + (Δfⁱ)²)          segment length on the manifold
    cⁱ  = −p · (Δθⁱ + Δfⁱ · gⁱ) · (ℓⁱ)^(p−2),  p = 1 (length d₁) or 2 (energy d₂)

and the task's meta-gradient is Gτ = Σᵢ cⁱ. Any contiguous prefix of the path gives a valid
(shorter-horizon) meta-gradient, which is why partial sums may be streamed.

Everything runs on the device of the parameters, on flat buffers, with no host synchronisation per
step: the only reads to the host happen in :meth:`LeapAccumulator.flush` and :meth:`stats`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import torch

Metric = Literal["length", "energy"]
_P = {"length": 1, "energy": 2}


class _Point:
    """One point of the path, θⁱ and ∇f(θⁱ) in flat buffers with per-parameter views, and fⁱ."""

    def __init__(self, layout, numel: int, **kw) -> None:
        self.theta = torch.zeros(numel, **kw)
        self.grad = torch.zeros(numel, **kw)
        self.theta_views = _split(self.theta, layout)
        self.grad_views = _split(self.grad, layout)
        self.loss: torch.Tensor | None = None
        self.grad_sq: torch.Tensor | None = None


class LeapAccumulator:
    """Sums the pull-forward meta-gradient (eq. 8) of one task's path as it is walked.

    Call :meth:`observe` once per inner optimizer step, before the step is applied, with the loss
    f(θⁱ) the learner computed, the meta-learned parameters θⁱ and their gradients ∇f(θⁱ).
    Segment i is complete, and added to the running sum, when step i+1 is observed.
    """

    def __init__(self, metric: Metric = "length", loss_in_manifold: bool = True,
                 stabilizer: bool = True) -> None:
        if metric not in _P:
            raise ValueError(f"metric must be 'length' or 'energy', got {metric!r}")
        self.metric = metric
        self.p = _P[metric]
        self.loss_in_manifold = loss_in_manifold
        self.stabilizer = stabilizer
        self.reset()

    def reset(self) -> None:
        """Starts a new task: forgets the previous point, the partial sum and the statistics."""
        self._keys: tuple[str, ...] | None = None
        self._prev = self._cur = None
        self._sum = self._scratch = None
        self._stats = None  # float64 [d1, d2, segments, skipped], on the parameters' device

    # -- hot path ----------------------------------------------------------------------------

    @torch.no_grad()
    def observe(self, loss: torch.Tensor, params: Mapping[str, torch.Tensor],
                grads: Mapping[str, torch.Tensor]) -> None:
        """Records point i of the path: loss f(θⁱ), parameters θⁱ, gradients ∇f(θⁱ)."""
        if self._keys is None:
            self._allocate(params)
        elif tuple(params) != self._keys:
            raise KeyError(f"observe() got parameters {list(params)}; this task's path has "
                           f"{list(self._keys)}")
        cur = self._cur
        torch._foreach_copy_(cur.theta_views, [params[k] for k in self._keys])
        torch._foreach_copy_(cur.grad_views, [grads[k] for k in self._keys])
        cur.loss = loss.detach().to(cur.theta.device, cur.theta.dtype).reshape(())
        cur.grad_sq = torch.dot(cur.grad, cur.grad)  # its finiteness is gⁱ's
        if self._prev.loss is not None:
            self._add_segment(self._prev, cur)
        # The point just observed starts the next segment; its buffers must survive one step.
        self._prev, self._cur = cur, self._prev

    def _add_segment(self, a: _Point, b: _Point) -> None:
        """Adds cⁱ for the segment from point a = i to point b = i+1 (eq. 8, J = I)."""
        delta = torch.sub(b.theta, a.theta, out=self._scratch)                # Δθⁱ
        sq_dtheta = torch.dot(delta, delta)
        d_f = b.loss - a.loss if self.loss_in_manifold else torch.zeros_like(b.loss)
        if self.stabilizer:
            d_f = -d_f.abs()
        length = torch.sqrt(sq_dtheta + d_f * d_f)                            # ℓⁱ
        # Any NaN or ±inf among fⁱ, fⁱ⁺¹, Δθⁱ or gⁱ makes this sum non-finite.
        ok = torch.isfinite(sq_dtheta + a.grad_sq + a.loss + b.loss)
        if self.p == 2:
            coef = torch.where(ok, -2.0, 0.0).to(length.dtype)
        else:  # a zero-length segment contributes nothing (and would divide by zero)
            coef = torch.where(ok & (length > 0), -1.0 / length, 0.0)
        # cⁱ = coef·(Δθⁱ + Δfⁱ·gⁱ). A skipped segment has coef 0, and its NaN/±inf entries are
        # zeroed first since NaN·0 would still be NaN (nan_to_num_ is ~8× faster than a
        # masked_fill_ with a 0-d mask on CPU).
        delta.addcmul_(a.grad, d_f)
        # Reading a CPU tensor is no device synchronisation: skip the scrub when all is finite.
        if delta.is_cuda or not bool(ok):
            delta.nan_to_num_(0.0, 0.0, 0.0)
        self._sum.addcmul_(delta, coef)
        okf = ok.double()
        segment = torch.where(ok, torch.stack([length, length * length]).double(), 0.0)
        self._stats += torch.cat([segment, okf.reshape(1), 1 - okf.reshape(1)])

    # -- reading results ----------------------------------------------------------------------

    @torch.no_grad()
    def flush(self) -> dict[str, torch.Tensor]:
        """Returns Σ cⁱ over the segments completed since the last flush, then zeroes that sum.

        The tensors are new (not views of internal buffers) and live on the parameters' device.
        Before the first observation there is nothing to return: an empty dict.
        """
        if self._keys is None:
            return {}
        out = {k: view.clone() for k, view in zip(self._keys, self._sum_views)}
        self._sum.zero_()
        return out

    def stats(self) -> dict[str, float]:
        """Path length d₁ and energy d₂ of the segments summed so far, and segment counts.

        Reads from the device: call it when reporting, not every step.
        """
        if self._stats is None:
            return {"d1": 0.0, "d2": 0.0, "segments": 0, "skipped_segments": 0}
        d1, d2, seg, skipped = self._stats.tolist()
        return {"d1": d1, "d2": d2, "segments": int(seg), "skipped_segments": int(skipped)}

    @property
    def skipped_segments(self) -> int:
        """Segments skipped because a loss, parameter or gradient was not finite."""
        return self.stats()["skipped_segments"]

    # -- set-up -------------------------------------------------------------------------------

    def _allocate(self, params: Mapping[str, torch.Tensor]) -> None:
        """Lays the task's parameters out in flat buffers, with one view per parameter."""
        if not params:
            raise ValueError("observe() needs at least one meta-learned parameter")
        first = next(iter(params.values()))
        layout = tuple((name, t.shape) for name, t in params.items())
        numel = sum(math.prod(shape) for _, shape in layout)
        kw = {"device": first.device, "dtype": first.dtype}
        self._keys = tuple(params)
        self._prev, self._cur = _Point(layout, numel, **kw), _Point(layout, numel, **kw)
        self._sum = torch.zeros(numel, **kw)
        self._sum_views = _split(self._sum, layout)
        self._scratch = torch.zeros(numel, **kw)
        self._stats = torch.zeros(4, device=first.device, dtype=torch.float64)


def _split(flat: torch.Tensor, layout) -> list[torch.Tensor]:
    """Views of ``flat`` shaped like each parameter of ``layout``, in order."""
    sizes = [math.prod(shape) for _, shape in layout]
    return [chunk.view(shape) for chunk, (_, shape) in zip(flat.split(sizes), layout)]
