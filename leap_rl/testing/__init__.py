"""Test doubles, for tests and benchmarks only: production code must not import this module.

``StandInValidation`` stands in for a meta-validation run (set as ``StandInTask(validation=…)``):
its θ⁰ runs score by the trial's meta learning rate and game, so that a sweep's arms differ by
construction (ASHA's tests).
``StandInTask`` is a named stand-in task runner for tests and benchmarks whose point is exact
arithmetic or timing (resume equality, chunk counting, scaling): it produces seeded, known
partial sums at a controlled pace, and carries fault knobs (``blank_chunks``, ``leak_mb``) for
the reliability tests. ``burn_cpu`` is the fixed CPU work it does per chunk.
``RecordingAccumulator`` is the real Leap accumulator plus checks of what the A2C learner
hands it (one observation per optimizer step, taken before the step). ``expected_async_sums``
recomputes what an asynchronous run of a stand-in must have applied.
tests/unit/test_testing_module.py fails if a non-testing module of leap_rl imports this one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch

from leap_rl.backends.contract import Assignment, Progress
from leap_rl.config import ExperimentConfig
from leap_rl.core.leap import LeapAccumulator


@dataclass(frozen=True)
class StandInValidation:
    """A stand-in meta-validation run: ``episodes`` returns N(0, 1) seeded by the run's seed,
    spread evenly over its steps; θ⁰'s runs (not the random baseline's) add
    ``per_learning_rate`` × the config's ``meta.learning_rate`` and the game's entry of
    ``per_game`` ((game, offset) pairs). So an arm's ``validation/gain`` is set by its meta
    learning rate, and a game's scale by its offset (:mod:`leap_rl.validation.metric`)."""

    per_learning_rate: float = 0.0
    per_game: tuple[tuple[str, float], ...] = ()
    episodes: int = 10

    def __call__(self, run, init: Mapping[str, torch.Tensor] | None,
                 cfg: ExperimentConfig) -> Iterator[dict]:
        gen = torch.Generator().manual_seed(run.seed)
        returns = torch.randn(self.episodes, generator=gen, dtype=torch.float64).tolist()
        shift = 0.0 if run.random else (self.per_learning_rate * cfg.meta.learning_rate
                                        + dict(self.per_game).get(run.game, 0.0))
        steps = [run.steps * (i + 1) // self.episodes for i in range(self.episodes)]
        episodes = [(s, r + shift) for s, r in zip(steps, returns)]
        yield {"agent_steps": run.steps, "episodes": episodes, "done": True, "seconds": 0.0}


@dataclass(frozen=True)
class StandInTask:
    """A stand-in task: ``chunks`` seeded partial sums, one every ``seconds_per_chunk``.

    Chunk s of a task is θ⁰-dependent noise, ``0.01·θ⁰ + N(0, 1)`` seeded by (seed, s), so the
    result of a meta-step depends on θ⁰, the games drawn and every chunk counted, exactly once.
    ``compute_per_chunk`` matrix products of size 256 stand in for fixed work per step.
    Fault injection: the chunks numbered in ``blank_chunks`` carry ``blank_value`` everywhere
    (NaN to test non-finite handling, 0.0 for the reference it must equal), and ``leak_mb``
    megabytes are allocated, touched and kept per chunk (for the out-of-memory killer).
    ``agent_steps_per_second`` ((game, speed) pairs) paces the listed games by their steps
    instead: a chunk of s agent steps takes s ÷ speed seconds (games that emulate at unequal
    speeds, for scheduling benchmarks).
    """

    chunks: int = 4
    seconds_per_chunk: float = 0.0
    compute_per_chunk: int = 0
    blank_chunks: tuple[int, ...] = ()
    blank_value: float = float("nan")
    leak_mb: int = 0
    agent_steps_per_second: tuple[tuple[str, float], ...] = ()
    validation: StandInValidation | None = None

    @property
    def validation_run(self) -> StandInValidation | None:
        """The worker's meta-validation run (:class:`leap_rl.distributed.worker.TaskWorker`):
        the stand-in's where set, else None (the backend's real run)."""
        return self.validation

    def __call__(self, assignment: Assignment, init: Mapping[str, torch.Tensor],
                 cfg: ExperimentConfig) -> Iterator[Progress]:
        steps_per_chunk, leaked = max(1, assignment.steps // self.chunks), []
        speed = dict(self.agent_steps_per_second).get(assignment.game)
        pause = steps_per_chunk / speed if speed else self.seconds_per_chunk
        for s in range(self.chunks):
            time.sleep(pause)
            burn_cpu(self.compute_per_chunk)
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


def expected_async_sums(runner: Callable, cfg: ExperimentConfig, rows: list[dict],
                        versions: list[Mapping[str, torch.Tensor]]) -> dict[int, dict]:
    """Σ_τ Gτ per meta-step of an asynchronous run of ``runner`` (a stand-in without sleeps),
    recomputed from its tasks.jsonl ``rows`` and θ⁰ at each version (``versions[v]``: θ⁰ after
    v meta-steps): each contributing task's first ``chunks_received`` chunks of its counted
    attempt, from the θ⁰ it started from, summed in the driver's order. What the driver applied
    equals this if it counted exactly the chunks that arrived, each once."""
    sums: dict[int, dict] = {}
    for row in sorted(rows, key=lambda r: (r["meta_step"], r["task"])):
        if row["status"] not in ("completed", "partial") or not row["chunks_received"]:
            continue
        a = Assignment(row["started_from"], row["task"], row["game"], row["seed"],
                       row["budget"], row["attempts"] - 1)
        task: dict[str, torch.Tensor] = {}
        for p in itertools.islice(runner(a, versions[row["started_from"]], cfg),
                                  row["chunks_received"]):
            for k, g in p.gradient.items():
                task[k] = g.clone() if k not in task else task[k].add_(g)
        total = sums.setdefault(row["meta_step"], {})
        for k, g in task.items():
            total[k] = g.clone() if k not in total else total[k].add_(g)
    return sums


def burn_cpu(matmuls: int) -> None:
    """Fixed CPU work: ``matmuls`` products of two 256×256 matrices."""
    if matmuls:
        a = torch.ones(256, 256)
        for _ in range(matmuls):
            a = (a @ a).clamp_(max=1.0)


class RecordingAccumulator(LeapAccumulator):
    """The real accumulator, plus a check of every observation against the live model.

    The parameters observed are views of the model's own: they are cloned when observed and
    compared with the model's parameters as the optimizer is about to step (θⁱ, which a
    comparison of the views with the live tensors, one storage, could not tell from θⁱ⁺¹).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.calls = 0
        self.steps = 0
        self.seen_params: list[dict[str, torch.Tensor]] = []
        self.losses: list[torch.Tensor] = []

    def attach(self, learner) -> None:
        """Check each optimizer step of ``learner`` against the observation before it."""
        live = dict(learner.model.named_parameters())

        def before_step(*_) -> None:
            self.steps += 1
            assert self.calls == self.steps  # one observe per step, before it
            for name, seen in self.seen_params[-1].items():
                assert torch.equal(seen, live[name].detach()), name

        learner.optimizer.register_step_pre_hook(before_step)

    def observe(self, loss, params, grads) -> None:
        self.calls += 1
        self.seen_params.append({n: t.detach().clone() for n, t in params.items()})
        self.losses.append(loss.detach().clone())
        super().observe(loss, params, grads)
