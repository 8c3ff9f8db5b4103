"""The pool pilot of docs/results.md: one A2C agent per pool game and inner learning rate.

    .venv/bin/python scripts/minatar_pilot.py --lrs 2e-4 7e-4 2e-3 4e-3 8e-3 --steps 500000

Pool games only (configs/minatar.yaml's meta.pool): nothing here may touch a held-out game.
Prints, per game and learning rate, the AUC (mean over the run of the 50-episode moving average
of the return), the final moving average, and how far the encoder's weights moved (RMS per
coordinate, per tensor), which sized the meta learning rate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from leap_rl.agent import encoder_state
from leap_rl.backends.a2c_task import build_learner, make_accumulator
from leap_rl.config import load_config

CONFIG = Path(__file__).parents[1] / "configs" / "minatar.yaml"


def run(game: str, lr: float, steps: int, seed: int) -> dict:
    cfg = load_config(CONFIG, [f"inner.learning_rate={lr}"])
    learner = build_learner(game, cfg, seed=seed, accumulator=make_accumulator(cfg))
    start, returns, curve = encoder_state(learner.model), [], []
    for report in learner.train(steps, 100):
        returns += [ret for ret, _ in report.episodes]
        recent = returns[-50:]
        curve.append(sum(recent) / max(1, len(recent)))
    end = encoder_state(learner.model)
    learner.close()
    moved = {k: float((end[k] - v).pow(2).mean().sqrt()) for k, v in start.items()}
    return {"auc": sum(curve) / len(curve), "final": curve[-1], "moved": moved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lrs", type=float, nargs="+", default=[4e-3])
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pool = load_config(CONFIG).meta.pool
    results = {(g, lr): run(g, lr, args.steps, args.seed) for lr in args.lrs for g in pool}
    for (game, lr), r in results.items():
        moved = " ".join(f"{k.removeprefix('encoder.')} {v:.3f}" for k, v in r["moved"].items())
        print(f"{game:22s} lr {lr:g}: AUC {r['auc']:.2f} final {r['final']:.2f}  moved {moved}")
    for lr in args.lrs:
        rel = [results[g, lr]["auc"] / max(results[g, x]["auc"] for x in args.lrs) for g in pool]
        print(f"lr {lr:g}: mean relative AUC {sum(rel) / len(rel):.2f}")


if __name__ == "__main__":
    main()
