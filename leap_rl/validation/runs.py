"""One validation run: a fresh learner trained on a validation game from θ⁰ or from a random θ⁰.

It goes through the backend's ``evaluation_run``, the path ``leap-rl evaluate`` takes
(:mod:`leap_rl.evaluation.runner`), so a validation run and an evaluation run of the same game,
seed, steps and θ⁰ are the same run: the seed fixes the environments, the heads, the action
sampling and (for a random θ⁰) the encoder's starting weights.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leap_rl.backends.base import backend_for

if TYPE_CHECKING:
    import torch

    from leap_rl.backends.contract import EpisodeReport
    from leap_rl.config import ExperimentConfig

PROGRESS_EVERY_S = 5.0  # how often a run streams its new episodes back


@dataclass(frozen=True)
class ValidationRun:
    """One run of a validation: ``game`` × ``seed`` for ``steps``, from θ⁰ or random."""

    game: str
    seed: int
    steps: int
    random: bool  # a random θ⁰ (the baseline, with its own inner settings) instead of θ⁰

    @property
    def label(self) -> str:
        return f"{self.game}/{'random' if self.random else 'θ⁰'}/seed {self.seed}"


def train(run: ValidationRun, init: Mapping[str, torch.Tensor] | None, cfg: ExperimentConfig,
          every_s: float = PROGRESS_EVERY_S) -> Iterator[EpisodeReport]:
    """Trains the run with the config's backend, streaming its episodes; ``init`` is ignored
    for a random run (the backend seeds a fresh encoder by the run's seed)."""
    yield from backend_for(cfg).evaluation_run(run.game, run.seed, run.steps,
                                               None if run.random else init, cfg, every_s)
