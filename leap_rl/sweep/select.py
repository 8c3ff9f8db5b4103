"""Selection rules over a finished sweep, as a pre-registered study states them
(docs/results.md, "The validated MinAtar study").

- **Relative AUC choice** (a ``train-task`` sweep over games × a setting × seeds): per game, each
  value's mean AUC over seeds divided by that game's best such mean (games of different return
  scales count alike); the score of a value is the mean of these over the games, and the chosen
  value has the highest score. A choice at an end of the grid is flagged: the optimum may lie
  outside it.
- **Final validation gain** (a ``train`` sweep with meta-validation): a trial's gain is that of
  its validation after the given meta-step, read from its ``validation.jsonl``, never the best of
  several validations (the best of many noisy measurements is biased upwards); missing when that
  validation was not made or had no gain.
- **Arm score**: the mean of its trials' final gains over folds and seeds; an arm with a missing
  trial has no score (a fold without data would change what the mean means).

Pure functions of rows (dicts, as ``csv.DictReader`` gives them), so that a study's script and
its tests apply the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from leap_rl.validation.history import read_records


def relative_auc_choice(rows: Iterable[Mapping[str, Any]], *, value_key: str,
                        game_key: str = "task.game", auc_key: str = "auc") -> dict[str, Any]:
    """The value of ``value_key`` with the highest mean relative AUC (module docstring).

    Returns ``{"choice", "scores" {value: score}, "means" {game: {value: mean AUC}},
    "at_edge"}``; raises ValueError when a (game, value) cell has no AUC at all."""
    cells: dict[str, dict[float, list[float]]] = {}
    for row in rows:
        value, auc = float(row[value_key]), row.get(auc_key)
        cell = cells.setdefault(str(row[game_key]), {}).setdefault(value, [])
        if auc not in (None, "") and math.isfinite(float(auc)):
            cell.append(float(auc))
    values = sorted({v for per_game in cells.values() for v in per_game})
    empty = [(g, v) for g, per_game in cells.items() for v in values if not per_game.get(v)]
    if empty:
        raise ValueError(f"no AUC for (game, {value_key}) {empty}: finish or rerun those trials")
    means = {g: {v: sum(a) / len(a) for v, a in per_game.items()} for g, per_game in cells.items()}
    scores = {v: sum(means[g][v] / max(means[g].values()) for g in means) / len(means)
              for v in values}
    choice = max(values, key=lambda v: scores[v])
    return {"choice": choice, "scores": scores, "means": means,
            "at_edge": choice in (values[0], values[-1]) and len(values) > 1}


def final_gain(records: Sequence[Mapping[str, Any]], meta_step: int) -> float | None:
    """The ``gain`` of the validation made after ``meta_step``; None if none was or it had none."""
    for record in records:
        if record.get("meta_step") == meta_step:
            gain = record.get("gain")
            return None if gain is None or not math.isfinite(gain) else float(gain)
    return None


def read_validations(trial_dir: Path) -> list[dict[str, Any]]:
    """A trial's validation records (``validation.jsonl``), [] when it has none."""
    return read_records(Path(trial_dir))


def arm_scores(trials: Iterable[Mapping[str, Any]], arm_keys: Sequence[str]) -> list[dict]:
    """Per arm (the values of ``arm_keys``): its trials' gains, their mean (None when any trial's
    gain is missing), best first; ``trials`` carry ``gain`` and the ``arm_keys``."""
    arms: dict[tuple, list] = {}
    for trial in trials:
        arms.setdefault(tuple(str(trial[k]) for k in arm_keys), []).append(trial.get("gain"))
    rows = []
    for key, gains in arms.items():
        complete = all(g is not None for g in gains)
        rows.append({**dict(zip(arm_keys, key)), "gains": gains, "trials": len(gains),
                     "score": sum(gains) / len(gains) if complete else None})
    return sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0.0)))
