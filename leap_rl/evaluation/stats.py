"""The statistics of the evaluation: smoothed curves, AUC, table-6 normalization, bootstrap CIs.

Pure numpy and scipy; no Ray, torch or files. Definitions (Flennerhag et al., ICLR 2019, section
4.3, figure 4, appendix F table 6):

- **Methods**: ``random`` (a fresh, seeded encoder: the paper's "no pretraining" baseline) and
  one or more named initializations θ⁰ (``leap``, ``reptile``, ...). Every method trains seed
  ``s`` with the same environments, heads and action sampling as the random run of seed ``s``;
  only the encoder's starting weights differ (a paired design).
- **Moving average** (figure 4 smooths with a window of 500 episodes): for the episodes of one run
  in order of completion, ``ma[i]`` = mean of the raw returns of episodes ``max(0, i-W+1) … i``
  (fewer than ``W`` at the start).
- **Final score**: the last moving-average value, i.e. the mean raw return of the last
  ``min(W, n)`` episodes of the run.
- **AUC**: the moving-average curve as a step function of agent steps — ``ma[i]`` holds from the
  step episode ``i`` finished until the next episode finished, the first value is held back to
  step 0 and the last one forward to the run's total steps ``T`` — integrated over ``[0, T]`` and
  divided by ``T``. It is a step-weighted mean return over training (the paper's "area under the
  curve" used as a speed-of-learning measure, section 4), in return units.
- **Normalized score** (table 6: "calculated on baseline (no pretraining) data"):
  ``(x − μ_r) / σ_r`` with ``μ_r``, ``σ_r`` the mean and sample standard deviation (ddof=1) of the
  random-initialization runs' values of the same quantity across seeds. Fallback: when ``σ_r`` is
  0 or undefined (one seed) it is replaced by 1, so the score is the plain difference ``x − μ_r``;
  the summary records which rule was used.
- **Paired difference** ``a − b`` of two methods (every method − random, and every pair of named
  methods): the per-seed differences ``d_s = x_a(s) − x_b(s)`` over the seeds where both are
  finite, their mean, and a 95% bootstrap interval of that mean from ``scipy.stats.bootstrap``
  resampling the ``d_s`` — i.e. resampling seeds, which keeps each seed's pair together.
  Percentile method by default (``--ci bca``: scipy's BCa), 10,000 resamples, seeded.
  Degenerate cases, decided here rather than by scipy: all ``d_s`` equal → the interval is that
  value (every resample has that mean); fewer than two seeds → no interval (NaN): one pair says
  nothing about seed-to-seed spread; BCa undefined (scipy returns NaN) → no interval, with a note.
- **Meta-seed groups**: a method given θ⁰s from several meta-training seeds (``leap#0``,
  ``leap#1``, … in the runs) also gets ``group − random`` with the hierarchical interval of
  :mod:`leap_rl.evaluation.bootstrap` (meta-seeds, then seeds), beside each member's paired one.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

import numpy as np

from leap_rl.evaluation.bootstrap import hierarchical_bootstrap

RANDOM = "random"
BOOTSTRAP = {"resamples": 10_000, "level": 0.95, "seed": 0, "method": "percentile"}
QUANTITIES = ("final", "auc")

RunKey = tuple[str, str, int]  # (game, method, seed)
Curves = dict[RunKey, tuple[np.ndarray, np.ndarray, int]]  # steps, returns, total steps per run


def moving_average(returns: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` episodes (fewer at the start)."""
    x = np.asarray(returns, dtype=np.float64)
    if window < 1:
        raise ValueError(f"window must be ≥ 1, got {window}")
    sums = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(0, i - window)
    return (sums[i] - sums[lo]) / (i - lo)


def final_score(returns: Sequence[float], window: int) -> float:
    """Mean raw return of the last ``min(window, n)`` episodes; NaN without episodes."""
    x = np.asarray(returns, dtype=np.float64)
    return float(x[-window:].mean()) if len(x) else math.nan


def auc(steps: Sequence[int], smoothed: Sequence[float], total_steps: int) -> float:
    """(1/T)·∫₀ᵀ m(t) dt of the step-function curve m (see the module docstring); NaN if empty."""
    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(smoothed, dtype=np.float64)
    if len(v) == 0:
        return math.nan
    end = max(float(total_steps), float(s[-1]))
    if end <= 0:
        return float(v[-1])
    widths = np.diff(np.concatenate([[0.0], s[1:], [end]]))
    return float(np.dot(v, widths) / end)


def on_grid(steps: Sequence[int], smoothed: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """The curve's value at each grid step (last value at or before it; NaN before the first)."""
    s = np.asarray(steps, dtype=np.float64)
    idx = np.searchsorted(s, grid, side="right") - 1
    out = np.full(len(grid), np.nan)
    ok = idx >= 0
    out[ok] = np.asarray(smoothed, dtype=np.float64)[idx[ok]]
    return out


def mean_std(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof=1) ignoring NaNs; std is 0 where fewer than two values exist."""
    x = np.asarray(values, dtype=np.float64)
    count = np.sum(~np.isnan(x), axis=axis)
    total = np.nansum(x, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        dev = np.nansum((x - np.expand_dims(mean, axis)) ** 2, axis=axis)
        std = np.where(count > 1, np.sqrt(dev / (count - 1)), 0.0)
    return mean, np.where(count > 0, std, np.nan)


def normalizer(baseline: Sequence[float]) -> dict:
    """μ_r, σ_r of the random-initialization values and the rule used (table 6; see above)."""
    x = np.asarray([v for v in baseline if np.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return {"mean": math.nan, "std": math.nan, "scale": math.nan, "rule": "no baseline"}
    std = float(x.std(ddof=1)) if len(x) > 1 else math.nan
    if np.isfinite(std) and std > 0:
        return {"mean": float(x.mean()), "std": std, "scale": std, "rule": "std"}
    return {"mean": float(x.mean()), "std": std, "scale": 1.0,
            "rule": "unit: random-init std is 0 or undefined, score = x - mean"}


def normalize(x: float | np.ndarray, norm: Mapping) -> float | np.ndarray:
    """``(x − μ_r) / scale`` with the normalizer of :func:`normalizer`."""
    return (x - norm["mean"]) / norm["scale"]



def paired_bootstrap(differences: Sequence[float], *, resamples: int = BOOTSTRAP["resamples"],
                     level: float = BOOTSTRAP["level"], seed: int = BOOTSTRAP["seed"],
                     method: str = BOOTSTRAP["method"]) -> dict:
    """Mean of the per-seed differences and its bootstrap interval (``scipy.stats.bootstrap``).

    Percentile, not BCa: with the few seeds an evaluation has (three by default, ten in the
    paper) BCa's two corrections are themselves estimated from those few values — the
    acceleration by a jackknife over n seeds, the bias from a bootstrap distribution that is a
    handful of atoms — so they add noise rather than accuracy (BCa is second-order accurate only
    as n grows), and the jackknife breaks down on ties. The percentile interval always lies
    within [min d, max d] and is what earlier reports of this project used. Neither fixes the
    real limitation: with n ≲ 10 any bootstrap interval under-covers, so ``n`` is reported too.
    ``method="bca"`` asks for BCa all the same (``--ci bca``), e.g. with 20–30 seeds.
    """
    d = np.asarray([v for v in differences if np.isfinite(v)], dtype=np.float64)
    out = {"mean": float(d.mean()) if len(d) else math.nan, "low": math.nan, "high": math.nan,
           "n": len(d), "note": None}
    if len(d) < 2:
        out["note"] = "fewer than 2 seeds: no interval"
    elif np.all(d == d[0]):
        # Every resample has mean d₀; scipy would warn about degenerate data instead.
        out.update(low=float(d[0]), high=float(d[0]), note="all differences equal")
    else:
        # Imported here: scipy.stats takes ~2 s to import, and the CLI imports this module.
        from scipy import stats as scipy_stats

        # scipy ≥ 1.15 names the generator argument ``rng``; older versions ``random_state``.
        rng_arg = ("rng" if "rng" in inspect.signature(scipy_stats.bootstrap).parameters
                   else "random_state")
        res = scipy_stats.bootstrap((d,), np.mean, n_resamples=resamples, confidence_level=level,
                                    method="BCa" if method == "bca" else "percentile",
                                    vectorized=True, **{rng_arg: np.random.default_rng(seed)})
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        out.update(low=low, high=high)
        if not (math.isfinite(low) and math.isfinite(high)):
            out["note"] = f"{method} interval undefined for these differences"
    return out


def bootstrap_difference(a: Mapping[int, float], b: Mapping[int, float], **kwargs) -> dict:
    """Method ``a`` − method ``b`` paired by seed (the seeds both have, finite values only), with
    the interval of :func:`paired_bootstrap`."""
    seeds = sorted(s for s in set(a) & set(b) if np.isfinite(a[s]) and np.isfinite(b[s]))
    return paired_bootstrap([a[s] - b[s] for s in seeds], **kwargs)


def comparisons(methods: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs (a, b) reported as a − b: each named method − random, then each pair of named
    methods in the order given (leap − reptile, ...)."""
    named = [m for m in methods if m != RANDOM]
    return [(m, RANDOM) for m in named] + list(combinations(named, 2))


def pair_key(a: str, b: str) -> str:
    """The key of the a − b difference in summary.json."""
    return f"{a} - {b}"


def _quantity(per_seed: Mapping[int, float]) -> dict:
    values = np.array(list(per_seed.values()), dtype=np.float64)
    mean, std = mean_std(values) if len(values) else (math.nan, math.nan)
    return {"per_seed": {str(s): v for s, v in sorted(per_seed.items())},
            "mean": float(mean), "std": float(std)}


def summarize_game(runs: Mapping[tuple[str, int], tuple[np.ndarray, np.ndarray, int]],
                   window: int, methods: Sequence[str] | None = None,
                   groups: Mapping[str, Sequence[str]] | None = None,
                   ci: str = BOOTSTRAP["method"]) -> dict:
    """Per-method final/AUC (raw and normalized) and the paired differences of one game.

    ``runs`` maps (method, seed) to (episode steps, raw returns, total steps of the run);
    ``methods`` gives the report order of the named methods (others in ``runs`` follow, sorted);
    ``groups`` names the members of each meta-seed group; ``ci`` is percentile or bca.
    """
    methods = method_order(methods or (), {m for m, _ in runs})
    values = {m: {q: {} for q in QUANTITIES} for m in methods}
    for (method, seed), (steps, returns, total) in sorted(runs.items()):
        values[method]["final"][seed] = final_score(returns, window)
        values[method]["auc"][seed] = auc(steps, moving_average(returns, window), total)
    norms = {q: normalizer(values[RANDOM][q].values()) for q in QUANTITIES}
    per_method = {}
    for m in methods:
        per_method[m] = {"seeds": sorted(values[m]["final"])}
        for q in QUANTITIES:
            per_method[m][q] = _quantity(values[m][q])
            per_method[m][f"{q}_normalized"] = _quantity(
                {s: float(normalize(v, norms[q])) for s, v in values[m][q].items()})
    diffs = {pair_key(a, b): {"a": a, "b": b, **{q: bootstrap_difference(
        values[a][q], values[b][q], method=ci) for q in QUANTITIES}}
        for a, b in comparisons(methods)}
    hier = {pair_key(g, RANDOM): {"a": g, "b": RANDOM, "members": list(members), **{
        q: group_difference([values[m][q] for m in members if m in values], values[RANDOM][q],
                            ci) for q in QUANTITIES}} for g, members in (groups or {}).items()}
    return {"methods": per_method, "normalizer": norms, "differences": diffs,
            "hierarchical": hier}


def paired_differences(members: Sequence[Mapping[int, float]], baseline: Mapping[int, float],
                       scale: float = 1.0) -> list[list[float]]:
    """Per member, ``(x(s) − baseline(s)) / scale`` over the seeds it shares with the baseline,
    in seed order: the one pairing rule of every difference here."""
    return [[(x[s] - baseline[s]) / scale for s in sorted(set(x) & set(baseline))]
            for x in members]


def group_difference(members: Sequence[Mapping[int, float]], baseline: Mapping[int, float],
                     ci: str = BOOTSTRAP["method"]) -> dict:
    """A meta-seed group − random: per member its seed-paired differences, then the
    hierarchical interval (meta-seeds, then seeds; :mod:`leap_rl.evaluation.bootstrap`)."""
    per_member = paired_differences(members, baseline)
    return hierarchical_bootstrap(per_member, resamples=BOOTSTRAP["resamples"],
                                  level=BOOTSTRAP["level"], seed=BOOTSTRAP["seed"], method=ci)


def method_order(given: Sequence[str] = (), present: Iterable[str] = ()) -> list[str]:
    """The named methods in the order ``given``, then the others ``present`` sorted, then random."""
    named = [*given, *sorted(present)]
    return list(dict.fromkeys(m for m in named if m != RANDOM)) + [RANDOM]


def summarize(runs: Curves, window: int, methods: Sequence[str] | None = None,
              groups: Mapping[str, Sequence[str]] | None = None,
              ci: str = BOOTSTRAP["method"]) -> dict:
    """summary.json: every game's :func:`summarize_game`, and per method the mean normalized
    score across games (the average of the per-game means, figure 4's "mean normalized") and in
    how many games each difference's interval lies above zero (final score)."""
    methods = method_order(methods or (), {m for _, m, _ in runs})
    games: dict[str, dict] = {}
    for (game, method, seed), run in runs.items():
        games.setdefault(game, {})[(method, seed)] = run
    per_game = {g: summarize_game(games[g], window, methods, groups, ci) for g in sorted(games)}
    overall: dict = {q: {m: _nanmean([per_game[g]["methods"][m][q]["mean"] for g in per_game])
                         for m in methods} for q in ("final_normalized", "auc_normalized")}
    overall["games"] = len(per_game)
    for quantity in ("final", "auc"):  # games where the paired CI lies above / below zero
        for side, beyond in (("above", lambda d: d["low"] > 0), ("below", lambda d: d["high"] < 0)):
            overall[f"{quantity}_ci_{side}_zero"] = {
                pair_key(a, b): sum(1 for g in per_game if beyond(
                    per_game[g]["differences"][pair_key(a, b)][quantity]))
                for a, b in comparisons(methods)}
    overall["ci_above_zero"] = overall["final_ci_above_zero"]  # the key earlier summaries had
    return {"window": window, "methods": methods,
            "bootstrap": {**BOOTSTRAP, "method": ci, "paired_over": "seeds",
                          "hierarchical_over": "meta-seeds, then seeds"},
            "groups": {g: list(m) for g, m in (groups or {}).items()}, "games": per_game,
            "overall": overall}


def _nanmean(values: Sequence[float]) -> float:
    x = np.asarray(values, dtype=np.float64)
    return float(x[np.isfinite(x)].mean()) if np.isfinite(x).any() else math.nan
