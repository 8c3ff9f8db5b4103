"""A spec's trials: every combination of its axes, folds and samples, each config validated.

Grid axes give their cartesian product; random axes are drawn ``samples`` times (seeded by
``sample_seed``), each draw combined with the whole grid; ``folds: leave_one_game_out`` gives
one trial per game of ``meta.pool`` (Leap's meta-validation: the other games meta-train, the
held-back one validates). Every trial's config is built with :func:`leap_rl.config.load_config`
before anything runs, so a sweep with a bad trial never starts.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leap_rl.backends.base import outer_loop_problems
from leap_rl.config import ConfigError, ExperimentConfig, load_config
from leap_rl.sweep.spec import Spec, SweepError

NAME_LENGTH = 80  # characters of a trial's directory name, its number included


@dataclass
class Trial:
    """One run of the sweep: its settings (dotted key → value) and its validated config."""

    number: int
    settings: dict[str, Any]
    overrides: list[str]
    cfg: ExperimentConfig | None = None
    task: dict[str, Any] = field(default_factory=dict)  # train-task: game, steps, init
    fold: str | None = None  # the held-back game of a fold
    name: str = ""

    @property
    def arm(self) -> dict[str, Any]:
        """The settings that define the arm: all but the seed and the fold."""
        return {k: v for k, v in self.settings.items() if k not in ("seed", "fold")}


def value_text(value: Any) -> str:
    """A value as a ``--set`` YAML value (floats keep a dot so YAML reads them as floats)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if value is None:
        return "null"
    return str(value)


def safe_name(text: str) -> str:
    """A file name part, only [A-Za-z0-9._=-]: ``MinAtar/Seaquest`` → ``MinAtar-Seaquest``."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", text).strip("-") or "x"


def short_keys(keys: list[str]) -> dict[str, str]:
    """Each dotted key's shortest dotted suffix that no other key ends with."""
    short = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if not any(o != key and (o == suffix or o.endswith("." + suffix)) for o in keys):
                break
        short[key] = suffix
    return short


def trial_name(number: int, settings: dict[str, Any], short: dict[str, str]) -> str:
    """``003-learning_rate=0.01-seed=1``: its number (unique) and its settings, safe, short."""
    parts = [f"{short.get(k, k)}={_name_value(v)}" for k, v in settings.items()]
    return safe_name(f"{number:03d}-" + "-".join(parts))[:NAME_LENGTH].rstrip("-")


def _name_value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def expand(spec: Spec, base: ExperimentConfig) -> list[Trial]:
    """Every trial's settings and overrides (configs not yet built): grid × samples × folds."""
    rng = np.random.default_rng(spec.sample_seed)
    grid = list(itertools.product(*(a.values for a in spec.grid_axes)))
    draws = [{a.key: _draw(a, rng) for a in spec.random_axes} for _ in range(spec.samples)] \
        if spec.random_axes else [{}]
    folds = fold_settings(base) if spec.folds else [{}]
    trials = []
    for draw, values, fold in itertools.product(draws, grid, folds):
        settings = {**dict(zip((a.key for a in spec.grid_axes), values)), **draw}
        overrides = [f"{k}={value_text(v)}" for k, v in settings.items()
                     if not k.startswith("task.")]
        trial = Trial(len(trials), settings, overrides + fold.get("overrides", []))
        if fold:
            trial.fold = fold["game"]
            trial.settings["fold"] = fold["game"]
        trial.task = {**spec.task, **{k[5:]: v for k, v in settings.items()
                                      if k.startswith("task.")}}
        trials.append(trial)
    short = short_keys(list(dict.fromkeys(k for t in trials for k in t.settings)))
    for trial in trials:
        trial.name = trial_name(trial.number, trial.settings, short)
    return trials


def _draw(axis, rng: np.random.Generator) -> Any:
    if axis.distribution == "choice":
        return axis.values[int(rng.integers(len(axis.values)))]
    low, high = axis.values
    if axis.distribution == "loguniform":
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return float(rng.uniform(low, high))


def fold_settings(base: ExperimentConfig) -> list[dict[str, Any]]:
    """leave_one_game_out: per pool game, the overrides that hold it back for validation
    and the validation game."""
    pool, batch = base.meta.pool, base.meta.meta_batch_size
    folds = []
    for game in pool:
        rest = [g for g in pool if g != game]
        overrides = [f"meta.pool={value_text(rest)}",
                     f"meta.meta_batch_size={min(batch, len(rest))}",
                     f"validation.games={value_text([game])}"]
        folds.append({"game": game, "overrides": overrides})
    return folds


def build_trials(spec: Spec, overrides: list[str] = (), source: str = "<spec>") -> list[Trial]:
    """Every trial of ``spec`` with its validated config; ``overrides`` (``--set``) change the
    base. Raises :class:`SweepError` with every problem of every trial (each once)."""
    try:
        base = load_config(spec.base, list(overrides))
    except ConfigError as err:
        raise SweepError(source, [f"base {spec.base}: {p}" for p in err.problems]) from None
    if spec.folds and len(base.meta.pool) < 2:
        raise SweepError(source, [f"folds: {spec.folds} needs at least two games in meta.pool "
                                  f"(it has {base.meta.pool})"])
    trials, problems = expand(spec, base), {}
    if spec.kind == "train-task":  # outer-loop keys would be silently ignored by every trial
        problems.update({p: [t.name for t in trials] for p in outer_loop_problems(
            [*overrides, *(a.key for a in spec.axes)])})
    for trial in trials:
        try:
            trial.cfg = load_config(spec.base, [*overrides, *trial.overrides])
        except ConfigError as err:
            for problem in err.problems:
                problems.setdefault(problem, []).append(trial.name)
        problems.update({p: problems.get(p, []) + [trial.name] for p in _task_problems(trial)})
    if problems:
        raise SweepError(source, [f"{p} (trial{'s' if len(names) > 1 else ''} "
                                  f"{_names(names)})" for p, names in problems.items()])
    return trials


def _task_problems(trial: Trial) -> list[str]:
    if not trial.task:
        return []
    steps = trial.task.get("steps")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        return [f"task.steps: must be a positive integer, got {steps!r}"]
    return []


def _names(names: list[str]) -> str:
    if len(names) <= 3:
        return ", ".join(names)
    return f"{', '.join(names[:2])} and {len(names) - 2} more"


def agent_steps(trial: Trial) -> int:
    """The agent steps a trial trains: meta-steps × batch × steps per task, plus its
    validations' learners from θ⁰ (validations × games × seeds × steps; the random-θ⁰ baseline
    runs are left out: they are computed once and may come from a shared cache); or the task's."""
    if trial.task:
        return int(trial.task["steps"])
    meta, v = trial.cfg.meta, trial.cfg.validation
    train = meta.meta_steps * meta.meta_batch_size * meta.steps_per_task
    if not v.enabled:
        return train
    return train + (meta.meta_steps // v.every) * len(v.games) * v.seeds * v.steps
