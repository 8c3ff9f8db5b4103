"""What a trial reserves on the cluster: one placement group, an empty head bundle for the
trial's driver and one bundle per worker (``workers.num_cpus``/``num_gpus`` each); a train-task
trial runs in its head bundle alone. A trial that no cluster of this size could ever place is
refused before any trial runs."""

from __future__ import annotations

from collections.abc import Mapping

from leap_rl.sweep.spec import SweepError
from leap_rl.sweep.trials import Trial


def bundles(trial: Trial) -> list[dict[str, float]]:
    """The trial's placement group: ``[{}] + [worker] * n`` (n = workers.num_workers, or the
    meta-batch where it is null: the run sizes its pool from the group it finds itself in)."""
    workers = trial.cfg.workers
    one = {k: v for k, v in (("CPU", workers.num_cpus), ("GPU", workers.num_gpus)) if v > 0}
    if trial.task:
        return [one or {"CPU": 1.0}]
    count = workers.num_workers or trial.cfg.meta.meta_batch_size
    return [{}] + [one or {"CPU": 0.01}] * count


def check_fits(trials: list[Trial], cluster: Mapping[str, float]) -> None:
    """Raises :class:`SweepError` naming every trial whose group needs more than ``cluster``
    (``ray.cluster_resources()``) has in all, with the numbers."""
    problems = []
    for trial in trials:
        need: dict[str, float] = {}
        for bundle in bundles(trial):
            for key, value in bundle.items():
                need[key] = need.get(key, 0.0) + value
        short = {k: v for k, v in need.items() if v > cluster.get(k, 0.0) + 1e-9}
        if short:
            text = ", ".join(f"{v:g} {k} (the cluster has {cluster.get(k, 0.0):g})"
                             for k, v in short.items())
            problems.append(f"trial {trial.name} needs {text}: lower workers.num_workers or "
                            "workers.num_cpus/num_gpus, or use a bigger cluster")
    if problems:
        raise SweepError("cluster", problems)
