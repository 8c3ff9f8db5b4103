"""The paper's inner learner as a backend: A2C (leap_rl.agent) on the project's vector envs.

The reference implementation of :class:`leap_rl.backends.Backend`. Torch and gymnasium are
imported when a method runs, not when the registry loads this module's class.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from leap_rl.backends.contract import Assignment, EpisodeReport, Progress, stream_episodes

if TYPE_CHECKING:
    import torch

    from leap_rl.config import ExperimentConfig


class LossMeans:
    """The task's mean policy loss, value loss and entropy over its updates so far (a report's
    losses are means over the updates since the last, ``updates`` their running total, so each
    is weighted by the updates it covers); they ride
    on every Progress.stats as ``policy_loss``, ``value_loss``, ``entropy`` (TensorBoard's
    ``games/<game>/…_loss``, docs/tensorboard.md)."""

    def __init__(self) -> None:
        self.sums, self.updates = [0.0, 0.0, 0.0], 0

    def add(self, report) -> None:
        covered = report.updates - self.updates
        for i, value in enumerate((report.policy_loss, report.value_loss, report.entropy)):
            self.sums[i] += value * covered
        self.updates = report.updates

    def stats(self) -> dict[str, float]:
        n = max(self.updates, 1)
        return dict(zip(("policy_loss", "value_loss", "entropy"), (s / n for s in self.sums)))


class A2CTask:
    """Trains the assignment's game with A2C from θ⁰, flushing Leap every ``flush_every`` updates."""

    def accumulator(self, cfg: ExperimentConfig):
        """The Leap accumulator of one task (a seam for fault-injection tests)."""
        from leap_rl.backends.a2c_task import make_accumulator

        return make_accumulator(cfg)

    def __call__(self, assignment: Assignment, init: Mapping[str, torch.Tensor],
                 cfg: ExperimentConfig) -> Iterator[Progress]:
        # torch + gym: only in the worker
        from leap_rl.backends.a2c_task import build_learner, final_health

        acc = self.accumulator(cfg)
        learner = build_learner(assignment.game, cfg, seed=assignment.seed, init=init,
                                accumulator=acc, env_threads=cfg.workers.threads)
        losses = LossMeans()
        try:
            for report in learner.train(assignment.steps, cfg.workers.flush_every):
                losses.add(report)
                final = learner.agent_steps >= assignment.steps
                # The final encoder's dormant shares ride on the last chunk (issue 25).
                health = final_health(learner.model, assignment.game, cfg) if final else {}
                yield Progress(
                    gradient={k: v.cpu() for k, v in acc.flush().items()},
                    agent_steps=report.agent_steps,
                    episodes=[(report.agent_steps, r, n) for r, n in report.episodes],
                    stats={**acc.stats(), **losses.stats(), **health}, final=final)
        finally:
            learner.close()


class A2CBackend:
    """``inner.backend: a2c``: synchronous A2C with RMSProp, as in the paper's appendix F."""

    name = "a2c"

    def check(self, cfg: ExperimentConfig) -> None:
        """Every config the schema accepts runs on A2C (Atari, MinAtar and gymnasium games)."""

    def describe(self, cfg: ExperimentConfig) -> str:
        inner = cfg.inner
        return (f"A2C (the paper's), RMSProp lr {inner.learning_rate:g}, "
                f"encoder {inner.architecture}, device {inner.device}")

    def task_runner(self) -> A2CTask:
        return A2CTask()

    def train_task(self, game: str, steps: int, cfg: ExperimentConfig, *, out: str | Path,
                   seed: int, init_path: str | Path | None, leap: bool, report_every: int,
                   stream: TextIO) -> dict[str, Any]:
        from leap_rl.backends.a2c_task import train_task

        return train_task(game, steps, cfg, out=out, seed=seed, init_path=init_path, leap=leap,
                          report_every=report_every, stream=stream)

    def evaluation_run(self, game: str, seed: int, steps: int,
                       init: Mapping[str, torch.Tensor] | None, cfg: ExperimentConfig,
                       every_s: float) -> Iterator[EpisodeReport]:
        from leap_rl.backends.a2c_task import build_learner

        learner = build_learner(game, cfg, seed=seed, accumulator=None, init=init)
        try:
            # A report per update: episode ends located to ±1 unroll.
            yield from stream_episodes(learner.train(steps, 1), every_s)
        finally:
            learner.close()
