"""A meta-step's TensorBoard scalars, grouped by the question they answer (docs/tensorboard.md).

- ``objective/``: is θ⁰ improving? Each game's path length d₁ and energy d₂ divided by the game's
  own value at the first meta-step it was drawn in (Leap's objective, eq. 5–6, made comparable
  across games whose paths differ by orders of magnitude), their mean over the meta-step's games,
  the meta-gradient's and θ⁰'s update norms.
- ``games/<game>/``: how is each game doing? One point per meta-step the game was drawn in.
- ``workers/``: are the workers busy? ``failures/``: is anything failing?

Every value is a summary of one meta-step: no tag joins separate agents into one curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

EARLY_LATE = 0.1  # a task's return early / late: episodes finished in its first / last 10%


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


class Objective:
    """The ``objective/`` tags; ``reference`` (game → (d₁, d₂) at its first drawn meta-step)
    is part of the checkpoint so that a resumed run divides by the same values."""

    def __init__(self, reference: Mapping[str, Sequence[float]] | None = None) -> None:
        self.reference = {g: (float(v[0]), float(v[1])) for g, v in (reference or {}).items()}

    def scalars(self, rows: Sequence[dict], update: Mapping[str, float]) -> dict[str, float]:
        """``rows``: the meta-step's tasks.jsonl rows; only tasks that streamed (completed or
        partial) with a positive path count, and set a game's reference when it has none."""
        out: dict[str, float] = {}
        ratios: dict[str, list[float]] = {"d1": [], "d2": []}
        for row in rows:
            if row["status"] not in ("completed", "partial") or not row["d1"] > 0.0:
                continue
            ref = self.reference.setdefault(row["game"], (row["d1"], row["d2"]))
            for i, key in enumerate(("d1", "d2")):
                if ref[i] > 0.0:
                    ratio = row[key] / ref[i]
                    out[f"objective/{key}_ratio/{row['game']}"] = ratio
                    ratios[key].append(ratio)
        out["objective/d1_ratio_mean"] = mean(ratios["d1"])
        out["objective/d2_ratio_mean"] = mean(ratios["d2"])
        done = [r for r in rows if r["status"] in ("completed", "partial")]
        out["objective/raw_d1_mean"] = mean([r["d1"] for r in done])
        out["objective/raw_d2_mean"] = mean([r["d2"] for r in done])
        out["objective/meta_grad_norm"] = update["grad_norm"]
        out["objective/init_update_norm"] = update["update_norm"]
        return out


def game_scalars(rows: Sequence[dict], tallies: Sequence) -> dict[str, float]:
    """``games/<game>/`` for every drawn game, finished episodes or not (``tallies``: the rows'
    TaskTally, in the same order). The early and late returns are left out, never 0, where no
    episode finished in that part of the task's steps."""
    out: dict[str, float] = {}
    for row, tally in zip(rows, tallies):
        tag = f"games/{row['game']}"
        out.update({f"{tag}/d1": row["d1"], f"{tag}/d2": row["d2"],
                    f"{tag}/episodes": float(row["episodes"]),
                    f"{tag}/agent_steps": float(row["steps"])})
        for key in ("policy_loss", "value_loss", "entropy"):
            if key in tally.stats:
                out[f"{tag}/{key}"] = float(tally.stats[key])
        budget = max(row["budget"], 1)
        early = [r for s, r, _ in tally.episodes if s <= EARLY_LATE * budget]
        late = [r for s, r, _ in tally.episodes if s >= (1.0 - EARLY_LATE) * budget]
        if early:
            out[f"{tag}/return_early"] = mean(early)
        if late:
            out[f"{tag}/return_late"] = mean(late)
    return out


def worker_scalars(records: Sequence, seconds: float, workers: int, replaced: int,
                   steps: int) -> dict[str, float]:
    """``workers/``: utilization = Σ busy seconds ÷ (live workers × meta-step seconds), capped
    at 1 (an asynchronous task that started before its meta-step counts whole in it)."""
    busy = sum(r.busy_s for r in records)
    startups = [s for r in records for s in r.startup_s]
    capacity = max(workers, 1) * max(seconds, 1e-9)
    return {"workers/utilization": min(busy / capacity, 1.0),
            "workers/live": float(workers), "workers/replacements": float(replaced),
            "workers/retries": float(sum(max(r.attempts - 1, 0) for r in records)),
            "workers/startup_seconds": mean(startups),
            "workers/chunk_lag_seconds": max((r.chunk_lag_s for r in records), default=0.0),
            "workers/meta_step_seconds": seconds,
            "workers/agent_steps_per_second": steps / max(seconds, 1e-9),
            "workers/tasks_completed": float(sum(r.status == "completed" for r in records))}


def failure_scalars(rows: Sequence[dict], agg, update: Mapping, bad_in_a_row: int
                    ) -> dict[str, float]:
    """``failures/``: the counters a healthy run keeps at 0."""
    return {"failures/tasks_failed": float(sum(r["status"] in ("failed", "partial")
                                               for r in rows)),
            "failures/duplicate_chunks": float(agg.duplicates),
            "failures/stale_chunks": float(agg.stale),
            "failures/nonfinite_chunks": float(agg.nonfinite),
            "failures/skipped_segments": float(sum(r["skipped_segments"] for r in rows)),
            "failures/update_skipped": float(update["skipped"]),
            "failures/bad_in_a_row": float(bad_in_a_row)}

