"""How long and how much a meta-training run takes, from measured per-game speeds (pure).

A task of game g costs ``startup_s + steps_per_task / rate[g]`` seconds on one worker. A
synchronous meta-step waits for its batch (algorithm 1 of the paper): its tasks are packed onto the
workers longest first and the meta-step lasts as long as the fullest worker (with at least as many
workers as tasks, the slowest game of the batch). An asynchronous run keeps every worker busy, so
its bound is throughput: the batch's task-seconds divided by the workers. Validation (when
configured) adds its runs after every ``every``-th meta-step, spread over the workers the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Projection:
    """Seconds per task per game, per meta-step, and the run's total wall, device-hours, cost."""

    task_s: dict[str, float]
    meta_step_s: float
    validation_s: float
    wall_s: float
    devices: float
    price_per_device_hour: float | None

    @property
    def wall_hours(self) -> float:
        return self.wall_s / 3600.0

    @property
    def device_hours(self) -> float:
        return self.wall_hours * self.devices

    @property
    def cost(self) -> float | None:
        p = self.price_per_device_hour
        return None if p is None else self.device_hours * p


def task_seconds(rate: float, startup_s: float, steps: int) -> float:
    """One task: start-up plus ``steps`` agent steps at ``rate`` agent steps/s."""
    return startup_s + steps / rate


def packed_seconds(tasks: Sequence[float], workers: int) -> float:
    """Wall time of ``tasks`` (seconds each) on ``workers``, longest first onto the least
    loaded worker (LPT); with ``workers ≥ len(tasks)`` the longest task."""
    loads = [0.0] * max(1, min(workers, len(tasks)))
    for seconds in sorted(tasks, reverse=True):
        loads[loads.index(min(loads))] += seconds
    return max(loads) if tasks else 0.0


def project(rates: Mapping[str, float], startup_s: Mapping[str, float],
            batches: Sequence[Sequence[str]], *, steps_per_task: int, meta_steps: int,
            workers: int, mode: str = "sync", validation: Sequence[str] = (),
            validation_seeds: int = 0, validation_steps: int = 0, validation_every: int = 1,
            devices_per_worker: float = 1.0,
            price_per_device_hour: float | None = None) -> Projection:
    """The run's projection; ``batches`` are the games of sampled meta-steps (as the run samples
    them), whose mean meta-step stands for every meta-step."""
    task_s = {g: task_seconds(rates[g], startup_s[g], steps_per_task) for g in rates}
    if mode == "async":
        per_batch = [sum(task_s[g] for g in b) / workers for b in batches]
    else:
        per_batch = [packed_seconds([task_s[g] for g in b], workers) for b in batches]
    meta_step_s = sum(per_batch) / len(per_batch)
    runs = [task_seconds(rates[g], startup_s[g], validation_steps)
            for g in validation for _ in range(validation_seeds)]
    validation_s = packed_seconds(runs, workers) if runs else 0.0
    validations = meta_steps // validation_every if runs else 0
    wall = meta_steps * meta_step_s + validations * validation_s
    devices = workers * devices_per_worker
    return Projection(task_s, meta_step_s, validation_s, wall, devices, price_per_device_hour)


def devices_per_worker(num_gpus: float) -> float:
    """What a worker occupies of a device: its GPU share, or one CPU worker slot on a CPU run."""
    return num_gpus if num_gpus > 0 else 1.0

