"""An evaluation directory's outputs: curves.csv, summary.json and the printed table.

``render(out)`` recomputes everything from ``curves.csv`` and ``evaluation.json`` alone, so
``leap-rl report DIR`` reproduces an evaluation's summary without training — for every method,
and for an unfinished (interrupted) evaluation from the runs it completed. The table follows
table 6 of Flennerhag et al. (ICLR 2019); the plots (:mod:`leap_rl.evaluation.plots`) figure 4.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from leap_rl.evaluation.stats import (
    RANDOM,
    Curves,
    RunKey,
    comparisons,
    moving_average,
    pair_key,
    summarize,
)
from leap_rl.io.artifacts import ArtifactError

CURVES_COLUMNS = ("game", "method", "seed", "step", "episodic_return", "moving_average")


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


def write_curves(path: Path, runs: Iterable[tuple[RunKey, Iterable[tuple[int, float]]]],
                 window: int) -> None:
    """curves.csv from scratch, for the runs given in order; replaced atomically."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CURVES_COLUMNS)
    for (game, method, seed), episodes in runs:
        episodes = list(episodes)
        ma = moving_average([r for _, r in episodes], window)
        for (step, ret), avg in zip(episodes, ma):
            writer.writerow((game, method, seed, int(step), repr(float(ret)), repr(float(avg))))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text.getvalue(), newline="")  # the csv module's own line ends
    os.replace(tmp, path)


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
           stream: TextIO | None = None, ci: str | None = None) -> dict:
    """Recomputes summary.json, the printed table and the plots from curves.csv alone
    (``ci``: percentile or bca; default the evaluation's own, else percentile)."""
    out = Path(out)
    runs, meta = load_runs(out)
    window = window or int(meta["window"])
    settings = meta.get("settings", meta)  # evaluations before named inits kept them at the top
    inits = settings.get("inits") or {"leap": {"path": meta.get("init")}}
    failed = [f"{r['game']}/{r['method']}/seed {r['seed']}" for r in meta.get("runs", [])
              if r.get("status") != "completed"]
    ci = ci or settings.get("ci") or "percentile"
    summary = clean_json({**summarize(runs, window, settings.get("methods"),
                                      settings.get("groups"), ci),
                          "steps": settings.get("steps"), "inits": inits, "failed": failed})
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(format_table(summary), file=stream, flush=True)
    if plots:
        from leap_rl.evaluation.plots import plot_all

        plot_all(out / "plots", runs, summary)
    return summary


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "n/a" if x is None else format(round(x, 9) + 0.0, spec)  # no "-0.00"


def _ci(d: Mapping[str, Any]) -> str:
    interval = ("[no CI]" if d["low"] is None else
                f"[{_fmt(d['low'], '+.1f')}, {_fmt(d['high'], '+.1f')}]")
    return f"{_fmt(d['mean'], '+.1f')} {interval}"


def format_table(summary: dict) -> str:
    """Per game and method: final score and AUC (mean ± std over seeds), both normalized by the
    random runs (table 6); every paired difference with its bootstrap 95% CI; then per method
    the mean normalized score across games."""
    w, methods = summary["window"], summary["methods"]
    mw = max(8, 2 + max(len(m) for m in methods))
    gw = max(14, 2 + max(len(game) for game in summary["games"]))
    ci = summary.get("bootstrap", {}).get("method", "percentile")
    lines = [(f"{'game':<{gw}}{'method':<{mw}}{'seeds':>5}  {'final ± std':>20}  "
              f"{'AUC ± std':>20}  {'norm.final':>10}  {'norm.AUC':>9}"),
             (f"(final = mean return of the last {w} episodes; AUC = step-weighted mean of the "
              f"{w}-episode moving average; normalized by the random runs' mean and std; "
              f"{ci} intervals)")]
    for game, g in summary["games"].items():
        for m in methods:
            s = g["methods"][m]
            lines.append(
                f"{game:<{gw}}{m:<{mw}}{len(s['seeds']):>5}  "
                f"{_fmt(s['final']['mean']) + ' ± ' + _fmt(s['final']['std']):>20}  "
                f"{_fmt(s['auc']['mean']) + ' ± ' + _fmt(s['auc']['std']):>20}  "
                f"{_fmt(s['final_normalized']['mean'], '+.2f'):>10}  "
                f"{_fmt(s['auc_normalized']['mean'], '+.2f'):>9}")
        for d in (g["differences"][pair_key(a, b)] for a, b in comparisons(methods)):
            lines.append(f"{'':<{gw}}{d['a']} − {d['b']} (n={d['final']['n']}): final "
                         f"{_ci(d['final'])}, AUC {_ci(d['auc'])} (paired bootstrap 95% CI)")
        for d in g.get("hierarchical", {}).values():
            lines.append(f"{'':<{gw}}{d['a']} − {d['b']} ({d['final']['meta_seeds']} meta-seeds):"
                         f" final {_ci(d['final'])}, AUC {_ci(d['auc'])} (hierarchical "
                         "bootstrap 95% CI: meta-seeds, then seeds)")
    lines += _overall_lines(summary)
    return "\n".join(lines)


def _overall_lines(summary: dict) -> list[str]:
    o, named = summary["overall"], [m for m in summary["methods"] if m != RANDOM]
    scores = "; ".join(f"{m} final {_fmt(o['final_normalized'][m], '+.2f')}, AUC "
                       f"{_fmt(o['auc_normalized'][m], '+.2f')}" for m in named)
    lines = [(f"mean normalized score over {o['games']} games: {scores} (random: "
              f"{_fmt(o['final_normalized'][RANDOM], '+.2f')} by construction)")]
    for quantity, label in (("final", "final score"), ("auc", "AUC")):
        counts = ", ".join(
            f"{a} − {b}: {o[f'{quantity}_ci_above_zero'][pair_key(a, b)]} above, "
            f"{o[f'{quantity}_ci_below_zero'][pair_key(a, b)]} below"
            for a, b in comparisons(summary["methods"]) if f"{quantity}_ci_above_zero" in o)
        if counts:
            lines.append(f"games whose {label} CI lies above / below 0: {counts} "
                         f"(of {o['games']} games)")
    if summary.get("failed"):
        lines.append(f"not in the table, failed: {', '.join(summary['failed'])}")
    return lines
