"""An evaluation directory's outputs: curves.csv, evaluation.json, summary.json, plots, TensorBoard.

``render(out)`` recomputes everything from ``curves.csv`` and ``evaluation.json`` alone, so
``leap-rl report DIR`` reproduces a finished evaluation's summary without training. Plots follow
figure 4 of Flennerhag et al. (ICLR 2019): the moving-average return against agent steps, the
mean over seeds with a shaded band of two standard deviations, Leap (orange) vs random (blue).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from leap_rl.artifacts import ArtifactError
from leap_rl.evaluation.stats import (METHODS, RunKey, mean_std, moving_average, on_grid,
                                      summarize)

CURVES_COLUMNS = ("game", "method", "seed", "step", "episodic_return", "moving_average")
COLORS = {"random": "tab:blue", "leap": "tab:orange"}  # figure 4's colors
GRID_POINTS = 200

Curves = dict[RunKey, tuple[np.ndarray, np.ndarray, int]]  # steps, returns, total steps


def append_curves(path: Path, game: str, method: str, seed: int,
                  episodes: Iterable[tuple[int, float]], window: int) -> None:
    """Appends one run's episodes (step, raw return) to curves.csv, writing the header if new."""
    episodes = list(episodes)
    ma = moving_average([r for _, r in episodes], window)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(CURVES_COLUMNS)
        for (step, ret), avg in zip(episodes, ma):
            writer.writerow((game, method, seed, int(step), repr(float(ret)), repr(float(avg))))


def read_curves(path: Path) -> dict[RunKey, list[tuple[int, float]]]:
    """curves.csv as (game, method, seed) → [(step, raw return)], in file order."""
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file (not a finished evaluation directory?)")
    runs: dict[RunKey, list[tuple[int, float]]] = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CURVES_COLUMNS:
            raise ArtifactError(f"{path}: expected columns {','.join(CURVES_COLUMNS)}")
        for n, row in enumerate(reader, start=2):
            try:
                key = (row["game"], row["method"], int(row["seed"]))
                runs.setdefault(key, []).append((int(row["step"]), float(row["episodic_return"])))
            except (TypeError, ValueError) as err:
                raise ArtifactError(f"{path}, line {n}: {err}") from None
    return runs


def read_metadata(out: Path) -> dict[str, Any]:
    """evaluation.json, as written at evaluate time."""
    path = out / "evaluation.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no such file (not an evaluation directory?)") from None
    except (OSError, ValueError) as err:
        raise ArtifactError(f"{path}: unreadable ({err})") from None


def load_runs(out: Path) -> tuple[Curves, dict[str, Any]]:
    """Every run of the evaluation — also those that finished no episode — with its curve."""
    meta = read_metadata(out)
    episodes = read_curves(out / "curves.csv")
    totals = {(r["game"], r["method"], int(r["seed"])): int(r["agent_steps"])
              for r in meta.get("runs", []) if r.get("status") == "completed"}
    runs: Curves = {}
    for key in sorted(set(episodes) | set(totals)):
        eps = sorted(episodes.get(key, []), key=lambda e: e[0])  # stable: keeps episode order
        steps = np.array([s for s, _ in eps], dtype=np.int64)
        returns = np.array([r for _, r in eps], dtype=np.float64)
        total = totals.get(key, int(steps[-1]) if len(steps) else 0)
        runs[key] = (steps, returns, total)
    return runs, meta


def clean_json(value: Any) -> Any:
    """NaN/inf → null, tuples → lists, so summary.json is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def render(out: str | Path, *, window: int | None = None, plots: bool = True,
           stream: TextIO | None = None) -> dict:
    """Recomputes summary.json, the printed table and the plots from curves.csv alone."""
    out = Path(out)
    runs, meta = load_runs(out)
    window = window or int(meta["window"])
    summary = clean_json({**summarize(runs, window), "steps": meta.get("steps"),
                          "init": meta.get("init")})
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(format_table(summary), file=stream, flush=True)
    if plots:
        plot_all(out / "plots", runs, summary)
    return summary


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "n/a" if x is None else format(round(x, 9) + 0.0, spec)  # no "-0.00"


def format_table(summary: dict) -> str:
    """Per game: final score and AUC (mean ± std over seeds), normalized (table 6), and the
    Leap − random difference with its bootstrap 95% CI; then the mean normalized score."""
    w = summary["window"]
    lines = [f"{'game':<14}{'method':<8}{'seeds':>5}  {'final ± std':>20}  {'AUC ± std':>20}"
             f"  {'norm.final':>10}  {'norm.AUC':>9}",
             f"(final = mean return of the last {w} episodes; AUC = step-weighted mean of the "
             f"{w}-episode moving average; normalized by the random runs' mean and std)"]
    for game, g in summary["games"].items():
        for m in METHODS:
            s = g["methods"][m]
            lines.append(
                f"{game:<14}{m:<8}{len(s['seeds']):>5}  "
                f"{_fmt(s['final']['mean']) + ' ± ' + _fmt(s['final']['std']):>20}  "
                f"{_fmt(s['auc']['mean']) + ' ± ' + _fmt(s['auc']['std']):>20}  "
                f"{_fmt(s['final_normalized']['mean'], '+.2f'):>10}  "
                f"{_fmt(s['auc_normalized']['mean'], '+.2f'):>9}")
        d = g["difference"]
        lines.append(f"{'':<14}leap − random (n={d['final']['n']}): final "
                     f"{_fmt(d['final']['mean'], '+.1f')} [{_fmt(d['final']['low'], '+.1f')}, "
                     f"{_fmt(d['final']['high'], '+.1f')}], AUC {_fmt(d['auc']['mean'], '+.1f')} "
                     f"[{_fmt(d['auc']['low'], '+.1f')}, {_fmt(d['auc']['high'], '+.1f')}]"
                     " (95% bootstrap CI)")
    o = summary["overall"]
    lines.append(f"mean normalized score over {o['games']} games: leap final "
                 f"{_fmt(o['final_normalized']['leap'], '+.2f')}, AUC "
                 f"{_fmt(o['auc_normalized']['leap'], '+.2f')} (random: "
                 f"{_fmt(o['final_normalized']['random'], '+.2f')} by construction); CI above 0 "
                 f"in {o['games_ci_above_zero']} of {o['games']} games")
    return "\n".join(lines)


def method_band(runs: Curves, game: str, method: str, window: int, grid: np.ndarray):
    """Mean and two-std band of the moving-average curves of one game and method on ``grid``."""
    rows = [on_grid(steps, moving_average(ret, window), grid)
            for (g, m, _), (steps, ret, _) in runs.items() if g == game and m == method]
    if not rows:
        return None
    mean, std = mean_std(np.stack(rows))
    return mean, mean - 2 * std, mean + 2 * std


def plot_all(folder: Path, runs: Curves, summary: dict) -> None:
    """plots/<game>.png per game (figure 4's style) and plots/summary.png."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    folder.mkdir(parents=True, exist_ok=True)
    window = summary["window"]
    for game in summary["games"]:
        total = max([t for (g, _, _), (_, _, t) in runs.items() if g == game] + [1])
        grid = np.linspace(0, total, GRID_POINTS)
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        for method in ("random", "leap"):
            band = method_band(runs, game, method, window, grid)
            if band is not None:
                mean, low, high = band
                ax.plot(grid, mean, color=COLORS[method], label=method)
                ax.fill_between(grid, low, high, color=COLORS[method], alpha=0.25, linewidth=0)
        ax.set(title=game, xlabel="agent steps",
               ylabel=f"episodic return ({window}-episode moving average)")
        ax.legend(loc="best")
        fig.tight_layout()
        fig.savefig(folder / f"{game}.png", dpi=100)
    _plot_summary(folder / "summary.png", summary)


def _plot_summary(path: Path, summary: dict) -> None:
    """Normalized final score and AUC per game (mean ± 2 std over seeds) and their mean."""
    from matplotlib.figure import Figure

    games = list(summary["games"])
    labels = games + ["mean"]
    fig = Figure(figsize=(max(6, 1.1 * len(labels)), 6))
    x = np.arange(len(labels))
    for row, q in enumerate(("final_normalized", "auc_normalized")):
        ax = fig.add_subplot(2, 1, row + 1)
        for k, m in enumerate(("random", "leap")):
            stats = [summary["games"][g]["methods"][m][q] for g in games]
            mean = [np.nan if s["mean"] is None else s["mean"] for s in stats]
            err = [0.0 if s["std"] is None else 2 * s["std"] for s in stats]
            overall = summary["overall"][q][m]
            mean.append(np.nan if overall is None else overall)
            err.append(0.0)
            ax.bar(x + (k - 0.5) * 0.4, mean, 0.4, yerr=err, color=COLORS[m], label=m, capsize=3)
        ax.axhline(0, color="gray", linewidth=0.8)
        ax.set_xticks(x, labels, rotation=30, ha="right")
        ax.set_ylabel(q.replace("_", " "))
        ax.legend(loc="best")
    fig.suptitle("Normalized scores (x − mean_random) / std_random (table 6)\n"
                 "mean over seeds ± 2 std; 'mean' = average over games", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_tensorboard(folder: Path, runs: Curves, window: int) -> None:
    """The curves in TensorBoard: one run per seed (raw and smoothed returns) and their mean."""
    from torch.utils.tensorboard import SummaryWriter

    writers: dict[str, SummaryWriter] = {}

    def writer(name: str) -> SummaryWriter:
        if name not in writers:
            writers[name] = SummaryWriter(str(folder / name))
        return writers[name]

    for (game, method, seed), (steps, returns, _) in sorted(runs.items()):
        w = writer(f"seed_{seed}")
        for step, ret, avg in zip(steps, returns, moving_average(returns, window)):
            w.add_scalar(f"eval/{game}/{method}/episodic_return", ret, int(step))
            w.add_scalar(f"eval/{game}/{method}/moving_average", avg, int(step))
    for game in sorted({g for g, _, _ in runs}):
        total = max(t for (g, _, _), (_, _, t) in runs.items() if g == game)
        grid = np.linspace(0, max(total, 1), GRID_POINTS)
        for method in METHODS:
            band = method_band(runs, game, method, window, grid)
            for step, value in zip(grid, band[0] if band else []):
                if np.isfinite(value):
                    writer("mean").add_scalar(f"eval/{game}/{method}/moving_average", value,
                                              int(step))
    for w in writers.values():
        w.close()
