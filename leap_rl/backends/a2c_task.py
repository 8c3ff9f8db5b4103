"""One A2C task = one game trained from an initialization, with the Leap hook on every step.

``build_learner`` assembles environment, network and learner for a game (used by the A2C
backend, :mod:`leap_rl.backends.a2c`, for meta-training tasks and evaluation runs);
``train_task`` runs one standalone, logging to the console, TensorBoard and JSON-lines, and
writes the task's meta-gradient and path length. ``read_init`` and ``TaskLog`` are shared with
the other backends.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch
import yaml

from leap_rl.agent import A2CLearner, build_actor_critic, encoder_state, load_encoder, reset_heads
from leap_rl.agent.a2c import TrainReport
from leap_rl.config import ExperimentConfig
from leap_rl.core.leap import LeapAccumulator
from leap_rl.envs import is_atari_game, is_minatar_name, make_vector_env
from leap_rl.io.artifacts import ArtifactError, atomic_save, load_init, save_init
from leap_rl.io.provenance import write_provenance


def build_learner(game: str, cfg: ExperimentConfig, *, seed: int,
                  init: Mapping[str, torch.Tensor] | None = None,
                  accumulator: LeapAccumulator | None = None, env_threads: int = 0) -> A2CLearner:
    """Environment, network (encoder ← ``init`` if given, fresh heads) and learner for ``game``.

    ``game`` is an Atari game (preprocessed per ``cfg.env``), a MinAtar game (``MinAtar/<Game>``,
    per ``cfg.env.minatar``) or a plain gymnasium id such as ``CartPole-v1`` (with
    ``inner.encoder: mlp``).
    """
    groups = cfg.inner.env_groups
    # env_threads: the emulator's C++ threads in all (0 = one per core of the machine, which
    # oversubscribes a node shared by several workers), shared out among the groups.
    threads = env_threads if groups == 1 else max(1, (env_threads or os.cpu_count() or 1) // groups)
    env_kwargs = cfg.env.settings_for(game) if is_atari_game(game) or is_minatar_name(game) else {}
    if is_atari_game(game):
        env_kwargs["num_threads"] = threads
    size = cfg.inner.num_envs // groups
    envs = [make_vector_env(game, size, seed=seed + k * size, **env_kwargs) for k in range(groups)]
    torch.manual_seed(seed)  # a random encoder, when no init is given, is seeded too
    model = build_actor_critic(cfg.inner.encoder, envs[0].single_observation_space.shape,
                               int(envs[0].single_action_space.n), layer_norm=cfg.inner.layer_norm)
    if init is not None:
        load_encoder(model, init)
    reset_heads(model, seed)
    return A2CLearner(envs, model, cfg.inner, seed=seed, accumulator=accumulator)


def make_accumulator(cfg: ExperimentConfig) -> LeapAccumulator:
    """The Leap accumulator the config asks for."""
    return LeapAccumulator(metric=cfg.leap.metric, loss_in_manifold=cfg.leap.loss_in_manifold,
                           stabilizer=cfg.leap.stabilizer)


def final_health(model: torch.nn.Module, game: str, cfg: ExperimentConfig) -> dict[str, float]:
    """The τ-dormant shares of a task's final encoder on its own game's health frames (the
    driver's frames of that game: same settings and seed give the same frames), as
    ``final_dormant/<layer>/tau=<τ>`` stats of the task's last chunk; {} when
    ``health.final_encoders`` or ``health.every`` is off."""
    from leap_rl.agent.frames import cached_frames, frame_seed
    from leap_rl.agent.health import dormant_share, layer_scores

    h = cfg.health
    if not (h.final_encoders and h.every > 0):
        return {}
    frames = cached_frames(game, cfg.env.settings_for(game) if is_atari_game(game)
                           or is_minatar_name(game) else {}, h.frames_per_game,
                           frame_seed(cfg.seed, game))
    encoder = model.encoder
    scores = layer_scores(encoder, frames.to(next(encoder.parameters()).device))
    return {f"final_dormant/{layer}/tau={tau:g}": share for tau in h.taus
            for layer, share in dormant_share(scores, tau).items()}


def read_init(path: str | Path, cfg: ExperimentConfig) -> dict[str, torch.Tensor]:
    """θ⁰ from an ``encoder.pt``, checked against the architecture the config builds."""
    record = load_init(path)
    if record["architecture"] != cfg.inner.architecture:
        # "minatar+layer_norm" vs "minatar": θ⁰ has (or lacks) the norm layers' parameters.
        raise ArtifactError(f"{path}: an initialization of a {record['architecture']!r} encoder, "
                            f"but the config builds {cfg.inner.architecture!r} (inner.encoder, "
                            f"inner.layer_norm)")
    shape = tuple(record["observation_shape"])
    if cfg.inner.encoder == "nature2013":
        channels, keys = (1 if cfg.env.grayscale else 3) * cfg.env.frame_stack, \
            "env.grayscale and env.frame_stack"
    elif cfg.inner.encoder == "minatar":
        channels, keys = cfg.env.minatar.channels, "env.minatar.channels"
    else:
        return record["parameters"]
    if shape[0] != channels:
        raise ArtifactError(f"{path}: made for observations {shape}, but the config gives "
                            f"{channels} channels (check {keys})")
    return record["parameters"]


@dataclass
class TaskLog:
    """Console, TensorBoard and JSON-lines output of one task."""

    out: Path
    game: str
    total_steps: int
    stream: TextIO = sys.stdout
    recent: deque = field(default_factory=lambda: deque(maxlen=20))
    episodes: int = 0

    def __post_init__(self) -> None:
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when logging

        self.out.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(str(self.out / "tensorboard"))
        self.jsonl = (self.out / "episodes.jsonl").open("a")

    def report(self, r: TrainReport) -> None:
        """Writes one progress report to every sink."""
        step = r.agent_steps
        for ret, length in r.episodes:
            self.episodes += 1
            self.recent.append(ret)
            self.writer.add_scalar("charts/episodic_return", ret, step)
            self.writer.add_scalar("charts/episodic_length", length, step)
            self.jsonl.write(json.dumps({"agent_steps": step, "return": ret, "length": length}) + "\n")
        self.jsonl.flush()
        for tag, value in (("charts/steps_per_second", r.steps_per_second),
                           ("losses/policy", r.policy_loss), ("losses/value", r.value_loss),
                           ("losses/entropy", r.entropy)):
            self.writer.add_scalar(tag, value, step)
        mean = f"{self.mean_return:8.2f}" if self.recent else "     n/a"
        print(f"[{self.game}] steps {step:>9,}/{self.total_steps:,} "
              f"({100 * step / self.total_steps:3.0f}%)  {r.steps_per_second:7.0f} steps/s  "
              f"return (last {len(self.recent)}) {mean}  episodes {self.episodes}",
              file=self.stream, flush=True)

    @property
    def mean_return(self) -> float | None:
        return sum(self.recent) / len(self.recent) if self.recent else None

    def close(self) -> None:
        self.writer.close()
        self.jsonl.close()


def train_task(game: str, steps: int, cfg: ExperimentConfig, *, out: str | Path, seed: int = 0,
               init_path: str | Path | None = None, leap: bool = True,
               report_every: int = 20, stream: TextIO = sys.stdout) -> dict[str, Any]:
    """Trains one A2C agent on ``game`` for ``steps`` agent steps; returns (and writes) a summary.

    The A2C backend's ``train_task`` (:mod:`leap_rl.backends`; other backends have their own)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    write_provenance(out)
    acc = make_accumulator(cfg) if leap else None
    init = read_init(init_path, cfg) if init_path is not None else None
    learner = build_learner(game, cfg, seed=seed, init=init, accumulator=acc)
    log, start = TaskLog(out, game, steps, stream), time.perf_counter()
    try:
        for report in learner.train(steps, report_every):
            log.report(report)
    finally:
        log.close()
        learner.close()
    summary = {"game": game, "seed": seed, "agent_steps": learner.agent_steps,
               "updates": learner.updates, "episodes": log.episodes,
               "mean_recent_return": log.mean_return, "init": str(init_path) if init_path else None,
               "seconds": time.perf_counter() - start}
    if acc is not None:
        stats = acc.stats()
        gradient = {k: v.cpu() for k, v in acc.flush().items()}
        atomic_save(gradient, out / "meta_gradient.pt")
        norm = sum(float(v.double().square().sum()) for v in gradient.values()) ** 0.5
        summary["leap"] = {**stats, "meta_gradient_norm": norm, "metric": cfg.leap.metric}
    save_init(out / "final_encoder.pt", encoder_state(learner.model),
              architecture=cfg.inner.architecture,
              observation_shape=tuple(learner.envs[0].single_observation_space.shape))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
