"""A confirmation's primary statistic: per game, a multi-seed θ⁰'s normalized AUC gain over
random init with a hierarchical interval, judged with Holm over the games (docs/results.md, "The
validated MinAtar study", stage 3).

Pure numpy on per-seed values; no files. Definitions:

- **Data** of one game: random init's AUC ``r_s`` per evaluation seed ``s``, and the method's
  ``x_k(s)`` per meta-training seed ``k`` (its θ⁰s, one per meta-seed) on the same seeds.
- **Normalized difference** ``d_{k,s} = (x_k(s) − r_s) / σ_r``, with ``σ_r`` random's
  standard deviation over its seeds (:func:`leap_rl.evaluation.stats.normalizer`: 1 where it is 0
  or undefined), i.e. table 6's normalized score of the method minus random's.
- **Estimate and interval**: :func:`~leap_rl.evaluation.bootstrap.hierarchical_bootstrap` of the
  ``d_{k,s}`` (mean over meta-seeds of each one's mean paired difference; meta-seeds, then seeds
  resampled; percentile), with its p-value
  :func:`~leap_rl.evaluation.bootstrap.hierarchical_p_value`.
- **Holm over games** (:func:`~leap_rl.evaluation.bootstrap.holm_levels`): the game with the
  smallest p is judged with an interval at level ``1 − α/m``, the next at ``1 − α/(m − 1)``, and
  so on while every earlier interval excluded zero; a game reached after one that did not is
  ``judged: False`` (its hypothesis is not rejected, whatever its own interval says).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from leap_rl.evaluation.bootstrap import (
    hierarchical_bootstrap,
    hierarchical_contrast,
    hierarchical_p_value,
    holm_levels,
)
from leap_rl.evaluation.stats import BOOTSTRAP, normalizer, paired_differences

GameData = tuple[Sequence[Mapping[int, float]], Mapping[int, float]]  # (per meta-seed, random)


def normalized_differences(members: Sequence[Mapping[int, float]],
                           random: Mapping[int, float]) -> tuple[list[list[float]], dict]:
    """Per meta-seed, its ``d_{k,s}`` over the seeds it shares with random; and the normalizer."""
    norm = normalizer(list(random.values()))
    return paired_differences(members, random, norm["scale"]), norm


def game_gain(members: Sequence[Mapping[int, float]], random: Mapping[int, float],
              level: float = BOOTSTRAP["level"]) -> dict:
    """One game's estimate, interval at ``level``, p-value and σ_r (the module's definitions)."""
    groups, norm = normalized_differences(members, random)
    kwargs = {"resamples": BOOTSTRAP["resamples"], "seed": BOOTSTRAP["seed"]}
    interval = hierarchical_bootstrap(groups, level=level, method="percentile", **kwargs)
    return {**interval, "level": level, "p": hierarchical_p_value(groups, **kwargs),
            "random_std": norm["std"], "normalizer": norm["rule"]}


def method_contrast(a: Sequence[Mapping[int, float]], b: Sequence[Mapping[int, float]],
                    random: Mapping[int, float], level: float = BOOTSTRAP["level"]) -> dict:
    """Method ``a``'s normalized gain over random − method ``b``'s, on the seeds each shares with
    random (:func:`~leap_rl.evaluation.bootstrap.hierarchical_contrast`; a secondary statistic,
    e.g. Leap − Reptile)."""
    groups_a, norm = normalized_differences(a, random)
    groups_b = normalized_differences(b, random)[0]
    return {**hierarchical_contrast(groups_a, groups_b, level=level,
                                    resamples=BOOTSTRAP["resamples"], seed=BOOTSTRAP["seed"]),
            "level": level, "random_std": norm["std"]}


def holm_judgement(games: Mapping[str, GameData], level: float = BOOTSTRAP["level"]) -> dict:
    """Per game: its gain at the Holm level of its rank, and whether Holm rejects "no gain"
    there (``excludes_zero``: the interval lies wholly above or below zero; ``judged``: every
    game before it in Holm's order excluded zero)."""
    kwargs = {"resamples": BOOTSTRAP["resamples"], "seed": BOOTSTRAP["seed"]}
    p_values = {g: hierarchical_p_value(normalized_differences(*data)[0], **kwargs)
                for g, data in games.items()}
    out, still = {}, True
    for rank, (game, game_level) in enumerate(holm_levels(p_values, level)):
        result = game_gain(*games[game], level=game_level)
        excludes = bool(result["low"] > 0 or result["high"] < 0)
        out[game] = {**result, "holm_rank": rank, "judged": still,
                     "excludes_zero": excludes, "rejected": still and excludes}
        still = still and excludes
    return out
