"""``leap-rl train CONFIG --dry-run --calibrate``: a short real inner loop of each pool game
(Leap on, on this machine's device as ``inner.device`` resolves it), then the run's projection
(:mod:`leap_rl.distributed.projection`). What is measured: agent steps/s per game over the
updates after the first (the first carries one-off set-up) and the start-up time of a task
(environments and network built). Other devices, and other loads on this one, differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from leap_rl.agent.a2c import resolve_device
from leap_rl.backends.a2c_task import build_learner, make_accumulator
from leap_rl.config import ConfigError, ExperimentConfig
from leap_rl.distributed.driver import sample_games
from leap_rl.distributed.projection import Projection, devices_per_worker, project
from leap_rl.envs.minatar import MinAtarNotInstalledError

SAMPLED_BATCHES = 200  # meta-steps whose batches stand for the run's (all of a shorter run)


@dataclass
class Measurement:
    game: str
    agent_steps_per_s: float
    startup_s: float


def measure_game(game: str, cfg: ExperimentConfig, updates: int) -> Measurement:
    """``updates`` + 1 A2C updates of ``game`` with Leap's accumulator on; the rate excludes the
    first update."""
    start = time.perf_counter()
    try:
        learner = build_learner(game, cfg, seed=cfg.seed, accumulator=make_accumulator(cfg))
    except MinAtarNotInstalledError as err:
        raise ConfigError("--calibrate", [str(err)]) from None
    startup = time.perf_counter() - start
    try:
        learner.update()
        steps, since = learner.agent_steps, time.perf_counter()
        for _ in range(updates):
            learner.update()
        rate = (learner.agent_steps - steps) / max(time.perf_counter() - since, 1e-9)
    finally:
        learner.close()
    return Measurement(game, rate, startup)


def calibrate(cfg: ExperimentConfig, *, updates: int = 20, workers: int | None = None,
              price: float | None = None) -> tuple[list[Measurement], Projection, int]:
    """Measures every game of the pool (and the validation games), then projects the run with
    ``workers`` (default: ``workers.num_workers``, else the meta-batch size)."""
    games = list(dict.fromkeys([*cfg.meta.pool, *cfg.validation.games]))
    found = [measure_game(g, cfg, updates) for g in games]
    n = workers or cfg.workers.num_workers or cfg.meta.meta_batch_size
    batches = [sample_games(cfg, m) for m in range(min(cfg.meta.meta_steps, SAMPLED_BATCHES))]
    v = cfg.validation
    projection = project(
        {m.game: m.agent_steps_per_s for m in found}, {m.game: m.startup_s for m in found},
        batches, steps_per_task=cfg.meta.steps_per_task, meta_steps=cfg.meta.meta_steps,
        workers=n, mode=cfg.meta.mode, validation=v.games, validation_seeds=v.seeds,
        validation_steps=v.steps, validation_every=v.every,
        devices_per_worker=devices_per_worker(cfg.workers.num_gpus),
        price_per_device_hour=price)
    return found, projection, n


def device_name(cfg: ExperimentConfig) -> str:
    """What measured: the torch device and, for a GPU, its name."""
    import torch

    device = resolve_device(cfg.inner.device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def as_json(found: list[Measurement], p: Projection, workers: int, device: str) -> dict:
    return {"device": device, "workers": workers,
            "per_game": {m.game: m.agent_steps_per_s for m in found},
            "startup_s": {m.game: m.startup_s for m in found},
            "task_s": p.task_s, "meta_step_s": p.meta_step_s, "validation_s": p.validation_s,
            "wall_hours": p.wall_hours, "device_hours": p.device_hours, "cost": p.cost}


def describe(found: list[Measurement], p: Projection, workers: int, device: str) -> str:
    """The small table ``--calibrate`` prints."""
    lines = [f"calibration on {device} (other devices, and other loads, differ):",
             f"  {'game':<24} {'agent steps/s':>14} {'start-up s':>11} {'s per task':>11}"]
    lines += [f"  {m.game:<24} {m.agent_steps_per_s:>14,.0f} {m.startup_s:>11.2f} "
              f"{p.task_s[m.game]:>11,.0f}" for m in found]
    cost = "" if p.cost is None else f", cost {p.cost:,.2f} at the given price"
    lines += [f"projection with {workers} workers: {p.meta_step_s:,.0f} s per meta-step"
              + (f", {p.validation_s:,.0f} s per validation" if p.validation_s else ""),
              f"  total {p.wall_hours:,.2f} h wall, {p.device_hours:,.2f} device-hours{cost}"]
    return "\n".join(lines)
