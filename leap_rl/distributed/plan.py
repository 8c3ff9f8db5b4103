"""The plan of a meta-training run, as ``leap-rl train --dry-run`` prints it (no Ray needed)."""

from __future__ import annotations

from leap_rl.backends.base import backend_for
from leap_rl.config import ExperimentConfig


def describe_plan(cfg: ExperimentConfig, out: str, address: str | None) -> str:
    """Meta-steps, games per meta-step, workers and their requests, estimated env steps."""
    meta, workers = cfg.meta, cfg.workers
    env_steps = meta.meta_steps * meta.meta_batch_size * meta.steps_per_task
    count = (str(workers.num_workers) if workers.num_workers is not None
             else f"as many as the cluster fits, at most {meta.meta_batch_size}")
    where = address or "an embedded local Ray instance"
    lines = [
        f"run:               {cfg.name} → {out}",
        f"ray:               {where}",
        f"meta-steps:        {meta.meta_steps} (checkpoint every {cfg.run.checkpoint_every}, "
        f"keep {cfg.run.keep_checkpoints})" + (f", asynchronous (max staleness "
                                               f"{meta.max_staleness})"
                                               if meta.mode == "async" else ""),
        f"games per step:    {meta.meta_batch_size} of a pool of {len(meta.pool)}: "
        f"{', '.join(meta.pool)}",
        f"per task:          {meta.steps_per_task:,} agent steps, {cfg.inner.num_envs} envs × "
        f"unroll {cfg.inner.unroll_length}, chunk every {workers.flush_every} updates",
        f"inner learner:     {backend_for(cfg).describe(cfg)}",
        f"workers:           {count}; each requests {workers.num_cpus:g} CPU, "
        f"{workers.num_gpus:g} GPU",
        f"failures:          {workers.failure_policy} (≤ {workers.max_task_retries} retries), "
        f"≥ {workers.min_tasks_per_meta_step} tasks per meta-step, silence limit "
        f"{workers.task_timeout_s:g} s",
        f"leap:              metric {cfg.leap.metric}, loss in manifold "
        f"{cfg.leap.loss_in_manifold}, stabilizer {cfg.leap.stabilizer}; Adam lr "
        f"{meta.learning_rate:g}",
        f"estimated:         {env_steps:,} env steps{_frames(cfg, env_steps)}",
    ]
    return "\n".join(lines + _validation(cfg))


def _validation(cfg: ExperimentConfig) -> list[str]:
    """The validation line, when validation is on: what each costs, and the baseline once."""
    v = cfg.validation
    if not v.enabled:
        return []
    per = len(v.games) * v.seeds * v.steps
    count = cfg.meta.meta_steps // v.every
    return [f"validation:        {', '.join(v.games)}{' (in-pool)' if v.in_pool else ''} × "
            f"{v.seeds} seeds × {v.steps:,} steps after every {v.every} meta-step(s): "
            f"{count} × {per:,} env steps from θ⁰, and {per:,} from a random θ⁰ unless cached"]


def _frames(cfg: ExperimentConfig, env_steps: int) -> str:
    """Emulator frames, for Atari pools (a MinAtar step is one frame: nothing to add)."""
    if cfg.inner.encoder == "minatar":
        return ""
    return f" ({env_steps * cfg.env.frame_skip:,} emulator frames)"

