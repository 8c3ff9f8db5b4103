"""Joint pretraining as a run: trains :class:`leap_rl.baselines.joint.JointPretrainer` on the
config's pool and writes, under its output directory, ``init/encoder.pt`` (loadable by
``train-task --init`` and ``evaluate --init``), ``summary.json``, ``config.yaml``,
``tensorboard/`` (``joint/<game>/episodic_return``, ...) and ``checkpoint.pt`` (everything
needed to continue: written atomically every few minutes, when asked to stop and at the end; a
resume continues from it). ``leap-rl pretrain-joint`` (:mod:`leap_rl.cli.pretrain_joint`) runs it.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import yaml

from leap_rl.config import ExperimentConfig
from leap_rl.io.artifacts import ArtifactError, atomic_save, verified_load
from leap_rl.io.provenance import write_provenance

CHECKPOINT = "checkpoint.pt"


def default_steps_per_game(cfg: ExperimentConfig) -> int:
    meta = cfg.meta
    return math.ceil(meta.meta_steps * meta.meta_batch_size * meta.steps_per_task / len(meta.pool))


def _settings(cfg: ExperimentConfig, seed: int) -> dict:
    """What the training depends on (a resume must match it)."""
    inner = cfg.inner.model_dump(mode="json", exclude={"device", "backend"})
    return {"seed": seed, "pool": list(cfg.meta.pool), "env": cfg.env.model_dump(mode="json"),
            "inner": inner}


def _read_checkpoint(out: Path, settings: dict, resume: bool) -> dict | None:
    path = out / CHECKPOINT
    if not path.exists():
        return None
    if not resume:
        raise ArtifactError(f"{out} already holds a joint pretraining run ({CHECKPOINT}); add "
                            "--resume to continue it, or choose another --out")
    try:
        checkpoint = verified_load(path)
    except Exception as err:  # zipfile and torch raise many types for a damaged file
        raise ArtifactError(f"{path}: unreadable checkpoint ({err})") from None
    held = checkpoint.get("settings", {})
    problems = [f"{k}: {held.get(k)} in the checkpoint, {v} now"
                for k, v in settings.items() if held.get(k) != v]
    if problems:
        raise ArtifactError(f"cannot resume {out}: its settings differ from this command's:\n"
                            + "\n".join(f"  - {p}" for p in problems))
    return checkpoint


def run_joint(cfg: ExperimentConfig, out: str | Path, *, steps_per_game: int, seed: int,
              resume: bool = False, report_every: int = 100, checkpoint_seconds: float = 300.0,
              should_stop: Callable[[], bool] = lambda: False,
              stream: TextIO = sys.stdout) -> dict[str, Any]:
    """Trains until ``steps_per_game`` (or ``should_stop()``); writes every output; the summary."""
    out, settings = Path(out), _settings(cfg, seed)
    checkpoint = _read_checkpoint(out, settings, resume)
    from torch.utils.tensorboard import SummaryWriter  # heavy imports: input is valid now

    from leap_rl.baselines.joint import JointPretrainer

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    write_provenance(out)
    trainer, seconds = JointPretrainer(cfg, seed), 0.0
    if checkpoint is not None:
        trainer.load_state_dict(checkpoint["trainer"])
        seconds = checkpoint["seconds"]
        print(f"resuming at {trainer.steps_per_game:,} steps per game", file=stream)
    writer = SummaryWriter(str(out / "tensorboard"), purge_step=trainer.steps_per_game or None)
    start = saved = time.perf_counter()
    progress = _Progress(trainer, writer, steps_per_game, stream)
    try:
        while trainer.steps_per_game < steps_per_game and not should_stop():
            trainer.update()
            if trainer.updates % report_every == 0:
                progress.report()
            if time.perf_counter() - saved >= checkpoint_seconds:
                _save_checkpoint(out, trainer, settings, seconds + time.perf_counter() - start)
                saved = time.perf_counter()
        progress.report()
        seconds += time.perf_counter() - start
        _save_checkpoint(out, trainer, settings, seconds)
        return _finish(out, cfg, trainer, seconds, steps_per_game, seed)
    finally:
        writer.close()
        trainer.close()


def _save_checkpoint(out: Path, trainer, settings: dict, seconds: float) -> None:
    atomic_save({"settings": settings, "seconds": seconds, "trainer": trainer.state_dict()},
                out / CHECKPOINT)


class _Progress:
    """Console lines and TensorBoard scalars since the previous report."""

    def __init__(self, trainer, writer, total: int, stream: TextIO) -> None:
        self.trainer, self.writer, self.total, self.stream = trainer, writer, total, stream
        self.since_steps, self.since_time = trainer.steps_per_game, time.perf_counter()

    def report(self) -> None:
        t, step = self.trainer, self.trainer.steps_per_game
        if step == self.since_steps:
            return
        rate = (step - self.since_steps) / max(time.perf_counter() - self.since_time, 1e-9)
        for game, (policy, value, entropy) in zip(t.games, t.pop_metrics().tolist()):
            for ret, length in game.finished:
                self.writer.add_scalar(f"joint/{game.name}/episodic_return", ret, step)
                self.writer.add_scalar(f"joint/{game.name}/episodic_length", length, step)
            game.finished.clear()
            for tag, v in (("policy_loss", policy), ("value_loss", value), ("entropy", entropy)):
                self.writer.add_scalar(f"joint/{game.name}/{tag}", v, step)
        self.writer.add_scalar("joint/steps_per_second", rate * len(t.games), step)
        eta = int(max(self.total - step, 0) / rate)
        returns = "  ".join(f"{g.name.split('/')[-1]} {_mean(g.recent)}" for g in t.games)
        print(f"[joint] steps/game {step:>10,}/{self.total:,} ({100 * step / self.total:3.0f}%)  "
              f"{rate * len(t.games):7.0f} steps/s  ETA {eta // 3600}:{eta // 60 % 60:02d}:"
              f"{eta % 60:02d}  return (last {t.games[0].recent.maxlen}): {returns}",
              file=self.stream, flush=True)
        self.since_steps, self.since_time = step, time.perf_counter()


def _mean(values) -> str:
    return f"{sum(values) / len(values):.2f}" if values else "n/a"


def _finish(out: Path, cfg: ExperimentConfig, trainer, seconds: float, target: int,
            seed: int) -> dict[str, Any]:
    """Writes init/encoder.pt and summary.json; returns the summary."""
    from leap_rl.agent import encoder_state
    from leap_rl.io.artifacts import save_init

    games = trainer.games
    summary = {"method": "joint", "games": [g.name for g in games], "seed": seed,
               "steps_per_game": trainer.steps_per_game, "target_steps_per_game": target,
               "updates": trainer.updates, "seconds": seconds,
               "steps_per_second_all_games":
                   len(games) * trainer.steps_per_game / max(seconds, 1e-9),
               "final_mean_return": {g.name: (sum(g.recent) / len(g.recent) if g.recent else None)
                                     for g in games},
               "init": str(out / "init" / "encoder.pt")}
    if trainer.steps_per_game >= target:
        save_init(out / "init" / "encoder.pt", encoder_state(games[0].model),
                  architecture=cfg.inner.architecture, observation_shape=trainer.observation_shape,
                  extra={k: summary[k] for k in ("method", "games", "seed", "steps_per_game")})
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
