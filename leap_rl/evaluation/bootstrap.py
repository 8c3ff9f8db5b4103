"""The hierarchical bootstrap: an interval over meta-training seeds, then evaluation seeds.

Pure numpy (the normal quantiles from the standard library). Definitions:

- **Data**: one method with θ⁰s from ``K`` meta-training seeds (``--init leap=A.pt,B.pt``); for
  meta-seed ``k`` the paired per-evaluation-seed differences ``d_{k,s} = x_k(s) − x_random(s)``
  over the ``n_k`` seeds where both are finite (:mod:`leap_rl.evaluation.stats`).
- **Estimate**: the mean over meta-seeds of each meta-seed's mean difference,
  ``θ̂ = (1/K) Σ_k mean_s d_{k,s}``: every meta-training run weighs the same.
- **Resample** (two stages, Davison & Hinkley 1997, section 3.8): draw ``K`` meta-seeds with
  replacement; for each drawn ``k`` draw ``n_k`` of its differences with replacement; the
  statistic is the estimate on that resample. 10,000 resamples, seeded.
- **Percentile** interval: the ``α/2`` and ``1 − α/2`` quantiles of the resampled statistics.
- **BCa** (Efron 1987): bias ``z₀ = Φ⁻¹(share of statistics < θ̂)``, acceleration ``a`` from a
  jackknife over *meta-seeds* (``θ̂₍ᵢ₎`` leaves meta-seed ``i`` out:
  ``a = Σ(θ̄ − θ̂₍ᵢ₎)³ / (6 (Σ(θ̄ − θ̂₍ᵢ₎)²)^{3/2})``), quantiles at
  ``Φ(z₀ + (z₀ + z_q) / (1 − a (z₀ + z_q)))``. It needs three meta-seeds or more, a statistic
  that varies over the jackknife, and a finite ``z₀``; otherwise the percentile interval is
  reported, with a note saying why.
- **p-value** (:func:`hierarchical_p_value`): twice the smaller share of resampled statistics
  on either side of zero (``< 0`` and ``> 0``; a statistic of exactly 0 counts half to each),
  at most 1: the percentile interval at level ``1 − p`` just touches zero.
- **Contrast of two methods** (:func:`hierarchical_contrast`, e.g. Leap − Reptile, each with its
  own meta-seeds and its differences to the same random runs): ``θ̂_A − θ̂_B``; the two are
  resampled independently as above (their own meta-seeds, then seeds) and the interval is the
  percentile one of the resampled ``θ̂_A − θ̂_B``. Independence ignores that both share the
  evaluation seeds and the random runs, whose positive correlation would narrow the interval:
  this one is, if anything, too wide.
- **Holm** (:func:`holm_levels`, Holm 1979) over ``m`` comparisons: ordered by p-value, the
  ``i``-th (from 0) is judged with an interval at level ``1 − α/(m − i)``, and only while every
  earlier one's interval excluded zero.
- **Degenerate cases**: fewer than two meta-seeds with data → no interval (one meta-training run
  says nothing about meta-seed spread); every difference equal → the interval is that value.

Caveat: the random runs of a seed are shared by all meta-seeds (the paired design), so the
within-meta-seed draws are not independent as the resampling treats them; with few seeds and
meta-seeds any interval under-covers, which is why ``meta_seeds`` and ``n`` are reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np

METHODS = ("percentile", "bca")


def hierarchical_bootstrap(groups: Sequence[Sequence[float]], *, resamples: int = 10_000,
                           level: float = 0.95, seed: int = 0,
                           method: str = "percentile") -> dict:
    """Estimate and interval of the mean difference over meta-seeds (``groups``: per meta-seed
    its per-seed differences), as defined in the module docstring."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    data = _clean(groups)
    means = np.array([d.mean() for d in data])
    out = {"mean": float(means.mean()) if len(data) else math.nan, "low": math.nan,
           "high": math.nan, "meta_seeds": len(data), "n": [len(d) for d in data],
           "method": method, "note": None}
    if len(data) < 2:
        out["note"] = "fewer than 2 meta-seeds: no interval"
        return out
    pooled = np.concatenate(data)
    if np.all(pooled == pooled[0]):
        out.update(low=float(pooled[0]), high=float(pooled[0]), note="all differences equal")
        return out
    stats = _resample(data, resamples, np.random.default_rng(seed))
    alpha = (1 - level) / 2
    quantiles, note = (alpha, 1 - alpha), None
    if method == "bca":
        quantiles, note = _bca_quantiles(stats, means, out["mean"], alpha)
    low, high = np.quantile(stats, quantiles)
    out.update(low=float(low), high=float(high), note=note)
    return out


def hierarchical_p_value(groups: Sequence[Sequence[float]], *, resamples: int = 10_000,
                         seed: int = 0) -> float:
    """The two-sided bootstrap p-value of a zero mean difference (module docstring), on the
    same resamples as :func:`hierarchical_bootstrap` with the same ``seed``; NaN where that
    gives no interval."""
    data = _clean(groups)
    if len(data) < 2:
        return math.nan
    stats = _resample(data, resamples, np.random.default_rng(seed))
    below = float(np.mean(stats < 0)) + 0.5 * float(np.mean(stats == 0))
    return min(1.0, 2 * min(below, 1 - below))


def hierarchical_contrast(groups_a: Sequence[Sequence[float]], groups_b: Sequence[Sequence[float]],
                          *, resamples: int = 10_000, level: float = 0.95,
                          seed: int = 0) -> dict:
    """Method A − method B (each: per meta-seed its per-seed differences to random): estimate
    and percentile interval, as defined in the module docstring."""
    a, b = _clean(groups_a), _clean(groups_b)
    estimate = (float(np.mean([d.mean() for d in a])) - float(np.mean([d.mean() for d in b]))
                if a and b else math.nan)
    out = {"mean": estimate, "low": math.nan, "high": math.nan,
           "meta_seeds": [len(a), len(b)], "n": [len(d) for d in a + b], "note": None}
    if len(a) < 2 or len(b) < 2:
        out["note"] = "fewer than 2 meta-seeds on a side: no interval"
        return out
    rng = np.random.default_rng(seed)
    stats = _resample(a, resamples, rng) - _resample(b, resamples, rng)
    low, high = np.quantile(stats, ((1 - level) / 2, (1 + level) / 2))
    out.update(low=float(low), high=float(high))
    return out


def holm_levels(p_values: Mapping[str, float], level: float = 0.95) -> list[tuple[str, float]]:
    """Holm's step-down order: (name, interval level) by increasing p-value (NaN last), the
    ``i``-th at ``1 − α/(m − i)`` with ``α = 1 − level``. Judge in this order and stop at the
    first whose interval includes zero: the rest are not rejected."""
    alpha, m = 1 - level, len(p_values)
    ordered = sorted(p_values, key=lambda k: (math.isnan(p_values[k]), p_values[k]))
    return [(name, 1 - alpha / (m - i)) for i, name in enumerate(ordered)]


def _clean(groups: Sequence[Sequence[float]]) -> list[np.ndarray]:
    """Each meta-seed's finite differences; meta-seeds left with none are dropped."""
    data = [np.asarray([v for v in g if np.isfinite(v)], dtype=np.float64) for g in groups]
    return [d for d in data if len(d)]


def _resample(data: list[np.ndarray], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The statistic on ``resamples`` two-stage resamples, vectorized over a padded table."""
    k, counts = len(data), np.array([len(d) for d in data])
    table = np.zeros((k, counts.max()))
    for i, d in enumerate(data):
        table[i, :len(d)] = d
    picked = rng.integers(0, k, size=(resamples, k))  # stage 1: meta-seeds
    n = counts[picked]  # (resamples, k): how many seeds each drawn meta-seed has
    idx = (rng.random((resamples, k, counts.max())) * n[..., None]).astype(np.int64)
    values = table[picked[..., None], idx]  # stage 2: seeds within each drawn meta-seed
    used = np.arange(counts.max()) < n[..., None]  # only the first n_k draws of a row count
    return ((values * used).sum(axis=2) / n).mean(axis=1)


def _bca_quantiles(stats: np.ndarray, means: np.ndarray, estimate: float,
                   alpha: float) -> tuple[tuple[float, float], str | None]:
    """BCa's adjusted quantile levels (jackknife over meta-seeds), or the percentile ones with a
    note when BCa is undefined here."""
    plain = (alpha, 1 - alpha)
    if len(means) < 3:
        return plain, "BCa needs 3 or more meta-seeds: percentile interval"
    share = float(np.mean(stats < estimate))
    if not 0 < share < 1:
        return plain, "BCa's bias correction is infinite (every resample on one side): percentile"
    jack = (means.sum() - means) / (len(means) - 1)  # θ̂ without meta-seed i
    dev = jack.mean() - jack
    spread = float(np.sum(dev ** 2))
    if spread == 0:
        return plain, "BCa's jackknife does not vary: percentile interval"
    accel = float(np.sum(dev ** 3)) / (6 * spread ** 1.5)
    normal = NormalDist()
    z0 = normal.inv_cdf(share)
    levels = []
    for q in plain:
        z = z0 + normal.inv_cdf(q)
        levels.append(normal.cdf(z0 + z / (1 - accel * z)))
    return (levels[0], levels[1]), None
