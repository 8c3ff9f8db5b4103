"""Task runners: what a worker does with one assignment, as a generator of :class:`Progress`.

``A2CTask`` is the paper's inner learner on a real Atari game. ``StandInTask`` is a named
stand-in for tests and benchmarks whose point is exact arithmetic or timing (resume equality,
chunk counting, scaling): it produces seeded, known partial sums at a controlled pace.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class StandInTask:
    """A stand-in task: ``chunks`` seeded partial sums, one every ``seconds_per_chunk``.

    Chunk s of a task is θ⁰-dependent noise, ``0.01·θ⁰ + N(0, 1)`` seeded by (seed, s), so the
    result of a meta-step depends on θ⁰, the games drawn and every chunk counted, exactly once.
    ``compute_per_chunk`` matrix products of size 256 stand in for fixed work per step.
    Fault injection: the chunks numbered in ``blank_chunks`` carry ``blank_value`` everywhere
    (NaN to test non-finite handling, 0.0 for the reference it must equal), and ``leak_mb``
    megabytes are allocated, touched and kept per chunk (for the out-of-memory killer).
    """

    chunks: int = 4
    seconds_per_chunk: float = 0.0
    compute_per_chunk: int = 0
    blank_chunks: tuple[int, ...] = ()
    blank_value: float = float("nan")
    leak_mb: int = 0

    def __call__(self, assignment: Assignment, init: Mapping[str, torch.Tensor],
                 cfg: ExperimentConfig) -> Iterator[Progress]:
        steps_per_chunk, leaked = max(1, assignment.steps // self.chunks), []
        for s in range(self.chunks):
            time.sleep(self.seconds_per_chunk)
            _burn(self.compute_per_chunk)
            if self.leak_mb:
                leaked.append(torch.ones(self.leak_mb * 2 ** 18))  # float32: 4 bytes each
            gen = torch.Generator().manual_seed(assignment.seed * 10_007 + s)
            gradient = {k: 0.01 * v + torch.randn(v.shape, generator=gen, dtype=v.dtype)
                        for k, v in init.items()}
            if s in self.blank_chunks:
                gradient = {k: torch.full_like(g, self.blank_value) for k, g in gradient.items()}
            yield Progress(gradient=gradient, agent_steps=(s + 1) * steps_per_chunk,
                           episodes=[((s + 1) * steps_per_chunk, float(s), 10)],
                           stats={"d1": float(s + 1), "d2": float(s + 1), "segments": s + 1,
                                  "skipped_segments": 0},
                           final=s == self.chunks - 1)


def _burn(matmuls: int) -> None:
    """Fixed CPU work: ``matmuls`` products of two 256×256 matrices."""
    if matmuls:
        a = torch.ones(256, 256)
        for _ in range(matmuls):
            a = (a @ a).clamp_(max=1.0)
