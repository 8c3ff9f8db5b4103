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
COLUMNS = ["method", "seed", "meta_step", "agent_steps", *TAGS.values()]


def run_rows(run: Path, method: str, seed: int) -> list[dict]:
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
    return [{"method": method, "seed": seed, "meta_step": k + 1, "agent_steps": step,
             **{c: values.get(c) for c in TAGS.values()}}
            for k, (step, values) in enumerate(sorted(by_step.items()))]


def export(runs: dict[tuple[str, int], Path], out: Path, write_rows) -> list[dict]:
    """Every finished or running meta-training run's rows, written to ``out`` (if any)."""
    rows = []
    for (method, seed), run in sorted(runs.items()):
        if (run / "tensorboard").is_dir():
            rows += run_rows(run, method, seed)
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
            cells = []
            for column in TAGS.values():
                values = [float(r[column]) for r in at if r[column] not in (None, "", "None")]
                cells.append(fmt(sum(values) / len(values) if values else None))
            out.append(f"| {method} | {step} | {len(at)} | " + " | ".join(cells) + " |")
    return out + [""]
