"""Stage 3 of the validated MinAtar study (docs/results.md, "Protocol, stage 3"): confirmation
training, the held-out and pool evaluations, θ⁰ health, and their per-seed data. Run through
``scripts/minatar_v2.py`` (train3 | heldout | pool | health); every part resumes.

The settings come from ROOT/selection.json (stages 0–2 and the re-validation): lr*, Leap's and
Reptile's (inner lr, meta lr) pairs and the chosen arm's remedy.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import minatar_v2 as study
import minatar_v2_meta as meta
import numpy as np

CONFIG = "configs/minatar.yaml"  # the final run's scale: 12 meta-steps × 3 games × 500,000
POOL = ["MinAtar/Asterix", "MinAtar/Freeway", "MinAtar/Seaquest"]
HELD_OUT = ["MinAtar/Breakout", "MinAtar/SpaceInvaders"]
META_SEEDS = (10, 11, 12)
NEGATIVE_SEED = 424242  # the negative control: another random θ⁰, evaluated as an "init"
STEPS, WINDOW = 300_000, 100  # every evaluation run; the AUC's moving-average window
HELD_OUT_SEEDS, HELD_OUT_FIRST = 30, 100
POOL_SEEDS, POOL_FIRST = 10, 3_000_000
EVALUATIONS = ("heldout", "heldout-baselines", "pool")
GRID = np.linspace(0, STEPS, 31)  # the curves' summary points (figure 4)


def settings(root: Path) -> dict:
    """lr*, and per meta-learner its training --sets and its evaluation's inner overrides."""
    sel = study.load_selection(root)
    arm = sel.get("revalidation", {}).get("chosen")
    if arm is None:
        raise SystemExit("stage 3 needs the re-validation's chosen arm: run revalidate first")
    lr_star = sel["stage0"]["lr_star"]
    out = {"lr_star": lr_star, "arm": arm}
    for method, extra in (("leap", []), ("reptile", study.REPTILE)):
        pair = sel["stage1"][method]["pair"]
        sets = extra + [f"{k}={v!r}" for k, v in pair.items()] + study.ARMS[arm]
        out[method] = {"sets": sets, "inner": [s for s in sets if s.startswith("inner.")]}
    return out


def run_dir(root: Path, method: str, seed: int) -> Path:
    return root / "stage3" / f"{method}-{seed}"


def init_path(root: Path, method: str, seed: int) -> Path:
    return run_dir(root, method, seed) / "init" / "encoder.pt"


def finished(root: Path, method: str, seed: int) -> bool:
    """A stage-3 run whose θ⁰ is final: joint's summary is written, or Leap's/Reptile's θ⁰
    holds the config's last meta-step (a running run's init file is an interim θ⁰)."""
    from leap_rl.config import load_config
    from leap_rl.io.artifacts import load_init

    if method == "joint":
        return (run_dir(root, method, seed) / "summary.json").is_file()
    path, last = init_path(root, method, seed), load_config(study.ROOT_DIR / CONFIG).meta.meta_steps
    return path.is_file() and (load_init(path)["meta_step"] or 0) >= last


METHODS = ("leap", "reptile", "joint")  # the registered order of stage 3's training


def train3(root: Path, methods: tuple[str, ...] = METHODS) -> None:
    """Leap for meta-seeds 10–12 first (the primary comparison), then Reptile, then joint;
    ``methods`` picks some of them (the primary evaluation can start once Leap's are done)."""
    s = settings(root)
    leap_rl = str(Path(study.sys.executable).parent / study.LEAP)
    for method in (m for m in ("leap", "reptile") if m in methods):
        for seed in META_SEEDS:
            out = run_dir(root, method, seed)
            if finished(root, method, seed):
                print(f"{out}: complete")
                continue
            study.run([leap_rl, "train", CONFIG, "--out", str(out), "--resume-if-exists",
                       f"--set=seed={seed}", f"--set=name=minatar_v2_{method}_{seed}"]
                      + [f"--set={x}" for x in s[method]["sets"]])
    for seed in META_SEEDS if "joint" in methods else ():
        out = run_dir(root, "joint", seed)
        if finished(root, "joint", seed):
            print(f"{out}: complete")
            continue
        study.run([leap_rl, "pretrain-joint", CONFIG, "--out", str(out), "--seed", str(seed),
                   f"--set=inner.learning_rate={s['lr_star']!r}", "--resume"])
    export_meta(root)


def diagnostics(root: Path) -> None:
    """Meta-training diagnostics of every meta-training run of the study: stages 1–2's trials
    and stage 3's Leap and Reptile runs (scripts/minatar_v2_meta.py)."""
    meta.export(meta.sweep_runs(root), study.DATA / "stage12_meta.csv", study.write_rows)
    export_meta(root)


def export_meta(root: Path) -> None:
    """Leap's and Reptile's meta-training diagnostics per meta-step (scripts/minatar_v2_meta.py)."""
    runs = {(m, seed): run_dir(root, m, seed) for m in ("leap", "reptile") for seed in META_SEEDS}
    meta.export(runs, study.DATA / "stage3_meta.csv", study.write_rows)


def negative_init(root: Path) -> Path:
    """The negative control's θ⁰: a random encoder of seed 424242, saved as an init file."""
    from leap_rl.config import load_config, with_overrides
    from leap_rl.distributed.driver import initial_init
    from leap_rl.io.artifacts import save_init

    path = root / "stage3" / "negative" / "encoder.pt"
    if not path.is_file():
        cfg = with_overrides(load_config(study.ROOT_DIR / CONFIG), [f"seed={NEGATIVE_SEED}"])
        params, shape = initial_init(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_init(path, params, architecture=cfg.inner.encoder, observation_shape=shape,
                  meta_step=0, extra={"control": f"random θ⁰ of seed {NEGATIVE_SEED}"})
    return path


def _inits(root: Path, method: str) -> str:
    missing = [str(run_dir(root, method, seed)) for seed in META_SEEDS
               if not finished(root, method, seed)]
    if missing:
        raise SystemExit(f"stage 3: no final θ⁰ in {', '.join(missing)}: run train3 first")
    return ",".join(str(init_path(root, method, seed)) for seed in META_SEEDS)


def _at(overrides: list[str]) -> str:
    return "".join(f"@{o}" for o in overrides)


def heldout(root: Path, baseline_seeds: int | None = None) -> None:
    """The primary evaluation (Leap, scale-matched, negative control, random; 30 seeds), then
    Reptile and joint against random on the same seeds (cut to ``baseline_seeds`` only if the
    budget forces it, as registered)."""
    s, lr = settings(root), f"@inner.learning_rate={settings(root)['lr_star']!r}"
    leap_at = _at(s["leap"]["inner"])
    study.evaluate(root / "stage3" / "heldout", HELD_OUT, [
        f"leap={_inits(root, 'leap')}{leap_at}",
        f"scaled=scaled:{init_path(root, 'leap', META_SEEDS[0])}{leap_at}",
        f"negative={negative_init(root)}{lr}", f"random{lr}"],
        seeds=HELD_OUT_SEEDS, first_seed=HELD_OUT_FIRST, steps=STEPS, config=CONFIG)
    export(root)
    if not all(finished(root, m, seed) for m in ("reptile", "joint") for seed in META_SEEDS):
        print("stage 3: (b) waits for Reptile's and joint's θ⁰s (train3); (a) is done")
        return
    study.evaluate(root / "stage3" / "heldout-baselines", HELD_OUT, [
        f"reptile={_inits(root, 'reptile')}{_at(s['reptile']['inner'])}",
        f"joint={_inits(root, 'joint')}{lr}", f"random{lr}"],
        seeds=baseline_seeds or HELD_OUT_SEEDS, first_seed=HELD_OUT_FIRST, steps=STEPS,
        config=CONFIG)
    export(root)


def pool(root: Path) -> None:
    """The positive control and in-distribution check: Leap's θ⁰s on the pool, new seeds."""
    s = settings(root)
    study.evaluate(root / "stage3" / "pool", POOL, [
        f"leap={_inits(root, 'leap')}{_at(s['leap']['inner'])}",
        f"random@inner.learning_rate={s['lr_star']!r}"],
        seeds=POOL_SEEDS, first_seed=POOL_FIRST, steps=STEPS, config=CONFIG)
    export(root)


def export(root: Path) -> None:
    """Every finished evaluation's per-run AUC and final score, and its curves on a grid (mean
    and standard deviation over seeds), into docs/results/minatar_v2/."""
    from leap_rl.evaluation.report import load_runs
    from leap_rl.evaluation.stats import auc, final_score, moving_average, on_grid

    runs, curves = [], []
    for name in EVALUATIONS:
        out = root / "stage3" / name
        if not (out / "curves.csv").is_file():
            continue
        per_method: dict[tuple[str, str], list[np.ndarray]] = {}
        for (game, method, seed), (steps, returns, total) in sorted(load_runs(out)[0].items()):
            ma = moving_average(returns, WINDOW) if len(returns) else np.array([])
            runs.append({"evaluation": name, "game": game, "method": method, "seed": seed,
                         "auc": auc(steps, ma, total), "final": final_score(returns, WINDOW),
                         "episodes": len(returns), "agent_steps": total})
            per_method.setdefault((game, method), []).append(on_grid(steps, ma, GRID))
        for (game, method), rows in sorted(per_method.items()):
            with warnings.catch_warnings():  # a grid point before any run's first episode: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                table = np.vstack(rows)
                means, sds = np.nanmean(table, 0), np.nanstd(table, 0, ddof=1)
            for step, mean, sd in zip(GRID, means, sds):
                curves.append({"evaluation": name, "game": game, "method": method,
                               "step": int(step), "mean": round(float(mean), 4),
                               "sd": round(float(sd), 4), "seeds": len(rows)})
    if runs:
        study.write_rows(study.DATA / "stage3_runs.csv", runs)
        study.write_rows(study.DATA / "stage3_curves.csv", curves)
    export_meta(root)


def study_inits(root: Path) -> dict[str, Path]:
    """Every θ⁰ file of the study that exists: stages 1–2's final θ⁰s and stage 3's."""
    inits = {}
    for sweep_dir in sorted(root.glob("stage[12]-*")):
        for trial in sorted((sweep_dir / "trials").glob("*")):
            if (trial / "init" / "encoder.pt").is_file():
                inits[f"{sweep_dir.name}/{trial.name.split('-')[0]}"] = trial / "init/encoder.pt"
    for method in METHODS:
        for seed in META_SEEDS:
            if finished(root, method, seed):
                inits[f"stage3/{method}-{seed}"] = init_path(root, method, seed)
    if (root / "stage3" / "negative" / "encoder.pt").is_file():
        inits["stage3/negative"] = root / "stage3" / "negative" / "encoder.pt"
    return inits


def health(root: Path, frames_per_env: int = 250) -> None:
    """θ⁰ health (init_diagnostics: τ-dormant shares, weight RMS) of every θ⁰ of the study, and
    of random θ⁰s as a reference: evaluation seed 100's encoder and its scale-matched copy of
    Leap seed 10's θ⁰, on frames of random play in each pool and held-out game."""
    import init_diagnostics as diag

    from leap_rl.config import load_config
    from leap_rl.distributed.driver import initial_init
    from leap_rl.evaluation.scaled import fresh_encoder, scaled_init
    from leap_rl.io.artifacts import load_init

    cfg = load_config(study.ROOT_DIR / CONFIG)
    _, shape = initial_init(cfg)
    inits = {"random/seed-100": fresh_encoder(cfg.inner.encoder, shape, HELD_OUT_FIRST)}
    inits.update({name: load_init(path)["parameters"]
                  for name, path in study_inits(root).items()})
    if "stage3/leap-10" in inits:
        leap = inits["stage3/leap-10"]
        inits["stage3/scaled"] = scaled_init(leap, cfg.inner.encoder, shape, HELD_OUT_FIRST,
                                             layer_norm=any("norm" in k for k in leap))
    observations = {g: diag.frames(g, cfg, frames_per_env, cfg.seed) for g in POOL + HELD_OUT}
    rows = []
    for name, params in inits.items():
        rows += diag.health_rows(name, params, cfg, shape, observations)
    study.write_rows(study.DATA / "health.csv", [
        {k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()} for r in rows])

