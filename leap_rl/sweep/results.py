"""A sweep's tables: results.csv/.md (one row per trial, best first), arms.csv (per setting
combination, mean and 95% bootstrap interval over its seeds and folds: what selection uses),
best.yaml (the winning arm's full config, valid for ``leap-rl train``)."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import yaml

from leap_rl.io.provenance import provenance
from leap_rl.sweep.plan import SweepPlan
from leap_rl.sweep.status import read_status
from leap_rl.sweep.trial import TASK_MEASURES

PROVENANCE = ("leap_rl", "git_commit", "git_dirty", "torch", "ray", "gymnasium", "ale-py",
              "minatar")


def trial_rows(plan: SweepPlan) -> list[dict[str, Any]]:
    """One row per trial: its settings, metric, the meta-step of it, status and reason, and the
    provenance its run directory records; best first (trials without a metric last)."""
    rows = []
    for trial in plan.trials:
        trial_dir = plan.out / "trials" / trial.name
        record = read_status(trial_dir)
        origin = (json.loads((trial_dir / "provenance.json").read_text())
                  if (trial_dir / "provenance.json").is_file() else {})
        rows.append({"trial": trial.name, **{k: _text(v) for k, v in trial.settings.items()},
                     "metric": record.get("metric"), "meta_step": record.get("meta_step"),
                     "status": record["status"], "reason": record.get("reason") or "",
                     "attempts": record.get("attempts", 0),
                     **{k: _measure(record[k]) for k in TASK_MEASURES if k in record},
                     **{k: origin.get(k) for k in PROVENANCE}})
    sign = -1 if plan.spec.mode == "max" else 1
    return sorted(rows, key=lambda r: (r["metric"] is None,
                                       sign * r["metric"] if r["metric"] is not None else 0))


def arm_rows(plan: SweepPlan) -> list[dict[str, Any]]:
    """One row per arm (settings but seed and fold): mean and 95% interval of its metric."""
    from leap_rl.evaluation.stats import paired_bootstrap

    arms: dict[str, dict] = {}
    for trial in plan.trials:
        key = json.dumps(trial.arm, sort_keys=True, default=str)
        record = read_status(plan.out / "trials" / trial.name)
        arm = arms.setdefault(key, {"settings": trial.arm, "values": [], "trials": 0,
                                    "first": trial})
        arm["trials"] += 1
        if record.get("metric") is not None and record["status"] in ("done", "stopped"):
            arm["values"].append(float(record["metric"]))
    rows = []
    for arm in arms.values():
        ci = paired_bootstrap(arm["values"])
        rows.append({"arm": json.dumps(arm["settings"], default=str), "mean": ci["mean"],
                     "low": ci["low"], "high": ci["high"], "n": ci["n"], "trials": arm["trials"],
                     "_trial": arm["first"]})
    sign = -1 if plan.spec.mode == "max" else 1
    return sorted(rows, key=lambda r: (math.isnan(r["mean"]),
                                       sign * r["mean"] if not math.isnan(r["mean"]) else 0))


def write_results(plan: SweepPlan, say=print) -> None:
    """results.csv, results.md, arms.csv and (where a metric was measured) best.yaml."""
    rows, arms = trial_rows(plan), arm_rows(plan)
    (plan.out / "results.csv").write_text(_csv(rows))
    (plan.out / "results.md").write_text(_markdown(rows))
    (plan.out / "arms.csv").write_text(_csv([{k: v for k, v in a.items() if k != "_trial"}
                                             for a in arms]))
    (plan.out / "provenance.json").write_text(json.dumps(provenance(), indent=2) + "\n")
    if arms and not math.isnan(arms[0]["mean"]):
        best = arms[0]["_trial"].cfg.model_dump(mode="json")
        (plan.out / "best.yaml").write_text(
            f"# best arm of the sweep {plan.out}: {arms[0]['arm']} ({plan.spec.metric} "
            f"{arms[0]['mean']:.4g} over {arms[0]['n']} trial(s))\n"
            + yaml.safe_dump(best, sort_keys=False))
        say(f"best arm: {arms[0]['arm']} ({plan.spec.metric} {arms[0]['mean']:.4g}); its "
            f"config in {plan.out / 'best.yaml'}")
    else:
        say(f"no trial measured {plan.spec.metric}: no best arm, no best.yaml")
    say(f"results: {plan.out / 'results.md'}, {plan.out / 'arms.csv'}")


def _measure(value: Any) -> Any:
    """A train-task measure as one cell: the encoder drift per tensor, e.g. ``fc.weight 0.12``."""
    if isinstance(value, dict):
        return " ".join(f"{k.removeprefix('encoder.')} {v:.3f}" for k, v in value.items())
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    fields = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in PROVENANCE]
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in rows:
        cells = [_cell(row.get(k)) for k in fields]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")
