"""The study's registered verdict rules (scripts/minatar_v2_verdict.py). The AUCs and dormant
shares are stand-ins drawn here: the test's point is the rules' bookkeeping (which game counts,
which control holds, what collapse is, when the verdict is pending), not any learning."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

import minatar_v2_verdict as v  # noqa: E402


def runs(gain: dict[str, float], negative_shift: float = 0.0, seeds: int = 30) -> list[dict]:
    """Stand-in stage3_runs.csv rows: random AUC ~ N(1, 0.1) per seed; Leap's three members add
    ``gain[game]`` (in random sd units) plus noise; the negative control adds its shift."""
    rng = np.random.default_rng(0)
    out = []
    for game, evaluation in [(g, "heldout") for g in v.HELD_OUT] + [(g, "pool") for g in v.POOL]:
        for seed in range(seeds):
            base = 1 + 0.1 * rng.standard_normal()
            methods = {"random": base, **{f"leap#{k}": base + 0.1 * gain[game]
                                          + 0.02 * rng.standard_normal() for k in range(3)}}
            if evaluation == "heldout":
                methods["negative"] = base + 0.1 * negative_shift + 0.02 * rng.standard_normal()
            out += [{"evaluation": evaluation, "game": game, "method": m, "seed": str(seed),
                     "auc": str(x)} for m, x in methods.items()]
    return out


def baselines(heldout_runs: list[dict]) -> list[dict]:
    """Stand-in (b) rows on the same seeds and random runs: Reptile's members gain 0, joint's 1."""
    rng = np.random.default_rng(1)
    out = []
    for r in heldout_runs:
        if r["evaluation"] == "heldout" and r["method"] == "random":
            base = float(r["auc"])
            methods = {"random": base,
                       **{f"reptile#{k}": base + 0.02 * rng.standard_normal() for k in range(3)},
                       **{f"joint#{k}": base + 0.1 + 0.02 * rng.standard_normal()
                          for k in range(3)}}
            out += [{**r, "evaluation": "heldout-baselines", "method": m, "auc": str(x)}
                    for m, x in methods.items()]
    return out


def health(leap_share: float, random_share: float = 0.2) -> list[dict]:
    inits = {**{i: leap_share for i in v.LEAP_INITS}, v.RANDOM_INIT: random_share}
    return [{"init": i, "game": g, "layer": layer, v.TAU: str(share if layer == "fc" else 0.9)}
            for i, share in inits.items() for g in v.POOL + v.HELD_OUT for layer in ("conv", "fc")]


GAINS = {"MinAtar/Breakout": 2.0, "MinAtar/SpaceInvaders": 0.0, "MinAtar/Asterix": 2.0,
         "MinAtar/Freeway": 2.0, "MinAtar/Seaquest": 2.0}


def test_a_clear_gain_on_one_held_out_game_with_both_controls_holds():
    result = v.verdict(runs(GAINS), health(0.25))
    assert result["counts"] == {"MinAtar/Breakout": True, "MinAtar/SpaceInvaders": False}
    assert all(result["positive"].values()) and all(result["negative"].values())
    assert not any(result["collapse"].values())
    assert result["hypothesis"] is True
    assert "**The hypothesis holds: yes.**" in v.lines(result)


def test_collapse_a_failed_positive_control_or_no_held_out_gain_each_refute_it():
    assert v.verdict(runs(GAINS), health(0.31))["hypothesis"] is False  # 11 points above random
    assert v.verdict(runs(GAINS), health(0.29))["hypothesis"] is True  # 9 points: no collapse
    assert v.verdict(runs({**GAINS, "MinAtar/Freeway": 0.0}), health(0.2))["hypothesis"] is False
    no_gain = {**GAINS, "MinAtar/Breakout": -2.0}
    result = v.verdict(runs(no_gain), health(0.2))
    assert result["counts"]["MinAtar/Breakout"] is False and result["hypothesis"] is False


def test_a_shifted_negative_control_fails_and_missing_data_leave_it_pending():
    result = v.verdict(runs(GAINS, negative_shift=2.0), health(0.2))
    assert result["negative"] == {g: False for g in v.HELD_OUT}
    pending = v.verdict([r for r in runs(GAINS) if r["evaluation"] != "pool"], [])
    assert pending["hypothesis"] is None and set(pending["positive"].values()) == {None}
    assert set(pending["collapse"].values()) == {None}
    assert "**The hypothesis holds: pending.**" in v.lines(pending)
    no_gain = [r for r in runs({**GAINS, "MinAtar/Breakout": 0.0}) if r["evaluation"] != "pool"]
    assert v.verdict(no_gain, [])["hypothesis"] is False  # no held-out game counts: decided


def test_the_report_renders_every_stage3_table_from_stand_in_csvs(tmp_path, monkeypatch):
    import csv

    import minatar_v2_report as report

    def write(name: str, rows: list[dict]) -> None:
        with (tmp_path / name).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    data = runs(GAINS, seeds=10)
    data += baselines(data)
    write("stage3_runs.csv", [{**r, "final": r["auc"]} for r in data])
    write("health.csv", health(0.25))
    write("stage3_curves.csv", [{"evaluation": "heldout", "game": g, "method": m, "step": s,
                                 "mean": 1.0, "sd": 0.1, "seeds": 10}
                                for g in v.HELD_OUT for m in ("leap", "random")
                                for s in (0, 150_000, 300_000)])
    monkeypatch.setattr(report, "DATA", tmp_path)
    monkeypatch.setattr(report, "FIGURE", tmp_path / "curves.png")
    report.main()
    text = (tmp_path / "report.md").read_text()
    for title in ("Stage 3, primary", "Stage 3, secondary", "θ⁰ health", "Verdict"):
        assert f"## {title}" in text
    assert "| heldout | MinAtar/Breakout | negative − random |" in text
    gap = next(line for line in text.splitlines()
               if line.startswith("| MinAtar/Breakout | leap − reptile |"))
    sd = np.std([float(r["auc"]) for r in data if (r["evaluation"], r["game"], r["method"])
                 == ("heldout-baselines", "MinAtar/Breakout", "random")], ddof=1)
    expected = 0.1 * GAINS["MinAtar/Breakout"] / sd  # Leap's members add 0.2 AUC, Reptile's 0
    assert float(gap.split("|")[3].split()[0]) == pytest.approx(expected, rel=0.1)
    assert "| MinAtar/SpaceInvaders | leap − joint |" in text
    assert "**The hypothesis holds: yes.**" in text and (tmp_path / "curves.png").stat().st_size
