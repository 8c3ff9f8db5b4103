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

Everything runs on the device of the parameters, on flat buffers, with no device synchronisation
per step: on a GPU the only reads to the host happen in :meth:`LeapAccumulator.flush` and
:meth:`stats` (on the CPU, where reading a tensor synchronises nothing, a segment's few scalars
are read and worked out in Python). The state carried from step to step is three
parameter-sized vectors: θⁱ, gⁱ and the partial sum, and it is what bounds a step's cost: each
step must read θⁱ⁺¹ and gⁱ⁺¹ and read and write all three, which the inner update in between has
pushed out of cache. A step is five tensor operations that between them meet each of those five
vectors once while it is cold: −Δθⁱ = θⁱ − θⁱ⁺¹ overwrites θⁱ; two dot products give ‖Δθⁱ‖² and
‖gⁱ‖²; one matrix-vector product adds cⁱ to the sum; one copy stores θⁱ⁺¹ and gⁱ⁺¹
(`bench/leap_overhead.py --game` measures this against that bound).

Telescoping, considered and not used: for the energy, Σᵢ Δθⁱ over a run of segments that are
not skipped is θ at the run's end minus θ at its start, so only the Δfⁱ·gⁱ terms would need work
per step, saving one pass over −Δθⁱ (in cache by then). But a skipped segment closes the run at
θⁱ, which the in-place subtraction has overwritten, unrecoverably when θⁱ⁺¹ is not finite;
keeping it costs a pass of its own. The sum is therefore taken segment by segment, for both
metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from leap_rl.core.options import (
    DEFAULT_LOSS_IN_MANIFOLD,
    DEFAULT_METRIC,
    DEFAULT_STABILIZER,
    Metric,
)
from leap_rl.core.options import (
    POWERS as _P,
)


class _Point:
    """The last point of the path: θⁱ and ∇f(θⁱ) as the two rows of one buffer, and fⁱ.

    The rows sit in one [2, n] buffer so that, once θⁱ is replaced by −Δθⁱ, cⁱ = coef·Δθⁱ +
    coef·Δfⁱ·gⁱ can be added to the sum by one matrix-vector product over both rows (``addmv``:
    one pass over memory instead of two), and one copy stores the next point. The device path
    always adds cⁱ so, and so does the host path with one torch thread; with more, the host path
    adds the two rows by two elementwise adds instead (those use every thread, this BLAS's gemv
    one).
    """

    def __init__(self, layout, numel: int, **kw) -> None:
        self.rows = torch.zeros(2, numel, **kw)
        self.theta, self.grad = self.rows[0], self.rows[1]
        self.theta_views = _split(self.theta, layout)
        self.views = self.theta_views + _split(self.grad, layout)  # θ's views, then g's
        self.loss: torch.Tensor | float | None = None  # fⁱ: a float when worked out on the host


class LeapAccumulator:
    """Sums the pull-forward meta-gradient (eq. 8) of one task's path as it is walked.

    Call :meth:`observe` once per inner optimizer step, before the step is applied, with the loss
    f(θⁱ) the learner computed, the meta-learned parameters θⁱ and their gradients ∇f(θⁱ), raw
    (eq. 8's gⁱ: before any clipping; θⁱ and gⁱ are copied, so the caller may clip them in place
    afterwards). Segment i is complete, and added to the running sum, when step i+1 is observed.

    A segment's handful of scalars (‖Δθⁱ‖², fⁱ, ℓⁱ, its weights) are worked out on the host when
    the parameters live in host memory (reading them is no device synchronisation there, and a
    dozen tiny tensor ops cost more than the arithmetic), and on the device otherwise, where
    reading them would stall the stream. ``scalars_on_host`` forces either way (tests run both).
    """

    def __init__(self, metric: Metric = DEFAULT_METRIC,
                 loss_in_manifold: bool = DEFAULT_LOSS_IN_MANIFOLD,
                 stabilizer: bool = DEFAULT_STABILIZER, *,
                 scalars_on_host: bool | None = None) -> None:
        if metric not in _P:
            raise ValueError(f"metric must be 'length' or 'energy', got {metric!r}")
        self.metric = metric
        self.p = _P[metric]
        self.loss_in_manifold = loss_in_manifold
        self.stabilizer = stabilizer
        self.scalars_on_host = scalars_on_host
        self.reset()

    def reset(self) -> None:
        """Starts a new task: forgets the previous point, the partial sum and the statistics."""
        self._keys: tuple[str, ...] | None = None
        self._point = None
        self._sum = None
        self._stats = None  # float64 [d1, d2, segments, skipped], on the parameters' device
        self._host_stats = [0.0, 0.0, 0, 0]  # the same, for segments worked out on the host

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
        point, theta = self._point, [params[k] for k in self._keys]
        if self._on_host:
            loss = loss.item()  # a number in host memory: reading it synchronises nothing
        else:
            loss = loss.detach().to(point.theta.device, point.theta.dtype).reshape(())
        if point.loss is not None:
            self._add_segment(point, loss, theta)
        # Point i+1 replaces point i (one point is all the path needs to keep): both rows in
        # one copy.
        torch._foreach_copy_(point.views, theta + [grads[k] for k in self._keys])
        point.loss = loss

    def _add_segment(self, a: _Point, loss, theta: list[torch.Tensor]) -> None:
        """Adds cⁱ for the segment from point a = i to θⁱ⁺¹ = ``theta`` with fⁱ⁺¹ = ``loss``.

        Implements eq. 8 with J = I. θⁱ is not needed after its segment, so −Δθⁱ = θⁱ − θⁱ⁺¹
        overwrites it in place: the rows of point a become [−Δθⁱ, gⁱ], and
        cⁱ = coef·(Δθⁱ + Δfⁱ·gⁱ) = rowsᵀ·w with w = coef·[−1, Δfⁱ] = s·[1, −Δfⁱ], where
        s = −coef is 1/ℓⁱ for the length (p = 1) and 2 for the energy (p = 2). ‖gⁱ‖² is taken
        here, where gⁱ is read anyway (it is finite iff gⁱ is), so gᴷ is never read.
        """
        torch._foreach_sub_(a.theta_views, theta)
        # Two dot products, not one 2×2 Gram matrix rows·rowsᵀ: a matmul may run in reduced
        # precision (torch.set_float32_matmul_precision), a dot product does not.
        sq_dtheta = torch.dot(a.theta, a.theta)                               # ‖Δθⁱ‖²
        grad_sq = torch.dot(a.grad, a.grad)                                   # ‖gⁱ‖²
        if self._on_host:
            sq_dtheta, grad_sq = sq_dtheta.item(), grad_sq.item()
            weights = self._host_weights(sq_dtheta, grad_sq, a.loss, loss)
            if weights is None:
                return
            if torch.get_num_threads() > 1:  # elementwise adds use every thread, gemv one
                self._sum.add_(a.theta, alpha=weights[0]).add_(a.grad, alpha=weights[1])
            else:  # one pass over both rows instead of two
                torch.addmv(self._sum, a.rows.t(), torch.tensor(weights, dtype=self._sum.dtype),
                            out=self._sum)                                     # += cⁱ
            return
        d_f = loss - a.loss if self.loss_in_manifold else torch.zeros_like(loss)
        if self.stabilizer:
            d_f = -d_f.abs()
        length = torch.sqrt(sq_dtheta + d_f * d_f)                            # ℓⁱ
        # Any NaN or ±inf among fⁱ, fⁱ⁺¹, Δθⁱ or gⁱ makes this sum non-finite.
        ok = torch.isfinite(sq_dtheta + grad_sq + a.loss + loss)
        direction = torch.stack([self._one, -d_f])
        if self.p == 2:
            weights = torch.where(ok, 2.0 * direction, 0.0)
        else:  # a zero-length segment contributes nothing (and would divide by zero)
            weights = torch.where(ok & (length > 0), direction / length, 0.0)
        # A skipped segment has weights 0, but NaN·0 is still NaN: zero its NaN/±inf entries
        # first (on the device every time, as branching on ``ok`` would synchronise).
        a.rows.nan_to_num_(0.0, 0.0, 0.0)
        torch.addmv(self._sum, a.rows.t(), weights, out=self._sum)            # += cⁱ
        segment = torch.stack([length, length * length, self._one, self._zero]).double()
        self._stats += torch.where(ok, segment, self._skipped)

    def _host_weights(self, sq_dtheta: float, grad_sq: float, f_i: float,
                      f_next: float) -> tuple[float, float] | None:
        """The same arithmetic as the device path, in Python floats: w, or None to add nothing."""
        stats = self._host_stats
        if not math.isfinite(sq_dtheta + grad_sq + f_i + f_next):
            stats[3] += 1  # skipped: NaN or ±inf among fⁱ, fⁱ⁺¹, Δθⁱ or gⁱ
            return None
        d_f = f_next - f_i if self.loss_in_manifold else 0.0
        if self.stabilizer:
            d_f = -abs(d_f)
        length = math.sqrt(sq_dtheta + d_f * d_f)                             # ℓⁱ
        stats[0] += length
        stats[1] += length * length
        stats[2] += 1
        if self.p == 1 and length == 0:  # a zero-length segment contributes nothing
            return None
        scale = 2.0 if self.p == 2 else 1.0 / length
        return scale, -scale * d_f

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
        on_device = self._stats.tolist() if self._stats is not None else [0.0, 0.0, 0, 0]
        d1, d2, seg, skipped = (x + y for x, y in zip(on_device, self._host_stats))
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
        self._point = _Point(layout, numel, **kw)
        self._sum = torch.zeros(numel, **kw)
        self._sum_views = _split(self._sum, layout)
        self._stats = torch.zeros(4, device=first.device, dtype=torch.float64)
        self._on_host = (first.device.type == "cpu" if self.scalars_on_host is None
                         else self.scalars_on_host)
        # Constants of the statistics update, made once (a fresh tensor per step costs time).
        self._one, self._zero = torch.ones((), **kw), torch.zeros((), **kw)
        self._skipped = torch.tensor([0.0, 0.0, 0.0, 1.0], device=first.device,
                                     dtype=torch.float64)


def _split(flat: torch.Tensor, layout) -> list[torch.Tensor]:
    """Views of ``flat`` shaped like each parameter of ``layout``, in order."""
    sizes = [math.prod(shape) for _, shape in layout]
    return [chunk.view(shape) for chunk, (_, shape) in zip(flat.split(sizes), layout)]
