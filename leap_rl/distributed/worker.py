"""The Ray worker actor: a thin shell that runs task runners and tags what they stream."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import ray
import torch

from leap_rl.config import ExperimentConfig
from leap_rl.distributed.protocol import Assignment, Chunk
from leap_rl.validation import runs


class TaskWorker:
    """Runs one task at a time; ``run`` is a streaming generator of :class:`Chunk`."""

    def __init__(self, cfg: dict, runner) -> None:
        self.cfg = ExperimentConfig.model_validate(cfg)
        self.runner = runner
        # Env threads and torch threads share the worker's cores; oversubscription is costly.
        torch.set_num_threads(self.cfg.workers.threads)
        self.node_id = ray.get_runtime_context().get_node_id()

    def where(self) -> tuple[str, int]:
        """(node id, pid) of this worker."""
        return self.node_id, os.getpid()

    def run(self, assignment: Assignment, init: Mapping[str, torch.Tensor]) -> Iterator[Chunk]:
        """Trains the assigned task, yielding every partial meta-gradient as soon as it exists."""
        for seq, progress in enumerate(self.runner(assignment, init, self.cfg)):
            yield Chunk(meta_step=assignment.meta_step, task=assignment.task, seq=seq,
                        attempt=assignment.attempt, progress=progress, node_id=self.node_id,
                        pid=os.getpid())

    def validate(self, run: runs.ValidationRun, init: Mapping[str, torch.Tensor] | None,
                 cfg: dict) -> Iterator[dict]:
        """One meta-validation run (:mod:`leap_rl.validation.runs`) with ``cfg`` (the run's
        config, or the random-θ⁰ baseline's), streaming its episodes. A task runner with a
        ``validation_run`` of its own (a test's stand-in, :mod:`leap_rl.testing`) runs it
        instead of the backend."""
        train = getattr(self.runner, "validation_run", None) or runs.train
        yield from train(run, init, ExperimentConfig.model_validate(cfg))


def start_worker(cfg: ExperimentConfig, runner):
    """A new worker actor with the config's CPU/GPU request (never restarted by Ray itself:
    the driver replaces dead workers and decides what happens to their tasks)."""
    actor_cls = ray.remote(TaskWorker)
    # Passive OpenMP waits: spinning torch threads would take the cores from the emulator's
    # threads between ops (bench/inner_throughput.py: +15-20% agent steps/s on 2 cores).
    return actor_cls.options(num_cpus=cfg.workers.num_cpus, num_gpus=cfg.workers.num_gpus,
                             max_restarts=0, max_task_retries=0,
                             runtime_env={"env_vars": {"OMP_WAIT_POLICY": "PASSIVE"}}).remote(
        cfg.model_dump(mode="json"), runner)
