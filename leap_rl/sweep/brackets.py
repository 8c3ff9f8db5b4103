"""ASHA with one bracket per group of comparable trials (issue 22: "trials compete only with
comparable trials, never a fold's game scale against another's").

``validation/gain`` is normalized per game by the random runs' spread
(:mod:`leap_rl.validation.metric`), yet a fold whose held-back game Leap helps little would lose
every rung against a fold whose game it helps much, whatever the arm. So each group — the
trials that validate on the same games for the same steps, e.g. one fold — gets its own
:class:`~ray.tune.schedulers.AsyncHyperBandScheduler` (Li et al., 2020), and a trial is compared
only with the trials of its group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler


def comparable_key(cfg) -> str:
    """The group of a trial: its validation games and steps (one per fold of a fold sweep)."""
    return f"{'+'.join(cfg.validation.games)}@{cfg.validation.steps}"


class GroupedASHA(FIFOScheduler):
    """One ASHA per group; ``groups`` maps a trial's name (``config["trial"]``) to its group."""

    def __init__(self, groups: Mapping[str, str], **asha: Any) -> None:
        super().__init__()
        self.groups, self.asha = dict(groups), asha
        self.by_group: dict[str, AsyncHyperBandScheduler] = {}

    def _of(self, trial) -> AsyncHyperBandScheduler:
        group = self.groups[trial.config["trial"]]
        if group not in self.by_group:
            self.by_group[group] = AsyncHyperBandScheduler(**self.asha)
        return self.by_group[group]

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return True  # metric and mode are the spec's, set at construction

    def on_trial_add(self, tune_controller, trial) -> None:
        self._of(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        return self._of(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self._of(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._of(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        return "; ".join(f"{group}: {asha.debug_string()}"
                         for group, asha in self.by_group.items())
