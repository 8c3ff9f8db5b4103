"""The validated MinAtar study (docs/results.md, "The validated MinAtar study"), stage by stage,
with its selection rules in code (leap_rl/sweep/select.py). Every stage resumes: run the same
command again after an interruption. Each stage writes its per-seed data to
docs/results/minatar_v2/ and its choices to ROOT/selection.json (copied there too).

    .venv/bin/python scripts/minatar_v2.py stage0        # random θ⁰'s best inner lr (lr*)
    .venv/bin/python scripts/minatar_v2.py stage1        # the screen, Leap and Reptile
    .venv/bin/python scripts/minatar_v2.py stage2        # remedies at Leap's chosen pair
    .venv/bin/python scripts/minatar_v2.py revalidate    # the top three arms on fresh seeds
    .venv/bin/python scripts/minatar_v2.py budget        # projected agent steps per stage

Stage 3 (scripts/minatar_v2_stage3.py), and the report:

    .venv/bin/python scripts/minatar_v2.py train3        # Leap, Reptile, joint × meta-seeds 10–12
    .venv/bin/python scripts/minatar_v2.py heldout       # held-out games, seeds 100–129
    .venv/bin/python scripts/minatar_v2.py pool          # pool games, seeds 3,000,000–3,000,009
    .venv/bin/python scripts/minatar_v2.py health        # θ⁰ health of every θ⁰ of the study
    .venv/bin/python scripts/minatar_v2.py diagnostics   # θ⁰ and d₁/d₂ per meta-step, every run
    .venv/bin/python scripts/minatar_v2.py report        # every table and figure, from the data

Needs: pip install 'leap-rl[minatar]'.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))

from leap_rl.sweep.select import (
    arm_scores,
    final_gain,
    read_validations,
    relative_auc_choice,
)

SWEEPS = ROOT_DIR / "configs" / "sweeps" / "minatar_v2"
DATA = ROOT_DIR / "docs" / "results" / "minatar_v2"
LEAP = "leap-rl"
FINAL_META_STEP = 8  # configs/minatar_v2_screen.yaml's meta.meta_steps
REPTILE = ["leap.loss_in_manifold=false", "leap.stabilizer=false"]
ARMS = {  # stage 2's remedies (docs/results.md)
    "none": [],
    "redo": ["remedies.redo_every=1", "remedies.redo_tau=0.025"],
    "shrink_perturb": ["remedies.shrink_perturb_every=1", "remedies.shrink=0.9",
                       "remedies.perturb=0.44"],
    "layer_norm": ["inner.layer_norm=true"],
    "balance": ["meta.balance=norm"],
}
REVALIDATION = {"seeds": 5, "first_seed": 2_000_000, "steps": 200_000, "top": 3}


def run(cmd: list[str]) -> None:
    """Runs a command of the study, echoed; stops the study when it fails."""
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT_DIR, check=True)


def sweep(spec: Path, out: Path, sets: list[str], concurrent: int) -> None:
    """Starts the sweep into ``out``, or finishes it when ``out`` already holds it."""
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / LEAP), "sweep"]
    if (out / "spec.yaml").is_file():
        cmd += ["--resume", str(out)]
    else:
        cmd += [str(spec), "--out", str(out)] + [f"--set={s}" for s in sets]
    run(cmd + ["--max-concurrent", str(concurrent)])


def load_selection(root: Path) -> dict:
    path = root / "selection.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def save_selection(root: Path, selection: dict) -> None:
    text = json.dumps(selection, indent=2, sort_keys=True) + "\n"
    (root / "selection.json").write_text(text)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "selection.json").write_text(text)


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict]) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {os.path.relpath(path, ROOT_DIR)} ({len(rows)} rows)")


def stage0(root: Path) -> None:
    """Random θ⁰'s learning rate: the grid, extended by a factor of 2 while lr* is at an end."""
    rows, extra = [], []
    sweep(SWEEPS / "stage0.yaml", root / "stage0", [], concurrent=2)
    rows += read_rows(root / "stage0" / "results.csv")
    while True:
        result = relative_auc_choice(rows, value_key="inner.learning_rate")
        rates = sorted(result["scores"])
        if not result["at_edge"]:
            break
        beyond = rates[0] / 2 if result["choice"] == rates[0] else rates[-1] * 2
        print(f"lr* {result['choice']:g} is an end of the grid: adding {beyond:g}")
        out = root / f"stage0-extra-{beyond:g}"
        _stage0_extra(out, beyond)
        extra.append(beyond)
        rows += read_rows(out / "results.csv")
    write_rows(DATA / "stage0.csv", [_stage0_row(r) for r in rows])
    selection = load_selection(root)
    selection["stage0"] = {"lr_star": result["choice"], "scores": result["scores"],
                           "extended_with": extra}
    save_selection(root, selection)
    print("stage 0 scores (mean relative AUC): " + ", ".join(
        f"{v:g}: {s:.3f}" for v, s in sorted(result["scores"].items())))
    print(f"lr* = {result['choice']:g}")


def _stage0_extra(out: Path, rate: float) -> None:
    """One more learning-rate column of stage 0 (every game and seed) as a sweep of its own."""
    import yaml

    spec = yaml.safe_load((SWEEPS / "stage0.yaml").read_text())
    spec["axes"]["inner.learning_rate"] = [rate]
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    sweep(path, out, [], concurrent=2)


def _stage0_row(row: dict) -> dict:
    return {k: row.get(k) for k in ("task.game", "inner.learning_rate", "seed", "auc",
                                     "final_return", "status", "git_commit")}


def baseline_sets(root: Path, lr_star: float) -> list[str]:
    """Every validation of the study: random θ⁰ at lr*, plain network, one shared cache."""
    return [f"validation.baseline={{inner.learning_rate: {lr_star!r}, inner.layer_norm: false}}",
            f"validation.cache_dir={root / 'baseline-cache'}"]


def trial_gains(sweep_dir: Path, **labels) -> list[dict]:
    """Per trial of a finished train sweep: its settings, and its gains after meta-steps 4, 8."""
    rows = []
    for row in read_rows(sweep_dir / "results.csv"):
        records = read_validations(sweep_dir / "trials" / row["trial"])
        rows.append({**labels, "trial": row["trial"], "fold": row.get("fold"),
                     "seed": row.get("seed", "0"),
                     "inner.learning_rate": row.get("inner.learning_rate"),
                     "meta.learning_rate": row.get("meta.learning_rate"),
                     "status": row["status"], "gain_4": final_gain(records, 4),
                     "gain": final_gain(records, FINAL_META_STEP)})
    return rows


def stage1(root: Path) -> None:
    """The screen for Leap and for Reptile; each method's best (inner lr, meta lr) pair."""
    selection = load_selection(root)
    lr_star = selection["stage0"]["lr_star"]
    sweep(SWEEPS / "stage1.yaml", root / "stage1-leap", baseline_sets(root, lr_star), 1)
    sweep(SWEEPS / "stage1.yaml", root / "stage1-reptile",
          baseline_sets(root, lr_star) + REPTILE + ["name=minatar_v2_reptile"], 1)
    trials = (trial_gains(root / "stage1-leap", method="leap")
              + trial_gains(root / "stage1-reptile", method="reptile"))
    write_rows(DATA / "stage1.csv", trials)
    keys = ["inner.learning_rate", "meta.learning_rate"]
    selection["stage1"] = {}
    for method in ("leap", "reptile"):
        arms = arm_scores([t for t in trials if t["method"] == method], keys)
        for arm in arms:
            print(f"{method} {arm[keys[0]]} × {arm[keys[1]]}: score {arm['score']}")
        if arms[0]["score"] is None:
            raise SystemExit(f"stage 1: {method} has no complete arm; resume the sweep")
        selection["stage1"][method] = {"pair": {k: float(arms[0][k]) for k in keys},
                                       "arms": arms}
    save_selection(root, selection)


def stage2(root: Path) -> None:
    """The remedies at Leap's chosen pair; the arms' scores, the top three for re-validation."""
    selection = load_selection(root)
    lr_star, pair = selection["stage0"]["lr_star"], selection["stage1"]["leap"]["pair"]
    sets = baseline_sets(root, lr_star) + [f"{k}={v!r}" for k, v in pair.items()]
    trials = []
    for arm, arm_sets in ARMS.items():
        out = root / f"stage2-{arm}"
        sweep(SWEEPS / "stage2.yaml", out, sets + arm_sets + [f"name=minatar_v2_{arm}"], 1)
        trials += trial_gains(out, arm=arm)
    first = [t for t in trial_gains(root / "stage1-leap", arm="none")
             if all(float(t[k]) == v for k, v in pair.items())]
    trials += first  # the arm without remedies at seed 0 is stage 1's trial
    write_rows(DATA / "stage2.csv", trials)
    arms = arm_scores(trials, ["arm"])
    for arm in arms:
        print(f"{arm['arm']}: score {arm['score']} over {arm['trials']} trials")
    selection["stage2"] = {"arms": arms, "top": [a["arm"] for a in arms[:REVALIDATION["top"]]]}
    save_selection(root, selection)


def revalidate(root: Path) -> None:
    """The top arms' final θ⁰s on their fold's game, fresh seeds, one evaluation per fold (its
    random runs shared by the arms); the chosen arm has the highest mean gain over its θ⁰s."""
    selection = load_selection(root)
    lr_star, pair = selection["stage0"]["lr_star"], selection["stage1"]["leap"]["pair"]
    trials = read_rows(DATA / "stage2.csv")
    scores, rows = {}, []
    for fold in sorted({t["fold"] for t in trials}):
        out = root / "revalidation" / fold.replace("/", "-")
        inits = [_arm_init(root, arm, fold, trials, pair) for arm in selection["stage2"]["top"]]
        evaluate(out, [fold], inits + [f"random@inner.learning_rate={lr_star!r}"],
                 seeds=REVALIDATION["seeds"], first_seed=REVALIDATION["first_seed"],
                 steps=REVALIDATION["steps"])
        rows += _revalidation_rows(out, fold, selection["stage2"]["top"])
    for arm in selection["stage2"]["top"]:
        gains = [r["gain"] for r in rows if r["arm"] == arm]
        scores[arm] = (sum(gains) / len(gains)) if gains and None not in gains else None
        print(f"{arm}: re-validation gain {scores[arm]} over {len(gains)} θ⁰s")
    write_rows(DATA / "revalidation.csv", rows)
    complete = {a: s for a, s in scores.items() if s is not None}
    selection["revalidation"] = {"scores": scores,
                                 "chosen": max(complete, key=complete.get) if complete else None}
    save_selection(root, selection)
    print(f"chosen arm: {selection['revalidation']['chosen']}")


def _arm_init(root: Path, arm: str, fold: str, trials: list[dict], pair: dict) -> str:
    """``--init`` of one arm on one fold: its θ⁰s (one per meta-training seed) and inner lr."""
    paths = []
    for t in sorted((t for t in trials if t["arm"] == arm and t["fold"] == fold),
                    key=lambda t: int(t["seed"])):
        sweep_dir = root / ("stage1-leap" if int(t["seed"]) == 0 else f"stage2-{arm}")
        paths.append(str(sweep_dir / "trials" / t["trial"] / "init" / "encoder.pt"))
    extra = "".join(f"@{s}" for s in ARMS[arm] if s.startswith("inner."))
    return f"{arm}={','.join(paths)}@inner.learning_rate={pair['inner.learning_rate']!r}{extra}"


def evaluate(out: Path, games: list[str], inits: list[str], *, seeds: int, first_seed: int,
             steps: int, config: str = "configs/minatar.yaml") -> None:
    """``leap-rl evaluate`` into ``out``, or its ``--resume`` when ``out`` holds it."""
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / LEAP), "evaluate", "--config", config, "--games", ",".join(games),
           "--seeds", str(seeds), "--first-seed", str(first_seed), "--steps", str(steps),
           "--out", str(out)]
    cmd += [f"--init={i}" for i in inits]
    run(cmd + (["--resume"] if (out / "evaluation.json").is_file() else []))


def _revalidation_rows(out: Path, game: str, arms: list[str]) -> list[dict]:
    """Per θ⁰ of each arm: its per-seed AUCs, the random runs', and the validation's gain."""
    from leap_rl.config import load_config
    from leap_rl.evaluation.report import read_curves
    from leap_rl.validation.metric import game_gain, run_auc

    # the validation's window and floors, as stages 1 and 2 measured their gains
    v = load_config(ROOT_DIR / "configs" / "minatar_v2_screen.yaml").validation
    steps = REVALIDATION["steps"]
    aucs: dict[str, dict[int, float | None]] = {}
    for (_, method, seed), episodes in read_curves(out / "curves.csv").items():
        aucs.setdefault(method, {})[seed] = run_auc(episodes, steps, v.window)
    random = [aucs.get("random", {}).get(s) for s in _seeds()]
    rows = []
    for method in sorted(m for m in aucs if m.split("#")[0] in arms):
        init = [aucs[method].get(s) for s in _seeds()]
        gain = game_gain(init, random, v.std_floor, v.std_floor_relative)["gain"]
        rows.append({"arm": method.split("#")[0], "member": method, "fold": game,
                     "aucs": json.dumps(init), "random_aucs": json.dumps(random), "gain": gain})
    return rows


def _seeds() -> list[int]:
    first = REVALIDATION["first_seed"]
    return list(range(first, first + REVALIDATION["seeds"]))


def sweep_steps(spec: str, sets: list[str] = ()) -> int:
    """The agent steps ``leap-rl sweep SPEC --dry-run`` projects (training and validation
    learners from θ⁰; cached baseline runs not counted)."""
    from leap_rl.sweep.spec import read_spec
    from leap_rl.sweep.trials import agent_steps, build_trials

    return sum(agent_steps(t) for t in build_trials(read_spec(SWEEPS / spec), list(sets)))


def budget(root: Path) -> None:
    """Projected agent steps per stage: stages 0–2 from the sweeps' own trials, the rest from
    the protocol's counts (docs/results.md, "Budget")."""
    from leap_rl.config import load_config

    v = load_config(ROOT_DIR / "configs" / "minatar_v2_screen.yaml").validation
    baseline = 3 * v.seeds * v.steps  # once per fold game, shared by every trial (cache)
    remedies = sum(sweep_steps("stage2.yaml", sets) for sets in ARMS.values())
    stages = [("0: random θ⁰'s lr", sweep_steps("stage0.yaml")),
              ("1: screen, Leap", sweep_steps("stage1.yaml") + baseline),
              ("1: screen, Reptile", sweep_steps("stage1.yaml", REPTILE)),
              (f"2: remedies ({len(ARMS)} arms)", remedies),
              # per fold: at most 7 θ⁰s (none has 3 seeds, the others 2) and random
              ("re-validation (top 3 arms)", 3 * (7 + 1) * REVALIDATION["seeds"]
               * REVALIDATION["steps"]),
              # stage 3 (docs/results.md): 3 meta-training seeds of configs/minatar.yaml's scale
              ("3: Leap, Reptile, joint × 3 seeds", 3 * 3 * 18_000_000),
              # held out: 30 seeds × (3 Leap + 3 Reptile + 3 joint θ⁰s, random twice (the primary
              # evaluation's and the baselines'), scaled, negative)
              ("3: held-out evaluation (2 games)", 2 * 30 * 13 * 300_000),
              # pool: 10 seeds × (3 Leap θ⁰s, random)
              ("3: pool evaluation (3 games)", 3 * 10 * 4 * 300_000)]
    rate = 20_000  # agent steps/s on the 2 cores (docs/results.md, "Budget")
    for name, steps in stages:
        print(f"{name:<44} {steps / 1e6:8.1f}M agent steps {steps / rate / 3600:6.2f} h")
    total = sum(s for _, s in stages)
    print(f"{'total':<44} {total / 1e6:8.1f}M agent steps {total / rate / 3600:6.2f} h")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=["stage0", "stage1", "stage2", "revalidate", "budget",
                                          "train3", "heldout", "pool", "health", "diagnostics",
                                          "report"])
    parser.add_argument("--root", default="runs/minatar_v2", help="where the study's runs go")
    parser.add_argument("--methods", default="leap,reptile,joint",
                        help="train3 only: which meta-learners to train (in the registered order)")
    parser.add_argument("--baseline-seeds", type=int, default=None,
                        help="heldout only: seeds for (b), Reptile and joint against random "
                             "(the budget rule's cut is 10: seeds 100-109; default all 30)")
    args = parser.parse_args(argv)
    os.chdir(ROOT_DIR)  # the specs' base paths resolve against the current directory
    root = (ROOT_DIR / args.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stages = {"stage0": stage0, "stage1": stage1, "stage2": stage2, "revalidate": revalidate,
              "budget": budget}
    if args.stage in stages:
        stages[args.stage](root)
    elif args.stage == "report":
        import minatar_v2_report  # reads docs/results/minatar_v2/ only

        minatar_v2_report.main()
    else:
        import minatar_v2_stage3 as stage3

        if args.stage == "train3":
            methods = tuple(args.methods.split(","))
            if not set(methods) <= set(stage3.METHODS):
                parser.error(f"--methods: each of {', '.join(stage3.METHODS)}, comma-separated")
            stage3.train3(root, methods)
        elif args.stage == "heldout":
            if args.baseline_seeds is not None and not 1 <= args.baseline_seeds <= 30:
                parser.error("--baseline-seeds: between 1 and 30 (the registered seeds 100-129)")
            stage3.heldout(root, args.baseline_seeds)
        else:
            getattr(stage3, args.stage)(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
