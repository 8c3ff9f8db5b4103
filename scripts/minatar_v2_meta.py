"""Stage 3's meta-training diagnostics (docs/results.md, "The validated MinAtar study"): per
meta-learner, meta-training seed and meta-step, what its run logged about θ⁰ and the Leap
objective, read from the run's TensorBoard file into
docs/results/minatar_v2/stage3_meta.csv (written by ``scripts/minatar_v2.py train3`` and by every
stage-3 export); ``report`` prints :func:`table` from that CSV alone.
"""

from __future__ import annotations

from pathlib import Path

# TensorBoard tag → CSV column: θ⁰'s health on pool frames (fc τ-dormant share, weight RMS,
# distance from the run's first θ⁰) and the objective (mean raw d₁, d₂ over the meta-step's
# tasks, their ratio to the first meta-step's, the meta-gradient's and θ⁰ update's norms).
TAGS = {
    "init/dormant_share/pool/fc/tau=0.025": "fc_dormant",
    "init/dormant_share/pool/conv/tau=0.025": "conv_dormant",
    "init/rms/fc": "fc_rms",
    "init/distance/fc": "fc_distance",
    "objective/raw_d1_mean": "d1",
    "objective/raw_d2_mean": "d2",
    "objective/d2_ratio_mean": "d2_ratio",
    "objective/meta_grad_norm": "meta_grad_norm",
    "objective/init_update_norm": "init_update_norm",
}


def run_rows(run: Path, method: str, seed: int, **labels) -> list[dict]:
    """One row per meta-step of ``run`` (a ``leap-rl train`` directory). A resumed run may log a
    meta-step twice: the later value of each agent-step count is kept, as TensorBoard shows."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    present = set(events.Tags()["scalars"])
    by_step: dict[int, dict] = {}
    for tag, column in TAGS.items():
        for event in events.Scalars(tag) if tag in present else []:
            by_step.setdefault(event.step, {})[column] = round(float(event.value), 5)
    return [{"method": method, **labels, "seed": seed, "meta_step": k + 1, "agent_steps": step,
             **{c: values.get(c) for c in TAGS.values()}}
            for k, (step, values) in enumerate(sorted(by_step.items()))]


def export(runs: dict[tuple, Path], out: Path, write_rows) -> list[dict]:
    """Every finished or running meta-training run's rows, written to ``out`` (if any); a run's
    key is (method, seed) or (method, seed, fold)."""
    rows = []
    for key, run in sorted(runs.items()):
        if (run / "tensorboard").is_dir():
            rows += run_rows(run, *key[:2], **({"fold": key[2]} if len(key) > 2 else {}))
    if rows:
        write_rows(out, rows)
    return rows


def table(rows: list[dict], fmt) -> list[str]:
    """Markdown: per method, the first and last meta-step's mean over meta-seeds of each
    diagnostic (the CSV's rows; ``fmt(value)`` prints a number or a dash)."""
    if not rows:
        return []
    out = ["## Meta-training diagnostics (stage 3; mean over meta-seeds; θ⁰ on pool frames)", "",
           "| method | meta-step | seeds | " + " | ".join(TAGS.values()) + " |",
           "|---" * (len(TAGS) + 3) + "|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        last = min(max(int(r["meta_step"]) for r in mine if r["seed"] == s)
                   for s in {r["seed"] for r in mine})  # the last step every seed reached
        for step in sorted({1, last}):
            at = [r for r in mine if int(r["meta_step"]) == step]
            cells = [fmt(_mean(r[column] for r in at)) for column in TAGS.values()]
            out.append(f"| {method} | {step} | {len(at)} | " + " | ".join(cells) + " |")
    return out + [""]


def sweep_runs(root: Path) -> dict[tuple[str, int, str], Path]:
    """Stages 1–2's trials as (method or arm, seed, fold) → run directory, from each sweep's
    results.csv (stage 1's method, stage 2's arm: the sweep directory's name after the stage)."""
    import csv

    runs = {}
    for sweep_dir in sorted(root.glob("stage[12]-*")):
        if not (sweep_dir / "results.csv").is_file():
            continue
        with (sweep_dir / "results.csv").open(newline="") as handle:
            for row in csv.DictReader(handle):
                label = sweep_dir.name  # e.g. stage1-leap, stage2-redo
                if sweep_dir.name.startswith("stage1-"):
                    label += f" {row['inner.learning_rate']}x{row['meta.learning_rate']}"
                runs[(label, int(row.get("seed") or 0), row["fold"])] = (
                    sweep_dir / "trials" / row["trial"])
    return runs


def final_table(rows: list[dict], share, number) -> list[str]:
    """Markdown: per stage 1–2 method or arm, the mean over its trials of the first and the last
    meta-step's θ⁰ fc τ-dormant share (printed by ``share``) and of the fc distance θ⁰
    travelled and its fc weight RMS (``number``)."""
    if not rows:
        return []
    out = ["## θ⁰ over meta-training in stages 1–2 (mean over folds and seeds; pool frames)", "",
           "| method / arm | trials | fc dormant, meta-step 1 | fc dormant, last | "
           "fc distance, last | fc RMS, last |", "|---|---|---|---|---|---|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        runs: dict[tuple, list[dict]] = {}
        for r in rows:
            if r["method"] == method:
                runs.setdefault((r["seed"], r["fold"]), []).append(r)
        ordered = [sorted(v, key=lambda r: int(r["meta_step"])) for v in runs.values()]
        cells = [share(_mean(v[0]["fc_dormant"] for v in ordered)),
                 share(_mean(v[-1]["fc_dormant"] for v in ordered)),
                 number(_mean(v[-1]["fc_distance"] for v in ordered)),
                 number(_mean(v[-1]["fc_rms"] for v in ordered))]
        out.append(f"| {method} | {len(ordered)} | " + " | ".join(cells) + " |")
    return out + [""]


def _mean(values) -> float | None:
    """The mean of the values that are there (a CSV's empty cell is not), or None."""
    values = [float(v) for v in values if v not in (None, "", "None")]
    return sum(values) / len(values) if values else None
