"""``RLlibTask``: one meta-training task on the RLlib backend, streamed as :class:`Progress`.

Same contract as :class:`leap_rl.backends.a2c.A2CTask`: called with (assignment, θ⁰, cfg),
it trains the assignment's game from θ⁰ for ``assignment.steps`` agent steps and yields a
:class:`Progress` — the Leap partial sum since the previous one (CPU tensors), agent steps so far,
the episodes finished meanwhile and the accumulator's cumulative statistics — after the first
``algo.train()`` call that brings at least ``workers.flush_every`` optimizer steps since the previous
chunk, and after the last call (``final``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from leap_rl.backends.contract import Assignment, Progress
from leap_rl.config import ExperimentConfig


@dataclass
class RLlibReport:
    """What one ``algo.train()`` call brought."""

    agent_steps: int                                   # in all, so far
    episodes: list[tuple[float, int]] = field(default_factory=list)  # (return, length)
    updates: int = 0                                   # optimizer steps in all (Leap on)
    steps_per_second: float = 0.0
    leap: dict[str, Any] | None = None                 # a flush, when one was taken
    result: dict[str, Any] = field(default_factory=dict, repr=False)  # what train() returned


def sampled_steps(result: Mapping[str, Any]) -> int:
    """Agent (env) steps sampled so far, from an ``algo.train()`` result."""
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

    value = result.get(ENV_RUNNER_RESULTS, {}).get(NUM_ENV_STEPS_SAMPLED_LIFETIME)
    if value is None:
        value = result.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0)
    return int(value)


def train(algo, steps: int, *, flush_every: int | None = None) -> Iterator[RLlibReport]:
    """Calls ``algo.train()`` until ``steps`` agent steps are sampled, a report per call.

    With ``flush_every`` (Leap on), a report carries a flush once that many optimizer steps are
    pending, and the last report always carries one.
    """
    from leap_rl.rllib.build import leap_flush, leap_pending, leap_total, take_episodes

    agent_steps, last = 0, time.perf_counter()
    while agent_steps < steps:
        before = agent_steps
        result = algo.train()
        agent_steps = sampled_steps(result)
        now = time.perf_counter()
        report = RLlibReport(agent_steps, take_episodes(algo),
                             steps_per_second=(agent_steps - before) / max(now - last, 1e-9),
                             result=result)
        last = now
        if flush_every is not None:
            if agent_steps >= steps or leap_pending(algo) >= flush_every:
                report.leap = leap_flush(algo)
            report.updates = leap_total(algo)
        yield report


class RLlibTask:
    """Trains the assignment's game with RLlib (``rllib.algorithm``) from θ⁰, streaming Leap."""

    def __call__(self, assignment: Assignment, init: Mapping[str, torch.Tensor],
                 cfg: ExperimentConfig) -> Iterator[Progress]:
        from leap_rl.rllib.build import build_algorithm  # RLlib: only in the worker

        algo = build_algorithm(assignment.game, cfg, seed=assignment.seed, init=init, leap=True)
        try:
            pending: list[tuple[int, float, int]] = []
            for report in train(algo, assignment.steps, flush_every=cfg.workers.flush_every):
                pending.extend((report.agent_steps, r, n) for r, n in report.episodes)
                if report.leap is None:
                    continue
                # IMPALA/APPO update on a thread: a flush may find no step yet — a zero sum.
                gradient = report.leap["gradient"] or {k: torch.zeros_like(v)
                                                       for k, v in init.items()}
                yield Progress(gradient=gradient, agent_steps=report.agent_steps,
                               episodes=pending, stats=report.leap["stats"],
                               final=report.agent_steps >= assignment.steps)
                pending = []
        finally:
            algo.stop()
