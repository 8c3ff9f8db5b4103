"""Per game of a meta-training run: path length and training return, early vs late meta-steps.

    .venv/bin/python scripts/meta_trends.py runs/minatar/leap runs/minatar/reptile

Reads each run's tasks.jsonl. For every game: the least-squares slope of d₁ over the meta-steps
(as % of the game's mean d₁ per meta-step, ± two standard errors of the fit), mean d₁ in the first and last third of the
meta-steps, and the same for the task's final training return (a task is one pool game trained
from that meta-step's θ⁰, so a rising return means θ⁰ helps on the pool). One task per game and
meta-step: each point is one seed, so read trends, not single steps.
"""

from __future__ import annotations

import sys

import numpy as np

from leap_rl.distributed.runlog import read_tasks


def trends(run: str) -> list[str]:
    records = [r for r in read_tasks(run) if r["status"] == "completed"]
    lines = [f"{run}: {len(records)} completed tasks",
             f"  {'game':18s} {'d1 slope ± 2 s.e.':>16s} {'d1 first':>9s} {'d1 last':>9s} "
             f"{'return first':>12s} {'return last':>11s}"]
    for game in sorted({r["game"] for r in records}):
        rows = sorted((r["meta_step"], r["d1"], r["final_return"]) for r in records
                      if r["game"] == game)
        steps, d1 = np.array([s for s, _, _ in rows]), np.array([d for _, d, _ in rows])
        ret = np.array([np.nan if x is None else x for _, _, x in rows], dtype=float)
        third = max(1, len(rows) // 3)
        fit, cov = np.polyfit(steps, d1, 1, cov=True) if len(rows) > 3 else ([np.nan], [[np.nan]])
        slope, half = fit[0] / d1.mean(), 2 * np.sqrt(cov[0][0]) / d1.mean()  # ±2 s.e.
        lines.append(f"  {game:18s} {slope:+6.1%} ± {half:4.1%} {d1[:third].mean():9.0f} "
                     f"{d1[-third:].mean():9.0f}"
                     f" {np.nanmean(ret[:third]):12.1f} {np.nanmean(ret[-third:]):11.1f}")
    return lines


if __name__ == "__main__":
    for run in sys.argv[1:]:
        print("\n".join(trends(run)))
