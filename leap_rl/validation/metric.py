"""The meta-validation metric: per game the AUC gain of θ⁰ over a random θ⁰, in units of the
random runs' spread (table 6's normalization, Flennerhag et al., ICLR 2019), averaged over games.

- A run's **AUC** is :func:`leap_rl.evaluation.stats.auc` of its moving-average curve (the
  step-weighted mean return over training, in return units), the definition ``leap-rl
  evaluate`` reports. A run without a finished episode has no AUC: it is **missing** (None),
  never 0 or NaN inside a mean.
- A game's **gain** = (mean AUC θ⁰ − mean AUC random) / scale, means over the seeds that are
  not missing, scale = max(σ_r, ``std_floor``, ``std_floor_relative`` · |μ_r|), σ_r the sample
  standard deviation (ddof=1) of random's AUCs over the seeds (undefined with one seed: the
  floors apply). Table 6 divides by σ_r so that a game with large returns (Freeway) does not
  drown one with small returns (Seaquest); the floor keeps a game whose random AUC hardly varies
  (every seed learns nothing in the budget) finite and sane. Missing when either side has no AUC.
- ``validation/gain`` = the mean of the games' gains that are not missing; missing when none is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from leap_rl.evaluation.stats import auc, moving_average


def run_auc(episodes: Sequence[tuple[int, float]], total_steps: int, window: int) -> float | None:
    """AUC of one run's episodes ((agent step, raw return) in order of completion); None when
    the run finished no episode."""
    if not episodes:
        return None
    steps = [s for s, _ in episodes]
    returns = [r for _, r in episodes]
    value = auc(steps, moving_average(returns, window), total_steps)
    return value if math.isfinite(value) else None


def _present(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def game_gain(init_aucs: Sequence[float | None], random_aucs: Sequence[float | None],
              std_floor: float, std_floor_relative: float) -> dict:
    """One game's gain and its parts (see the module docstring); ``gain`` None when missing."""
    init, rand = _present(init_aucs), _present(random_aucs)
    mean_init = float(np.mean(init)) if init else None
    mean_random = float(np.mean(rand)) if rand else None
    std = float(np.std(rand, ddof=1)) if len(rand) > 1 else None
    out = {"auc_init": mean_init, "auc_random": mean_random, "std_random": std, "scale": None,
           "gain": None, "missing_init": len(init_aucs) - len(init),
           "missing_random": len(random_aucs) - len(rand)}
    if mean_init is None or mean_random is None:
        return out
    scale = max(std or 0.0, std_floor, std_floor_relative * abs(mean_random))
    out.update(scale=scale, gain=(mean_init - mean_random) / scale)
    return out


def mean_gain(per_game: Mapping[str, Mapping]) -> float | None:
    """``validation/gain``: the mean of the games' gains that are not missing; None if none."""
    gains = _present([g["gain"] for g in per_game.values()])
    return float(np.mean(gains)) if gains else None


def tensorboard_scalars(per_game: Mapping[str, Mapping], gain: float | None) -> dict[str, float]:
    """The validation tags: ``validation/gain``, and per game ``validation/<game>/gain``,
    ``…/auc_init`` and ``…/auc_random`` (mean AUCs over seeds). Missing values are left out."""
    scalars = {} if gain is None else {"validation/gain": gain}
    for game, parts in per_game.items():
        for name in ("gain", "auc_init", "auc_random"):
            if parts[name] is not None:
                scalars[f"validation/{game}/{name}"] = float(parts[name])
    return scalars
