"""The validated MinAtar study's verdict, by the rules registered before stage 3 (docs/results.md,
"Stage 3's evaluation in detail", "Controls and health" and "The hypothesis"):

- a held-out game *counts* when Holm rejects "no gain" there (the primary interval) and the
  estimate is above zero;
- the *positive control* holds on a pool game when Leap − random's hierarchical 95% interval
  lies above zero;
- the *negative control* holds on a held-out game when negative − random's paired 95% interval
  contains zero;
- a game shows *dormant collapse* when the mean over Leap's θ⁰s of the fc τ-dormant share
  (τ = 0.025) exceeds random θ⁰'s (evaluation seed 100's encoder) by more than 10 points;
- the hypothesis holds iff the positive control holds on every pool game, at least one held-out
  game counts and no game of the five shows dormant collapse.

Input: stage3_runs.csv's and health.csv's rows; a rule whose data are missing is "pending", and
so is the hypothesis unless a rule with data already refutes it.
"""

from __future__ import annotations

from collections import defaultdict

from leap_rl.evaluation.confirm import game_gain, holm_judgement
from leap_rl.evaluation.stats import bootstrap_difference, normalizer

POOL = ["MinAtar/Asterix", "MinAtar/Freeway", "MinAtar/Seaquest"]
HELD_OUT = ["MinAtar/Breakout", "MinAtar/SpaceInvaders"]
COLLAPSE_POINTS = 0.10  # fc τ-dormant share above random θ⁰'s that counts as collapse
TAU = "dormant_0.025"
LEAP_INITS = ("stage3/leap-10", "stage3/leap-11", "stage3/leap-12")
RANDOM_INIT = "random/seed-100"


def per_seed(runs: list[dict], evaluation: str, game: str) -> dict[str, dict[int, float]]:
    """method → {seed: AUC} of one evaluation's game (runs without an AUC left out)."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for r in runs:
        if (r["evaluation"], r["game"]) == (evaluation, game) and r["auc"] not in ("", "None"):
            out[r["method"]][int(r["seed"])] = float(r["auc"])
    return out


def members(values: dict, method: str) -> list[dict]:
    """The per-seed values of ``method``'s members (method#0, method#1, … or method alone)."""
    return [values[m] for m in sorted(values) if m.split("#")[0] == method]


def paired(x: dict[int, float], random: dict[int, float]) -> dict:
    """x − random per seed, normalized by random's spread, with its paired 95% interval."""
    scale = normalizer(list(random.values()))["scale"]
    return bootstrap_difference({s: v / scale for s, v in x.items()},
                                {s: v / scale for s, v in random.items()})


def primary(runs: list[dict]) -> dict:
    """The primary judgement (Holm over the held-out games), or {} until both games have data."""
    games = {g: (members(v, "leap"), v["random"]) for g in HELD_OUT
             if (v := per_seed(runs, "heldout", g)) and "random" in v and members(v, "leap")}
    return holm_judgement(games) if set(games) == set(HELD_OUT) else {}


def counts(judged: dict) -> dict[str, bool | None]:
    """Per held-out game: does it count for the hypothesis (Holm rejects, estimate > 0)?"""
    if not judged:
        return {g: None for g in HELD_OUT}
    return {g: bool(judged[g]["rejected"] and judged[g]["mean"] > 0) for g in HELD_OUT}


def positive_control(runs: list[dict]) -> dict[str, bool | None]:
    """Per pool game: Leap − random's hierarchical 95% interval above zero."""
    out = {}
    for game in POOL:
        v = per_seed(runs, "pool", game)
        leap = members(v, "leap")
        ok = "random" in v and leap
        out[game] = bool(game_gain(leap, v["random"])["low"] > 0) if ok else None
    return out


def negative_control(runs: list[dict]) -> dict[str, bool | None]:
    """Per held-out game: negative − random's paired 95% interval contains zero."""
    out = {}
    for game in HELD_OUT:
        v = per_seed(runs, "heldout", game)
        if "random" not in v or "negative" not in v:
            out[game] = None
            continue
        d = paired(v["negative"], v["random"])
        out[game] = bool(d["low"] <= 0 <= d["high"])
    return out


def collapse(health: list[dict]) -> dict[str, bool | None]:
    """Per game of the five: Leap's mean fc τ-dormant share − random θ⁰'s > 10 points."""
    share = {(r["init"], r["game"]): float(r[TAU]) for r in health if r["layer"] == "fc"}
    out = {}
    for game in POOL + HELD_OUT:
        leap = [share[(i, game)] for i in LEAP_INITS if (i, game) in share]
        random = share.get((RANDOM_INIT, game))
        out[game] = (None if len(leap) < len(LEAP_INITS) or random is None
                     else bool(sum(leap) / len(leap) - random > COLLAPSE_POINTS))
    return out


def verdict(runs: list[dict], health: list[dict], judged: dict | None = None) -> dict:
    """Every rule's outcome per game, and the hypothesis: True, False or None (pending);
    ``judged``: ``primary(runs)`` where the caller has it already."""
    judged = primary(runs) if judged is None else judged
    parts = {"counts": counts(judged), "positive": positive_control(runs),
             "negative": negative_control(runs), "collapse": collapse(health)}
    counted, positive, collapsed = (list(parts[k].values())
                                    for k in ("counts", "positive", "collapse"))
    if (None not in counted and not any(counted)) or False in positive or True in collapsed:
        holds = False  # one failed rule decides, whatever is still missing
    elif None in counted + positive + collapsed:
        holds = None
    else:
        holds = True
    return {**parts, "hypothesis": holds}


def lines(result: dict) -> list[str]:
    """The verdict as Markdown for report.md."""
    word = {True: "yes", False: "no", None: "pending"}
    rule = {"counts": "held-out game counts (Holm rejects, estimate > 0)",
            "positive": "positive control: Leap − random 95% interval above zero (pool)",
            "negative": "negative control: negative − random 95% interval contains zero",
            "collapse": "dormant collapse: Leap's fc τ-dormant share > random's + 10 points"}
    out = ["## Verdict by the registered rules", "", "| rule | game | outcome |", "|---|---|---|"]
    for key, text in rule.items():
        out += [f"| {text} | {game} | {word[v]} |" for game, v in result[key].items()]
    return out + ["", f"**The hypothesis holds: {word[result['hypothesis']]}.**", ""]
