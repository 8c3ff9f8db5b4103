"""What a meta-training run leaves behind and shows: tasks.jsonl, TensorBoard, console lines.

Every TensorBoard scalar of a run is logged against one step that only grows over the whole run,
resumes included: the run's cumulative agent steps. A meta-step's scalars sit at the sum of the
steps of all tasks of all meta-steps up to it. The tags, grouped by question (objective/, games/,
workers/, failures/, init/, validation/), are :mod:`leap_rl.distributed.tags`'s, listed in
docs/tensorboard.md; the custom-scalars layout and the hparams are written once per writer.

Scalars go to every :class:`ScalarSink` of the run: TensorBoard always, Weights & Biases with
``--track`` (:mod:`leap_rl.io.tracking`), each given the same (tags, values, step). A run directory
in a bucket (``s3://…``) gets its TensorBoard events through a local mirror that is uploaded at
each meta-step's end (:class:`leap_rl.io.storage.Mirror`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import yaml

from leap_rl.config import ExperimentConfig
from leap_rl.distributed.aggregator import MetaStepAggregator, TaskTally, gradient_norm
from leap_rl.distributed.board import layout, write_hparams
from leap_rl.distributed.metastep import TaskRecord
from leap_rl.distributed.protocol import Chunk
from leap_rl.distributed.tags import Objective, failure_scalars, game_scalars, worker_scalars
from leap_rl.distributed.taskcurves import TaskCurves
from leap_rl.io.provenance import write_provenance
from leap_rl.io.storage import Mirror, RunPath, append_text, location


class ScalarSink(Protocol):
    """Somewhere a run's scalars go: the same tags, values and step axis for every sink."""

    def scalars(self, values: Mapping[str, float], step: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class TensorBoardSink:
    """TensorBoard events in ``directory`` (a local mirror of it, uploaded at each flush, where
    ``directory`` is a URI: SummaryWriter appends to files, which object stores cannot)."""

    def __init__(self, directory: RunPath, purge_step: int, cfg: ExperimentConfig) -> None:
        """Writes the custom-scalars layout and the hparams (:mod:`leap_rl.distributed.board`)
        and the config as text once per writer (a resume's writer too: TensorBoard keeps the
        last)."""
        from torch.utils.tensorboard import SummaryWriter

        self.mirror = Mirror(directory)
        self.writer = SummaryWriter(str(self.mirror.local), purge_step=purge_step)
        self.writer.add_custom_scalars(layout(cfg))
        write_hparams(self.writer.file_writer, cfg)
        config = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
        self.writer.add_text("config", "```\n" + config + "```")

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def histograms(self, values: Mapping[str, Any], step: int) -> None:
        """Histograms of tensors (θ⁰ per parameter, :mod:`leap_rl.distributed.care`)."""
        for tag, value in values.items():
            self.writer.add_histogram(tag, value, step)

    def flush(self) -> None:
        self.writer.flush()
        self.mirror.sync()

    def close(self) -> None:
        self.writer.close()
        self.mirror.close()


class RunLog:
    """Writes the run directory's logs; prints progress at most every ``interval`` seconds."""

    def __init__(self, out: RunPath, cfg: ExperimentConfig, stream: TextIO = sys.stdout,
                 interval: float = 10.0, resume_after: int = 0, step_after: int = 0,
                 sinks: Sequence[ScalarSink] = (), reference: Mapping | None = None) -> None:
        """``resume_after``: meta-steps already done, ``step_after``: the run's step after them;
        records of later ones (written before a crash, then redone) are dropped from tasks.jsonl
        and TensorBoard. ``sinks``: where scalars go besides TensorBoard. ``reference``: the
        checkpoint's ``objective/`` references (:class:`leap_rl.distributed.tags.Objective`)."""
        self.out, self.cfg, self.stream, self.interval = out, cfg, stream, interval
        out.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
        (out / "config.yaml").write_text(config)
        # With config.yaml, not before Ray starts: a start that fails leaves nothing behind
        # (an --out holding only provenance.json would refuse the retry).
        write_provenance(out)  # the code and libraries of this start (a resume: the newest)
        # Always purged: whatever lies past the restored step (a fresh run has nothing there)
        # is from meta-steps this run does again.
        self.sinks = [TensorBoardSink(out / "tensorboard", step_after + 1, cfg), *sinks]
        self.step = step_after  # the run's step axis at the end of the last meta-step
        self.objective = Objective(reference)
        self.curves = (TaskCurves(self.sinks[0].mirror.local) if cfg.run.task_curves
                       else None)  # per-task runs, off by default
        _keep_task_rows_before(out / "tasks.jsonl", resume_after)
        self._last_print = 0.0
        self._progress: dict[int, tuple[str, int, int]] = {}

    def say(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def chunk(self, meta_step: int, game: str, steps: int, chunk: Chunk, verdict: str) -> None:
        """A throttled status line of the running tasks (their curves are summarized per
        meta-step under games/, never joined into one curve across agents; with
        ``run.task_curves`` each task's also as its own run)."""
        if verdict == "accepted" and self.curves is not None:
            self.curves.add(meta_step, chunk.task, chunk.attempt, game, chunk.progress.episodes)
        self._progress[chunk.task] = (game, chunk.progress.agent_steps, steps)
        now = time.monotonic()
        if now - self._last_print >= self.interval:
            self._last_print = now
            tasks = "  ".join(f"{g} {100 * s / max(t, 1):.0f}%" for g, s, t in
                              (self._progress[k] for k in sorted(self._progress)))
            self.say(f"  meta-step {meta_step + 1}: {tasks}")

    def scalars(self, values: Mapping[str, float]) -> None:
        """More scalars at the end of the last meta-step (e.g. a validation's), flushed."""
        self._scalars(values, self.step)
        for sink in self.sinks:
            sink.flush()

    def _scalars(self, values: Mapping[str, float], step: int) -> None:
        for sink in self.sinks:
            sink.scalars(values, step)

    def meta_step(self, meta_step: int, agg: MetaStepAggregator, records: list[TaskRecord],
                  update: dict, seconds: float, bad_in_a_row: int = 0,
                  extra: Mapping[str, float] | None = None,
                  histograms: Mapping[str, Any] | None = None,
                  workers: int = 0, replaced: int = 0) -> dict:
        """Records a finished meta-step in tasks.jsonl, TensorBoard and on the console
        (``extra``: more scalars, e.g. an asynchronous meta-step's staleness or θ⁰'s health;
        ``histograms``: tensors for the sinks that draw histograms, TensorBoard's; ``workers``:
        live workers at its end; ``replaced``: workers replaced during it)."""
        self._progress.clear()
        if self.curves is not None:
            self.curves.close()
        rows = [self._task_row(meta_step, agg, r) for r in records]
        append_text(self.out / "tasks.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
        steps = sum(r["steps"] for r in rows)
        scalars = {**self.objective.scalars(rows, update),
                   **game_scalars(rows, [agg.tasks[r.assignment.task] for r in records]),
                   **worker_scalars(records, seconds, workers, replaced, steps),
                   **failure_scalars(rows, agg, update, bad_in_a_row),
                   "workers/meta_step": float(meta_step + 1), **(extra or {})}
        # A meta-step in which no step counted still moves the axis, so that steps only grow.
        self.step += max(steps, 1)
        self._scalars(scalars, self.step)
        for sink in self.sinks:
            if histograms and hasattr(sink, "histograms"):
                sink.histograms(histograms, self.step)
            sink.flush()
        self.say(self._line(meta_step, scalars, rows, update, seconds))
        return scalars

    def _line(self, meta_step: int, scalars: Mapping[str, float], rows: list[dict],
              update: dict, seconds: float) -> str:
        """One console line: progress, θ⁰'s objective change, the games, the workers."""
        total = self.cfg.meta.meta_steps
        bar = "#" * round(20 * (meta_step + 1) / total)
        key = "d1" if self.cfg.leap.metric == "length" else "d2"
        games = ", ".join(sorted({r["game"].split("/")[-1] for r in rows}))
        completed = sum(r["status"] == "completed" for r in rows)
        return (f"meta-step {meta_step + 1}/{total} [{bar:<20}] {seconds:6.1f} s  "
                f"{key}/first {scalars[f'objective/{key}_ratio_mean']:.3g}  "
                f"games {games} ({completed}/{len(rows)} completed)  "
                f"workers {scalars['workers/live']:.0f} live, "
                f"{100 * scalars['workers/utilization']:.0f}% busy  "
                f"|∇F̄| {update['grad_norm']:.3g}  |Δθ⁰| {update['update_norm']:.3g}")

    @staticmethod
    def _task_row(meta_step: int, agg: MetaStepAggregator, record: TaskRecord) -> dict:
        a, tally = record.assignment, agg.tasks[record.assignment.task]
        returns = [ret for _, ret, _ in tally.episodes[-10:]]
        return {"meta_step": meta_step, "task": a.task, "game": a.game, "seed": a.seed,
                "node_id": record.node_id, "pid": record.pid, "steps": tally.agent_steps,
                "budget": a.steps, "chunks_received": tally.chunks,
                "d1": tally.stats.get("d1", 0.0), "d2": tally.stats.get("d2", 0.0),
                "skipped_segments": int(tally.stats.get("skipped_segments", 0)),
                "episodes": len(tally.episodes),
                "final_return": sum(returns) / len(returns) if returns else None,
                "status": record.status, "attempts": record.attempts, "error": record.error,
                **_contribution(tally, a.task, agg),
                # Async: the θ⁰ version the counted attempt started from, and its staleness.
                **({} if record.staleness is None else
                   {"started_from": a.meta_step, "staleness": record.staleness})}

    def close(self) -> None:
        if self.curves is not None:
            self.curves.close()
        for sink in self.sinks:
            sink.close()


def _contribution(tally: TaskTally, task: int, agg: MetaStepAggregator) -> dict:
    """How a task's meta-gradient Gτ entered θ⁰'s update: its norm ‖Gτ‖, its weight wτ
    (``meta.balance``; None: not in the update) and its cosine with the applied Σ wτ Gτ.
    A task's share of ‖∇F̄‖² is wτ‖Gτ‖cos / Σ_τ wτ‖Gτ‖cos (scripts/meta_gradient_shares.py)."""
    if tally.gradient is None:
        return {"meta_gradient_norm": None, "balance_weight": None, "meta_gradient_cos": None}
    norm, total = gradient_norm(tally.gradient), getattr(agg, "total", None)
    weight = getattr(agg, "weights", {}).get(task)
    cos = None
    if weight is not None and total is not None:
        dot = sum(float(g.double().mul(total[k].double()).sum())
                  for k, g in tally.gradient.items())
        scale = norm * gradient_norm(total)
        cos = dot / scale if scale > 0.0 else 0.0
    return {"meta_gradient_norm": norm, "balance_weight": weight, "meta_gradient_cos": cos}


def _keep_task_rows_before(path: RunPath, meta_steps: int) -> None:
    """Rewrites tasks.jsonl with only the rows of meta-steps before ``meta_steps`` (creates it
    empty for a new run)."""
    rows = [line for line in (path.read_text().splitlines() if path.exists() else [])
            if line.strip() and json.loads(line)["meta_step"] < meta_steps]
    path.write_text("".join(line + "\n" for line in rows))


def log_step_after(out: RunPath, meta_steps: int) -> int:
    """The run's step axis after ``meta_steps`` meta-steps, counted from tasks.jsonl."""
    steps = [0] * meta_steps
    for row in read_tasks(out) if (out / "tasks.jsonl").exists() else []:
        if row["meta_step"] < meta_steps:
            steps[row["meta_step"]] += row["steps"]
    return sum(max(s, 1) for s in steps)


def read_tasks(out: str | Path) -> list[dict]:
    """The task records of a run directory's tasks.jsonl, in order."""
    text = (location(out) / "tasks.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_scalars(out: str | Path) -> dict[str, list[float]]:
    """Every TensorBoard scalar of a run directory: tag → values in step order. TensorBoard reads
    ``s3://`` itself where boto3 is installed (``gs://`` through fsspec with gcsfs)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(location(out) / "tensorboard"))
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
