"""One evaluation end to end: settings, the runs still to do, outputs (section 4.3, table 6).

:func:`run_evaluation` is what ``leap-rl evaluate`` calls once Ray is up: it records the settings
in the output directory (or checks them against a resumed one, :mod:`store`), trains the runs
the directory does not hold yet — game by game, every method of a seed paired with that seed's
random run (:mod:`runner`) — persisting each as it finishes, then writes TensorBoard, the plots,
summary.json and the table over all of the directory's runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import ray

from leap_rl.config import ExperimentConfig
from leap_rl.evaluation import plots, report, store
from leap_rl.evaluation.methods import (
    Method,
    complete,
    describe,
    from_paths,
    method_configs,
    run_methods,
)
from leap_rl.evaluation.runner import (
    EvaluationError,
    EvaluationRuns,
    RunResult,
    RunSpec,
)


def run_evaluation(inits: Mapping[str, str | Path] | Sequence[Method] | str | Path,
                   games: Sequence[str], cfg: ExperimentConfig, out: str | Path, *,
                   seeds: int = 3, steps: int = 100_000, window: int = 100, resume: bool = False,
                   stream: TextIO | None = None, interval: float = 10.0,
                   first_seed: int | None = None, ci: str = "percentile") -> dict:
    """Trains every game × seed × run-method (each θ⁰ of ``inits`` — {name: encoder.pt}, or
    :class:`Method`s from ``--init`` — and random) on the running Ray instance, skipping the
    runs a resumed ``out`` already holds, and writes curves.csv, evaluation.json, runs/,
    summary.json, plots/ and tensorboard/ into ``out``.

    A bare path is the method ``leap``. Seeds are ``first_seed + i`` for ``i < seeds``
    (``first_seed`` defaults to ``cfg.seed``); every method uses the same seeds. ``ci`` is the
    interval method (percentile or bca). Returns the summary; its ``failed`` lists the runs that
    failed (a resume retries them).
    """
    if not ray.is_initialized():
        raise RuntimeError("run_evaluation needs a running Ray instance (ray.init first)")
    methods = (from_paths(inits) if isinstance(inits, (str, Path, Mapping))
               else complete(inits))
    out = Path(out)
    first = cfg.seed if first_seed is None else first_seed
    settings = store.make_settings(methods, games, [first + i for i in range(seeds)], steps, cfg,
                                   ci)
    resuming = store.check_out(out, settings, resume)
    configs = method_configs(methods, cfg)
    refs, scaled = _inits(methods, cfg, configs)
    names = run_methods(methods)
    specs = [RunSpec(g, m, s, steps) for g in games for s in settings["seeds"]
             for m in names]  # game by game: early games finish first
    order = [(s.game, s.method, s.seed) for s in specs]
    held = store.sync(out, settings, window, order)
    todo = [s for s in specs if held.get((s.game, s.method, s.seed), {}).get("status")
            != "completed"]
    _say(stream, f"evaluating {describe(methods)}: {len(games)} games × {seeds} seeds "
                 f"({settings['seeds'][0]}…{settings['seeds'][-1]}) × {len(names)} methods = "
                 f"{len(specs)} runs of {steps:,} agent steps → {out}")
    if resuming:
        _say(stream, f"resuming: {len(specs) - len(todo)} of {len(specs)} runs already done, "
                     f"{len(todo)} to do")
    evaluation = EvaluationRuns(todo, refs, cfg, window=window, stream=stream, interval=interval,
                                done_before=len(specs) - len(todo), configs=configs,
                                scaled=scaled)

    def on_finish(result: RunResult) -> None:  # at once, so an interruption loses no result
        store.write_record(out, result.record(), result.episodes)
        store.sync(out, settings, window, order)

    evaluation.on_finish = on_finish
    evaluation.run()
    return write_outputs(out, window, stream)


def _inits(methods: Sequence[Method], cfg: ExperimentConfig,
           configs: Mapping[str, ExperimentConfig]) -> tuple[dict, dict]:
    """Each run-method's θ⁰ in the object store (checked against its config), and the
    scale-matched ones' observation shapes."""
    from leap_rl.backends.a2c_task import read_init
    from leap_rl.io.artifacts import load_init

    refs, scaled = {}, {}
    for m in methods:
        for member, path in m.member_paths().items():
            refs[member] = ray.put(read_init(path, configs.get(member, cfg)))
            if m.kind == "scaled":
                scaled[member] = tuple(load_init(path)["observation_shape"])
    return refs, scaled


def write_outputs(out: Path, window: int, stream: TextIO | None = None) -> dict:
    """TensorBoard, plots, summary.json and the table from the directory's completed runs."""
    meta = report.read_metadata(out)
    if not any(r["status"] == "completed" for r in meta["runs"]):
        raise EvaluationError(f"every run failed; see the errors in {out / 'evaluation.json'}")
    runs, _ = report.load_runs(out)
    shutil.rmtree(out / "tensorboard", ignore_errors=True)  # a resume rewrites, not appends
    plots.write_tensorboard(out / "tensorboard", runs, window)
    return report.render(out, stream=stream)


def _say(stream: TextIO | None, message: str) -> None:
    print(message, file=stream, flush=True)
