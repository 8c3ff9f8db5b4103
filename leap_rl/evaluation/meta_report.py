"""Report of a meta-training run: does Leap's objective, the tasks' path length, fall?

Reads a run directory's ``tasks.jsonl`` (one record per task) and writes ``meta_summary.json``
and ``plots/path_length.png``: per meta-step the mean d₁ (length) and d₂ (energy) over the tasks
that contributed, and per game d₁ against the meta-step. The games of a meta-step are sampled,
so the batch mean moves with which games were drawn; the per-game lines separate the two.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from leap_rl.distributed.runlog import read_tasks

CONTRIBUTED = ("completed", "partial")


def summarize(run_dir: str | Path) -> dict:
    """Per meta-step means of d₁ and d₂, and per game (meta-step, d₁, d₂) in order."""
    rows = [r for r in read_tasks(run_dir) if r["status"] in CONTRIBUTED]
    steps: dict[int, list[dict]] = defaultdict(list)
    games: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for r in rows:
        steps[r["meta_step"] + 1].append(r)
        games[r["game"]].append((r["meta_step"] + 1, r["d1"], r["d2"]))
    mean = lambda rs, key: sum(r[key] for r in rs) / len(rs)
    per_step = [{"meta_step": m, "tasks": len(rs), "mean_d1": mean(rs, "d1"),
                 "mean_d2": mean(rs, "d2"), "games": [r["game"] for r in rs]}
                for m, rs in sorted(steps.items())]
    per_game = {g: {"points": pts, "first_d1": pts[0][1], "last_d1": pts[-1][1],
                    "change_d1": pts[-1][1] / pts[0][1] - 1 if pts[0][1] else None}
                for g, pts in sorted(games.items())}
    return {"per_meta_step": per_step, "per_game": per_game}


def render_meta_run(run_dir: str | Path) -> dict:
    """Writes meta_summary.json and plots/path_length.png; prints the table; returns the summary."""
    run_dir = Path(run_dir)
    summary = summarize(run_dir)
    (run_dir / "meta_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{'meta-step':>9} {'tasks':>5} {'mean d1':>9} {'mean d2':>10}  games")
    for s in summary["per_meta_step"]:
        print(f"{s['meta_step']:>9} {s['tasks']:>5} {s['mean_d1']:>9.1f} {s['mean_d2']:>10.1f}  "
              f"{', '.join(s['games'])}")
    print(f"\n{'game':<14} {'first d1':>9} {'last d1':>9} {'change':>8}  (meta-steps drawn)")
    for game, g in summary["per_game"].items():
        change = f"{100 * g['change_d1']:+.0f}%" if g["change_d1"] is not None else "n/a"
        print(f"{game:<14} {g['first_d1']:>9.1f} {g['last_d1']:>9.1f} {change:>8}  "
              f"{[p[0] for p in g['points']]}")
    _plot(summary, run_dir / "plots" / "path_length.png")
    return summary


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    for game, g in summary["per_game"].items():
        xs, ys = zip(*[(m, d1) for m, d1, _ in g["points"]])
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1, label=game)
    steps = summary["per_meta_step"]
    ax.plot([s["meta_step"] for s in steps], [s["mean_d1"] for s in steps], color="black",
            linewidth=2.5, label="batch mean")
    ax.set_xlabel("meta-step")
    ax.set_ylabel("path length d₁ of the task")
    ax.set_title("Leap's objective per game across meta-steps")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
