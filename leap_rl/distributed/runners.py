"""Task runners: what a worker does with one assignment, as a generator of :class:`Progress`.

``A2CTask`` is the paper's inner learner on a real Atari game. The stand-in task of the tests
and benchmarks lives in :mod:`leap_rl.testing`, which production code does not import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch

from leap_rl.config import ExperimentConfig
from leap_rl.distributed.protocol import Assignment, Progress


class A2CTask:
    """Trains the assignment's game with A2C from θ⁰, flushing Leap every ``flush_every`` updates."""

    def accumulator(self, cfg: ExperimentConfig):
        """The Leap accumulator of one task (a seam for fault-injection tests)."""
        from leap_rl.run_task import make_accumulator

        return make_accumulator(cfg)

    def __call__(self, assignment: Assignment, init: Mapping[str, torch.Tensor],
                 cfg: ExperimentConfig) -> Iterator[Progress]:
        from leap_rl.run_task import build_learner  # torch + gym: only in the worker

        acc = self.accumulator(cfg)
        learner = build_learner(assignment.game, cfg, seed=assignment.seed, init=init,
                                accumulator=acc, env_threads=cfg.workers.threads)
        try:
            for report in learner.train(assignment.steps, cfg.workers.flush_every):
                yield Progress(
                    gradient={k: v.cpu() for k, v in acc.flush().items()},
                    agent_steps=report.agent_steps,
                    episodes=[(report.agent_steps, r, n) for r, n in report.episodes],
                    stats=acc.stats(),
                    final=learner.agent_steps >= assignment.steps)
        finally:
            learner.close()


def runner_for(cfg: ExperimentConfig):
    """The task runner of ``cfg.inner.backend``: ``A2CTask`` (a2c) or ``RLlibTask`` (rllib)."""
    if cfg.inner.backend == "rllib":
        from leap_rl.rllib import RLlibTask  # imports no RLlib until a task runs

        return RLlibTask()
    return A2CTask()
