"""A three-way `leap-rl evaluate` (two named inits + random) through the real CLI on a local Ray
instance, at a tiny budget on CartPole-v1: every method on the same seeds, paired (same
environments, heads and action sampling), and an interrupted evaluation resumed by redoing only
the missing run."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from leap_rl.agent import build_actor_critic, encoder_state
from leap_rl.cli import main
from leap_rl.io.artifacts import save_init

SETS = ["inner.encoder=mlp", "inner.num_envs=4", "inner.device=cpu", "workers.num_cpus=1",
        "inner.learning_rate=0.01"]  # learns fast enough that the encoder shows in 400 steps
METHODS = ("leap", "reptile", "random")


def cartpole_init(path, seed):
    """An mlp encoder for CartPole as the random run of ``seed`` draws it (torch.manual_seed,
    then the network; the heads are redrawn per run)."""
    torch.manual_seed(seed)
    model = build_actor_critic("mlp", (4,), 2)
    return save_init(path, encoder_state(model), architecture="mlp", observation_shape=(4,))


def evaluate(out, inits, *extra):
    argv = ["evaluate", *[a for name, path in inits.items() for a in ("--init", f"{name}={path}")],
            "--games", "CartPole-v1", "--seeds", "2", "--steps", "400", "--window", "5",
            "--out", str(out), *[a for s in SETS for a in ("--set", s)], *extra]
    return main(argv)


def curves(out):
    runs: dict[tuple[str, int], list[tuple[int, float]]] = {}
    with (out / "curves.csv").open() as handle:
        for row in csv.DictReader(handle):
            runs.setdefault((row["method"], int(row["seed"])), []).append(
                (int(row["step"]), float(row["episodic_return"])))
    return runs


@pytest.mark.integration
def board_curves(out):
    """(method, seed) → [(step, value)] of each evaluation run's TensorBoard run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = {}
    for directory in (out / "tensorboard" / "eval" / "CartPole-v1").glob("*/seed*"):
        assert len(list(directory.glob("events.*"))) == 1, directory
        events = EventAccumulator(str(directory))
        events.Reload()
        found[(directory.parent.name, int(directory.name.removeprefix("seed")))] = [
            (e.step, e.value) for e in events.Scalars("eval/episodic_return")]
    return found


def test_three_way_evaluation_pairs_seeds_and_resumes(ray_local, tmp_path, capsys):
    # leap: some other θ⁰; reptile: exactly the encoder the random run of seed 0 draws, so
    # with paired seeds its seed-0 run must reproduce random's seed-0 run episode for episode.
    inits = {"leap": cartpole_init(tmp_path / "a.pt", 1234),
             "reptile": cartpole_init(tmp_path / "b.pt", 0)}
    out = tmp_path / "eval"
    assert evaluate(out, inits) == 0
    first = capsys.readouterr().out
    assert "× 3 methods = 6 runs" in first and first.count("done] CartPole-v1/") == 6
    assert "[6/6 done]" in first and "ETA" in first
    runs = curves(out)
    assert set(runs) == {(m, s) for m in METHODS for s in (0, 1)} and all(runs.values())
    assert runs[("reptile", 0)] == runs[("random", 0)]  # same envs, heads, action sampling
    assert runs[("leap", 0)] != runs[("random", 0)]  # only the encoder differs
    summary = json.loads((out / "summary.json").read_text())
    game = summary["games"]["CartPole-v1"]
    assert summary["methods"] == list(METHODS) and summary["failed"] == []
    assert all(game["methods"][m]["seeds"] == [0, 1] for m in METHODS)
    assert set(game["differences"]) == {"leap - random", "reptile - random", "leap - reptile"}
    assert all(d["final"]["n"] == 2 for d in game["differences"].values())
    assert "leap − reptile (n=2)" in first
    assert {p.name for p in (out / "plots").iterdir()} == {"CartPole-v1.png", "summary.png"}
    drawn = board_curves(out)  # each (init, game, seed) curve its own TensorBoard run
    assert set(drawn) == set(runs) and drawn[("leap", 1)]

    # Interrupted: one run's record is lost. Without --resume, or with other settings: refused
    # (exit status 2) before any run; with --resume only that run is trained again.
    before = (out / "curves.csv").read_text()
    (out / "runs" / "CartPole-v1" / "leap" / "seed-1.json").unlink()
    assert evaluate(out, inits) == 2 and "add --resume" in capsys.readouterr().err
    assert evaluate(out, inits, "--steps", "800", "--resume") == 2
    assert "steps: 400 in the directory, 800 now" in capsys.readouterr().err
    assert evaluate(out, inits, "--resume") == 0
    again = capsys.readouterr().out
    assert "resuming: 5 of 6 runs already done, 1 to do" in again
    assert again.count("done] CartPole-v1/") == 1 and "[6/6 done] CartPole-v1/leap/seed 1" in again
    assert (out / "curves.csv").read_text() == before  # the same run, reproduced
    assert json.loads((out / "summary.json").read_text()) == summary
    assert board_curves(out) == drawn  # rewritten, no point doubled
    print(first)  # the table, for the record (pytest -s)


@pytest.mark.integration
def test_failed_runs_are_recorded_reported_and_retried_by_a_resume(ray_local, tmp_path, capsys):
    from leap_rl.config import load_config
    from leap_rl.evaluation.experiment import run_evaluation

    cfg = load_config(None, SETS)
    inits = {"leap": cartpole_init(tmp_path / "a.pt", 1234)}
    out, games = tmp_path / "eval", ["NotAGame", "CartPole-v1"]  # NotAGame fails in its task
    summary = run_evaluation(inits, games, cfg, out, seeds=1, steps=200, window=5)
    assert summary["failed"] == ["NotAGame/leap/seed 0", "NotAGame/random/seed 0"]
    assert list(summary["games"]) == ["CartPole-v1"]
    record = json.loads((out / "runs" / "NotAGame" / "leap" / "seed-0.json").read_text())
    assert record["status"] == "failed" and "NotAGame" in record["error"]
    printed = capsys.readouterr().out
    assert printed.count("FAILED") == 2 and "not in the table, failed: NotAGame/leap" in printed
    again = run_evaluation(inits, games, cfg, out, seeds=1, steps=200, window=5, resume=True)
    printed = capsys.readouterr().out
    assert "resuming: 2 of 4 runs already done, 2 to do" in printed  # the failed ones again
    assert printed.count("FAILED") == 2 and again["failed"] == summary["failed"]


@pytest.mark.integration
def test_meta_seed_group_scaled_random_own_settings_and_first_seed(ray_local, tmp_path, capsys):
    a, b = cartpole_init(tmp_path / "a.pt", 1), cartpole_init(tmp_path / "b.pt", 2)
    out = tmp_path / "eval"
    argv = ["evaluate", "--init", f"leap={a},{b}", "--init", f"sc=scaled:{a}",
            "--init", "random@inner.learning_rate=0.02", "--games", "CartPole-v1",
            "--seeds", "2", "--first-seed", "100", "--steps", "400", "--window", "5",
            "--ci", "bca", "--out", str(out), *[x for s in SETS for x in ("--set", s)]]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "× 4 methods = 8 runs" in printed and "(hierarchical bootstrap" in printed
    assert set(curves(out)) == {(m, s) for m in ("leap#0", "leap#1", "sc", "random")
                                for s in (100, 101)}
    settings = json.loads((out / "evaluation.json").read_text())["settings"]
    assert settings["overrides"] == {"random": ["inner.learning_rate=0.02"]}
    assert settings["seeds"] == [100, 101] and settings["inits"]["sc"]["kind"] == "scaled"
    summary = json.loads((out / "summary.json").read_text())
    group = summary["games"]["CartPole-v1"]["hierarchical"]["leap - random"]
    assert group["members"] == ["leap#0", "leap#1"] and group["final"]["meta_seeds"] == 2
    assert summary["bootstrap"]["method"] == "bca"
