"""``train-task`` and ``evaluate`` runs on the RLlib backend: the same outputs as the A2C ones.

:func:`train_task` writes what :func:`leap_rl.backends.a2c_task.train_task` writes (config.yaml,
episodes.jsonl, tensorboard/, meta_gradient.pt, final_encoder.pt, summary.json);
:func:`evaluation_run` streams what the A2C backend's evaluation runs stream.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import torch
import yaml

from leap_rl.config import ExperimentConfig
from leap_rl.io.provenance import write_provenance


def _losses(result: Mapping[str, Any]) -> tuple[float, float, float]:
    """(policy loss, value loss, entropy) of the default module in a train() result."""
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.utils.metrics import LEARNER_RESULTS

    module = result.get(LEARNER_RESULTS, {}).get(DEFAULT_MODULE_ID, {})
    return tuple(float(module.get(k, float("nan"))) for k in ("policy_loss", "vf_loss", "entropy"))


def train_task(game: str, steps: int, cfg: ExperimentConfig, *, out: str | Path, seed: int = 0,
               init_path: str | Path | None = None, leap: bool = True,
               report_every: int = 20, stream: TextIO = sys.stdout) -> dict[str, Any]:
    """Trains one agent on ``game`` with RLlib (``rllib.algorithm``); returns (and writes) a
    summary. ``report_every`` counts ``algo.train()`` calls between console lines."""
    from leap_rl.agent.a2c import TrainReport
    from leap_rl.backends.a2c_task import TaskLog, read_init
    from leap_rl.io.artifacts import atomic_save, save_init
    from leap_rl.rllib.build import (
        build_algorithm,
        encoder_state,
        ensure_ray,
        leap_flush,
        leap_total,
    )
    from leap_rl.rllib.env import SIZE
    from leap_rl.rllib.runner import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    write_provenance(out)
    init = read_init(init_path, cfg) if init_path is not None else None
    started_ray = ensure_ray()
    algo = build_algorithm(game, cfg, seed=seed, init=init, leap=leap)
    log, start = TaskLog(out, game, steps, stream), time.perf_counter()
    calls, pending, agent_steps = 0, [], 0
    try:
        for report in train(algo, steps):
            calls += 1
            pending.extend(report.episodes)
            agent_steps = report.agent_steps
            if calls % report_every == 0 or agent_steps >= steps:
                log.report(TrainReport(agent_steps, calls, pending, *_losses(report.result),
                                       steps_per_second=report.steps_per_second))
                pending = []
        summary = {"game": game, "seed": seed, "agent_steps": agent_steps,
                   "updates": leap_total(algo) if leap else None, "train_calls": calls,
                   "episodes": log.episodes, "mean_recent_return": log.mean_return,
                   "init": str(init_path) if init_path else None,
                   "backend": f"rllib/{cfg.rllib.algorithm}",
                   "seconds": time.perf_counter() - start}
        if leap:
            flushed = leap_flush(algo)
            gradient = flushed["gradient"]
            atomic_save(gradient, out / "meta_gradient.pt")
            norm = sum(float(v.double().square().sum()) for v in gradient.values()) ** 0.5
            summary["leap"] = {**flushed["stats"], "meta_gradient_norm": norm,
                               "metric": cfg.leap.metric}
        final = encoder_state(algo)
        c = final["encoder.conv1.weight"].shape[1]
        save_init(out / "final_encoder.pt", final, architecture=cfg.inner.architecture,
                  observation_shape=(c, SIZE, SIZE))
    finally:
        log.close()
        algo.stop()
        if started_ray:
            import ray

            ray.shutdown()
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def evaluation_run(game: str, seed: int, steps: int, init: Mapping[str, torch.Tensor] | None,
                   config: ExperimentConfig, progress_every_s: float) -> Iterator[dict]:
    """An evaluation run on RLlib (encoder ← ``init``, or a fresh seeded one when None),
    streaming what :meth:`leap_rl.backends.Backend.evaluation_run` streams."""
    from leap_rl.backends.contract import stream_episodes
    from leap_rl.rllib.build import build_algorithm
    from leap_rl.rllib.runner import train

    algo = build_algorithm(game, config, seed=seed, leap=False, init=init)
    try:
        yield from stream_episodes(train(algo, steps), progress_every_s)
    finally:
        algo.stop()
