"""Every table and figure of the validated MinAtar study, recomputed from its committed per-seed
data in docs/results/minatar_v2/ (nothing else is read): docs/results/minatar_v2/report.md and
docs/img/minatar_v2_curves.png. A part whose data are not there yet is left out.

    .venv/bin/python scripts/minatar_v2.py report
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))

import minatar_v2_meta as meta
import minatar_v2_verdict as verdict

from leap_rl.evaluation.bootstrap import hierarchical_bootstrap
from leap_rl.evaluation.confirm import game_gain, method_contrast, normalized_differences
from leap_rl.sweep.select import arm_scores, relative_auc_choice

DATA = ROOT_DIR / "docs" / "results" / "minatar_v2"
FIGURE = ROOT_DIR / "docs" / "img" / "minatar_v2_curves.png"
POOL, HELD_OUT = verdict.POOL, verdict.HELD_OUT
per_seed, members = verdict.per_seed, verdict.members


def rows(name: str) -> list[dict]:
    path = DATA / name
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def num(x) -> float | None:
    return None if x in (None, "", "None", "nan") else float(x)


def f(x, spec: str = ".2f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def ci(d: dict, spec: str = ".2f") -> str:
    return f"{f(d['mean'], spec)} [{f(d['low'], spec)}, {f(d['high'], spec)}]"


def stage0() -> list[str]:
    data = rows("stage0.csv")
    if not data:
        return []
    result = relative_auc_choice(data, value_key="inner.learning_rate")
    means = defaultdict(list)
    for r in data:
        means[(float(r["inner.learning_rate"]), r["task.game"])].append(float(r["auc"]))
    out = ["## Stage 0: random θ⁰'s inner learning rate (mean AUC over seeds)", "",
           "| lr | " + " | ".join(g.split("/")[1] for g in POOL) + " | mean relative AUC |",
           "|---" * (len(POOL) + 2) + "|"]
    for lr, score in sorted(result["scores"].items()):
        cells = [f(sum(v) / len(v)) for g in POOL if (v := means[(float(lr), g)])]
        out.append(f"| {float(lr):g} | " + " | ".join(cells) + f" | {score:.3f} |")
    return out + ["", f"lr* = {float(result['choice']):g}", ""]


def gains_table(title: str, data: list[dict], keys: list[str]) -> list[str]:
    """Per arm: each fold's gain after meta-step 8 (mean over seeds), the score (the rule's)."""
    data = [{**r, "gain": num(r["gain"])} for r in data]  # CSV text → numbers (None: missing)
    folds = sorted({r["fold"] for r in data})
    out = [title, "", "| " + " | ".join(keys) + " | " + " | ".join(
        x.split("/")[1] for x in folds) + " | score | trials |", "|---" * (len(keys) + len(folds)
                                                                        + 2) + "|"]
    for arm in arm_scores(data, keys):
        cells = []
        for fold in folds:
            g = [r["gain"] for r in data if r["fold"] == fold
                 and all(str(r[k]) == str(arm[k]) for k in keys)]
            cells.append(f(sum(g) / len(g)) if g and None not in g else "—")
        out.append("| " + " | ".join(str(arm[k]) for k in keys) + " | " + " | ".join(cells)
                   + f" | {f(arm['score'])} | {arm['trials']} |")
    return out + [""]


def stages12() -> list[str]:
    out = []
    s1 = rows("stage1.csv")
    for method in ("leap", "reptile"):
        data = [r for r in s1 if r["method"] == method]
        if data:
            out += gains_table(f"## Stage 1, {method}: validation gain after meta-step 8",
                               data, ["inner.learning_rate", "meta.learning_rate"])
    if s2 := rows("stage2.csv"):
        out += gains_table("## Stage 2: remedies (gain after meta-step 8)", s2, ["arm"])
    if rv := rows("revalidation.csv"):
        out += ["## Re-validation (fresh seeds 2,000,000–2,000,004)", "",
                "| arm | θ⁰s | mean gain |", "|---|---|---|"]
        for arm in sorted({r["arm"] for r in rv}):
            g = [num(r["gain"]) for r in rv if r["arm"] == arm]
            mean = sum(g) / len(g) if None not in g else None
            out.append(f"| {arm} | {len(g)} | {f(mean)} |")
        out.append("")
    return out


def primary(judged: dict) -> list[str]:
    """The primary judgement's table (``verdict.primary``)."""
    if not judged:
        return []
    out = ["## Stage 3, primary: Leap − random, normalized AUC, held-out games (Holm)", "",
           "| game | estimate [interval] | level | p | Holm rank | rejected | meta-seeds × seeds |",
           "|---|---|---|---|---|---|---|"]
    for game in HELD_OUT:
        if game in judged:
            j = judged[game]
            out.append(f"| {game} | {ci(j)} | {j['level']:.3f} | {f(j['p'], '.4f')} | "
                       f"{j['holm_rank'] + 1} | {'yes' if j['rejected'] else 'no'}"
                       f"{'' if j['judged'] else ' (not reached)'} | {j['meta_seeds']} × "
                       f"{'/'.join(map(str, j['n']))} |")
    return out + [""]


def secondary(data: list[dict]) -> list[str]:
    """Every other comparison with random, per game: 95% intervals, labelled secondary."""
    out = ["## Stage 3, secondary (95% intervals, normalized by random's sd, not corrected)", "",
           "| evaluation | game | comparison | estimate [interval] | seeds (or note) |",
           "|---|---|---|---|---|"]
    for evaluation in ("heldout", "heldout-baselines", "pool"):
        for game in HELD_OUT + POOL:
            v = per_seed(data, evaluation, game)
            if "random" not in v:
                continue
            for method in sorted({m.split("#")[0] for m in v} - {"random"}):
                group = members(v, method)
                if len(group) > 1:
                    d = game_gain(group, v["random"])
                    out.append(f"| {evaluation} | {game} | {method} − random (hierarchical) | "
                               f"{ci(d)} | {d['meta_seeds']} × {max(d['n'])} |")
                    for k, m in enumerate(group):
                        out.append(_paired_row(evaluation, game, f"{method}#{k} − random",
                                               m, v["random"]))
                    bca = hierarchical_bootstrap(normalized_differences(group, v["random"])[0],
                                                 method="bca")
                    out.append(f"| {evaluation} | {game} | {method} − random (BCa) | {ci(bca)} "
                               f"| {bca['note'] or ''} |")
                else:
                    out.append(_paired_row(evaluation, game, f"{method} − random", group[0],
                                           v["random"]))
    return out + [""]


def contrasts(data: list[dict]) -> list[str]:
    """Leap − Reptile and Leap − joint on the held-out games, on (b)'s seeds and random runs."""
    out = ["## Stage 3, Leap against the other pretraining (secondary, 95%, not corrected)", "",
           "Each method's normalized gain over (b)'s random runs on the seeds (b) ran, then the "
           "difference (`leap_rl/evaluation/bootstrap.py`, `hierarchical_contrast`).", "",
           "| game | comparison | estimate [interval] | meta-seeds | seeds |",
           "|---|---|---|---|---|"]
    for game in HELD_OUT:
        leap = members(per_seed(data, "heldout", game), "leap")
        other = per_seed(data, "heldout-baselines", game)
        for method in ("reptile", "joint"):
            if leap and "random" in other and members(other, method):
                d = method_contrast(leap, members(other, method), other["random"])
                out.append(f"| {game} | leap − {method} | {ci(d)} | "
                           f"{'/'.join(map(str, d['meta_seeds']))} | {max(d['n'])} |")
    return out + [""] if len(out) > 5 else []


def _paired_row(evaluation: str, game: str, label: str, x: dict, random: dict) -> str:
    d = verdict.paired(x, random)
    return f"| {evaluation} | {game} | {label} | {ci(d)} | {d['n']} |"


def health() -> list[str]:
    data = [r for r in rows("health.csv") if r["layer"] == "fc"]
    if not data:
        return []
    games = POOL + HELD_OUT
    out = ["## θ⁰ health: fc τ-dormant share (τ = 0.025) on each game's frames", "",
           "| θ⁰ | " + " | ".join(g.split("/")[1] for g in games) + " |",
           "|---" * (len(games) + 1) + "|"]
    for init in dict.fromkeys(r["init"] for r in data):
        cells = {r["game"]: float(r["dormant_0.025"]) for r in data if r["init"] == init}
        out.append(f"| {init} | " + " | ".join(f(cells.get(g), ".0%") for g in games) + " |")
    return out + [""]


def figure() -> None:
    """Figure 4's style from the curves' summary: mean ± 1 sd over seeds per method and game."""
    data = rows("stage3_curves.csv")
    if not data:
        return
    from matplotlib.figure import Figure

    panels = sorted({(r["evaluation"], r["game"]) for r in data})
    names = sorted({r["method"] for r in data})
    color = {m: f"C{k % 10}" for k, m in enumerate(names)}  # one colour per method everywhere
    cols = 3
    rows_ = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows_))
    for k, (evaluation, game) in enumerate(panels):
        ax = fig.add_subplot(rows_, cols, k + 1)
        for method in sorted({r["method"] for r in data if r["game"] == game
                              and r["evaluation"] == evaluation}):
            pts = [r for r in data if (r["evaluation"], r["game"], r["method"]) ==
                   (evaluation, game, method)]
            x = [int(r["step"]) for r in pts]
            mean, sd = [float(r["mean"]) for r in pts], [float(r["sd"]) for r in pts]
            ax.plot(x, mean, label=method, linewidth=1, color=color[method])
            ax.fill_between(x, [m - s for m, s in zip(mean, sd)],
                            [m + s for m, s in zip(mean, sd)], color=color[method], alpha=0.1)
        ax.set(title=f"{game} ({evaluation})", xlabel="agent steps (thousands)",
               ylabel="return (MA 100)")
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=90)
    print(f"wrote {FIGURE}")


def main() -> None:
    runs = rows("stage3_runs.csv")
    lines = ["# The validated MinAtar study: tables (generated)", "",
             "`.venv/bin/python scripts/minatar_v2.py report` from the CSVs beside this file.", ""]
    selection = DATA / "selection.json"
    if selection.is_file():
        sel = json.loads(selection.read_text())
        lines += ["Choices: " + json.dumps({k: v for k, v in {
            "lr_star": sel.get("stage0", {}).get("lr_star"),
            "leap": sel.get("stage1", {}).get("leap", {}).get("pair"),
            "reptile": sel.get("stage1", {}).get("reptile", {}).get("pair"),
            "arm": sel.get("revalidation", {}).get("chosen")}.items() if v is not None}), ""]
    judged = verdict.primary(runs)
    lines += stage0() + stages12() + primary(judged)
    lines += (secondary(runs) + contrasts(runs) if runs else []) + health()
    if runs:
        lines += verdict.lines(verdict.verdict(runs, rows("health.csv"), judged))
    lines += meta.final_table(rows("stage12_meta.csv"), lambda x: f(x, ".0%"),
                              lambda x: f(x, ".3g"))
    lines += meta.table(rows("stage3_meta.csv"), lambda x: f(x, ".3g"))
    (DATA / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    figure()


if __name__ == "__main__":
    main()
