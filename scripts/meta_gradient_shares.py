"""How much each game steers θ⁰: its share of the squared norm of the meta-step's meta-gradient.

    .venv/bin/python scripts/meta_gradient_shares.py runs/smoke-none runs/smoke-norm

Reads each run's tasks.jsonl, whose rows hold every contributing task's ‖Gτ‖, its weight wτ
(``meta.balance``) and the cosine of Gτ with the applied sum S = Σ_τ wτ Gτ. Since
‖S‖² = Σ_τ ⟨wτ Gτ, S⟩, task τ's share of it is wτ‖Gτ‖cosτ / Σ_σ wσ‖Gσ‖cosσ (the shares sum to
1; a negative share pulls against the mean). Per game: the sum of its tasks' shares in a
meta-step, averaged over the meta-steps it was drawn in, beside its fair share (its tasks over
the meta-step's tasks), mean d₁, mean ‖Gτ‖, mean weight and mean cosine.
"""

from __future__ import annotations

import sys
from collections import defaultdict

from leap_rl.distributed.runlog import read_tasks


def game_shares(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per game: ``share`` and ``fair`` (means over its meta-steps), ``tasks``, and the means of
    ``d1``, ``norm``, ``weight``, ``cos`` over its contributing tasks."""
    counted = [r for r in rows if r.get("balance_weight") is not None
               and r.get("meta_gradient_cos") is not None]
    by_step: dict[int, list[dict]] = defaultdict(list)
    for r in counted:
        by_step[r["meta_step"]].append(r)
    shares: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for step_rows in by_step.values():
        part = {id(r): r["balance_weight"] * r["meta_gradient_norm"] * r["meta_gradient_cos"]
                for r in step_rows}
        whole = sum(part.values())
        for game in {r["game"] for r in step_rows}:
            mine = [r for r in step_rows if r["game"] == game]
            share = sum(part[id(r)] for r in mine) / whole if whole else float("nan")
            shares[game].append((share, len(mine) / len(step_rows)))
    mean = lambda xs: sum(xs) / len(xs)
    return {game: {"share": mean([s for s, _ in pairs]), "fair": mean([f for _, f in pairs]),
                   "tasks": len([r for r in counted if r["game"] == game]),
                   **{key: mean([r[field] for r in counted if r["game"] == game])
                      for key, field in (("d1", "d1"), ("norm", "meta_gradient_norm"),
                                         ("weight", "balance_weight"),
                                         ("cos", "meta_gradient_cos"))}}
            for game, pairs in sorted(shares.items())}


def table(run: str) -> list[str]:
    shares = game_shares(read_tasks(run))
    lines = [f"{run}:", f"  {'game':18s} {'tasks':>5s} {'share':>7s} {'fair':>6s} {'d1':>10s} "
                        f"{'|G|':>10s} {'weight':>9s} {'cos':>6s}"]
    for game, s in shares.items():
        lines.append(f"  {game:18s} {s['tasks']:5d} {s['share']:7.1%} {s['fair']:6.1%} "
                     f"{s['d1']:10.4g} {s['norm']:10.4g} {s['weight']:9.4g} {s['cos']:6.3f}")
    return lines


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for run_dir in sys.argv[1:]:
        print("\n".join(table(run_dir)))
