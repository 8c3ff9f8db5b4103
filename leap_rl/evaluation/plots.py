"""An evaluation's figures and TensorBoard curves, for every method.

``plots/<game>.png`` follows figure 4 of Flennerhag et al. (ICLR 2019): the moving-average return
against agent steps, per method the mean over seeds with a shaded band of two standard
deviations — random in blue and Leap in orange as in the paper, other methods in further colors.
``plots/summary.png`` shows the normalized scores of table 6 per game and method.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leap_rl.evaluation.stats import Curves, mean_std, moving_average, on_grid

FIGURE4 = {"random": "tab:blue", "leap": "tab:orange"}  # figure 4's colors
MORE_COLORS = ("tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
               "tab:cyan", "tab:gray")
GRID_POINTS = 200


def colors(methods: list[str]) -> dict[str, str]:
    """A color per method: figure 4's for random and leap, then the others in turn."""
    others = iter(MORE_COLORS * (1 + len(methods) // len(MORE_COLORS)))
    return {m: FIGURE4.get(m) or next(others) for m in methods}


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
    from matplotlib.figure import (
        Figure,  # no pyplot: no global state, no display needed
    )

    folder.mkdir(parents=True, exist_ok=True)
    window, palette = summary["window"], colors(summary["methods"])
    for game in summary["games"]:
        total = max([t for (g, _, _), (_, _, t) in runs.items() if g == game] + [1])
        grid = np.linspace(0, total, GRID_POINTS)
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        for method in summary["methods"][-1:] + summary["methods"][:-1]:  # random first
            band = method_band(runs, game, method, window, grid)
            if band is not None:
                mean, low, high = band
                ax.plot(grid, mean, color=palette[method], label=method)
                ax.fill_between(grid, low, high, color=palette[method], alpha=0.2, linewidth=0)
        ax.set(title=game, xlabel="agent steps",
               ylabel=f"episodic return ({window}-episode moving average)")
        ax.legend(loc="best")
        fig.tight_layout()
        fig.savefig(folder / f"{game.replace('/', '_')}.png", dpi=100)
    _plot_summary(folder / "summary.png", summary, palette)


def _plot_summary(path: Path, summary: dict, palette: dict[str, str]) -> None:
    """Normalized final score and AUC per game (mean ± 2 std over seeds) and their mean."""
    from matplotlib.figure import Figure

    games = list(summary["games"])
    labels = games + ["mean"]
    fig = Figure(figsize=(max(6, 1.1 * len(labels)), 6))
    x = np.arange(len(labels))
    order = summary["methods"][-1:] + summary["methods"][:-1]  # random first
    width = 0.8 / len(order)
    for row, q in enumerate(("final_normalized", "auc_normalized")):
        ax = fig.add_subplot(2, 1, row + 1)
        for k, m in enumerate(order):
            stats = [summary["games"][g]["methods"][m][q] for g in games]
            mean = [np.nan if s["mean"] is None else s["mean"] for s in stats]
            err = [0.0 if s["std"] is None else 2 * s["std"] for s in stats]
            overall = summary["overall"][q][m]
            mean.append(np.nan if overall is None else overall)
            err.append(0.0)
            ax.bar(x + (k - (len(order) - 1) / 2) * width, mean, width, yerr=err,
                   color=palette[m], label=m, capsize=3)
        ax.axhline(0, color="gray", linewidth=0.8)
        ax.set_xticks(x, labels, rotation=30, ha="right")
        ax.set_ylabel(q.replace("_", " "))
        ax.legend(loc="best")
    fig.suptitle("Normalized scores (x − mean_random) / std_random (table 6)\n"
                 "mean over seeds ± 2 std; 'mean' = average over games", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_tensorboard(folder: Path, runs: Curves, window: int) -> None:
    """The curves in TensorBoard, each (game, θ⁰, seed) its own run
    ``eval/<game>/<method>/seed<k>`` (tags ``eval/episodic_return``, raw, and
    ``eval/moving_average``), and each (game, θ⁰)'s mean over seeds as the run
    ``eval/<game>/<method>/mean``: inits are compared by selecting runs, and no curve joins
    separate agents (docs/tensorboard.md, "Evaluation")."""
    from torch.utils.tensorboard import SummaryWriter

    writers: dict[str, SummaryWriter] = {}

    def writer(game: str, method: str, name: str) -> SummaryWriter:
        key = f"{game}/{method}/{name}"  # a game's "/" nests, as TensorBoard shows run names
        if key not in writers:
            writers[key] = SummaryWriter(str(folder / "eval" / game / method / name))
        return writers[key]

    for (game, method, seed), (steps, returns, _) in sorted(runs.items()):
        w = writer(game, method, f"seed{seed}")
        for step, ret, avg in zip(steps, returns, moving_average(returns, window)):
            w.add_scalar("eval/episodic_return", ret, int(step))
            w.add_scalar("eval/moving_average", avg, int(step))
    for game in sorted({g for g, _, _ in runs}):
        total = max(t for (g, _, _), (_, _, t) in runs.items() if g == game)
        grid = np.linspace(0, max(total, 1), GRID_POINTS)
        for method in sorted({m for g, m, _ in runs if g == game}):
            band = method_band(runs, game, method, window, grid)
            for step, value in zip(grid, band[0] if band else []):
                if np.isfinite(value):
                    writer(game, method, "mean").add_scalar("eval/moving_average", value,
                                                            int(step))
    for w in writers.values():
        w.close()
