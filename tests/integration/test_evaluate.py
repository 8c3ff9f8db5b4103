"""`leap-rl evaluate`: bad input stops before Ray; a tiny real evaluation on Ray writes
consistent curves, summary, plots and TensorBoard, and `report` reproduces its summary; a
three-way evaluation (two named inits + random) pairs seeds and resumes after an interruption."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from leap_rl.cli import COMMANDS, build_parser
from leap_rl.cli.evaluate import select_games
from leap_rl.config import ConfigError, load_config
from leap_rl.envs import UnknownGameError
from leap_rl.io.artifacts import ArtifactError, save_init

TINY = ["inner.num_envs=8", "inner.device=cpu", "env.max_episode_frames=160",
        "meta.pool=[Pong]", "meta.meta_batch_size=1", "workers.num_cpus=1"]


def parse(*argv):
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command], args


@pytest.fixture(scope="module")
def init_path(tmp_path_factory):
    from leap_rl.distributed.driver import initial_init

    cfg = load_config(None, TINY)
    params, shape = initial_init(cfg)
    return save_init(tmp_path_factory.mktemp("init") / "encoder.pt", params,
                     architecture=cfg.inner.encoder, observation_shape=shape)


def test_game_sets():
    cfg = load_config(None)
    assert select_games("table6", cfg)[:3] == ["AirRaid", "UpNDown", "WizardOfWor"]
    assert select_games("heldout", cfg) == ["Breakout", "SpaceInvaders", "Asteroids", "Alien",
                                            "Gravitar", "RoadRunner"]
    assert select_games("pool", cfg) == list(cfg.meta.pool)
    assert select_games("breakout, ALE/Pong-v5,Breakout", cfg) == ["Breakout", "Pong"]
    minatar = load_config(Path(__file__).parents[2] / "configs" / "minatar.yaml")
    assert select_games("heldout", minatar) == ["MinAtar/Breakout", "MinAtar/SpaceInvaders"]
    assert select_games("minatar/breakout,MinAtar/Seaquest", minatar) == [
        "MinAtar/Breakout", "MinAtar/Seaquest"]


@pytest.mark.parametrize("argv, error, fragment", [
    (["--games", "Breakotu"], UnknownGameError, "Did you mean"),
    (["--games", " , "], ConfigError, "selects no game"),
    (["--init", "other=missing.pt"], ArtifactError, "no such file"),
    (["--set", "inner.encoder=mlp"], ArtifactError, "inner.encoder"),
])
def test_bad_input_is_a_user_error_before_ray_starts(argv, error, fragment, init_path):
    import ray

    was_up = ray.is_initialized()
    handler, args = parse("evaluate", "--init", str(init_path), *argv)
    with pytest.raises(error, match=fragment):
        handler(args)
    assert ray.is_initialized() == was_up


@pytest.mark.parametrize("seeds", ["0", "-2", "three"])
def test_bad_seeds_exit_2(seeds, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse("evaluate", "--init", "x.pt", "--seeds", seeds)
    assert exit_info.value.code == 2 and "--seeds" in capsys.readouterr().err


def test_an_existing_evaluation_is_not_overwritten(tmp_path, init_path):
    (tmp_path / "evaluation.json").write_text("{}")
    handler, args = parse("evaluate", "--init", str(init_path), "--out", str(tmp_path),
                          "--games", "Pong", *[a for s in TINY for a in ("--set", s)])
    with pytest.raises(ArtifactError, match="already holds an evaluation; add --resume"):
        handler(args)


@pytest.mark.integration
def test_tiny_real_evaluation(ray_local, tmp_path, init_path):
    from leap_rl.evaluation.experiment import run_evaluation

    cfg = load_config(None, TINY)
    out, console = tmp_path / "eval", io.StringIO()
    summary = run_evaluation(init_path, ["Pong"], cfg, out, seeds=2, steps=320, window=5,
                             stream=console, interval=2.0)
    assert summary["failed"] == []
    assert console.getvalue().count("done] Pong/") == 4 and "mean normalized score" in \
        console.getvalue()
    with (out / "curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    runs = {(r["game"], r["method"], int(r["seed"])) for r in rows}
    assert runs == {("Pong", m, s) for m in ("leap", "random") for s in (0, 1)}
    assert all(0 < int(r["step"]) <= 320 for r in rows)
    meta = json.loads((out / "evaluation.json").read_text())
    assert len(meta["runs"]) == 4 and {r["status"] for r in meta["runs"]} == {"completed"}
    assert all(r["agent_steps"] == 320 for r in meta["runs"])  # 8 envs × 5 steps × 8 updates
    episodes = {(r["method"], r["seed"]): r["episodes"] for r in meta["runs"]}
    assert episodes == {(m, s): sum(1 for r in rows if (r["method"], int(r["seed"])) == (m, s))
                        for m in ("leap", "random") for s in (0, 1)}
    saved = json.loads((out / "summary.json").read_text())
    pong = saved["games"]["Pong"]
    assert pong["methods"]["leap"]["seeds"] == pong["methods"]["random"]["seeds"] == [0, 1]
    assert pong["differences"]["leap - random"]["final"]["n"] == 2 and saved["steps"] == 320
    assert summary == saved and saved["methods"] == ["leap", "random"]
    assert len(list((out / "runs" / "Pong").glob("*/seed-*.json"))) == 4
    assert (out / "plots" / "Pong.png").is_file() and (out / "plots" / "summary.png").is_file()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for name in ("leap/seed0", "random/seed1", "leap/mean"):  # one run per (θ⁰, game, seed)
        events = EventAccumulator(str(out / "tensorboard" / "eval" / "Pong" / name))
        events.Reload()
        assert "eval/moving_average" in events.Tags()["scalars"], name
    handler, args = parse("report", str(out))
    (out / "summary.json").unlink()
    assert handler(args) == 0
    assert json.loads((out / "summary.json").read_text()) == saved


@pytest.mark.integration
def test_a_failing_run_is_retried_then_reported_failed(ray_local, init_path):
    from leap_rl.evaluation.runner import EvaluationRuns, RunSpec

    cfg = load_config(None, TINY + ["workers.failure_policy=retry", "workers.max_task_retries=1"])
    console, finished = io.StringIO(), []
    spec = RunSpec("NotAGame", "random", 0, 40)  # fails inside the Ray task, at env creation
    runs = EvaluationRuns([spec], {}, cfg, on_finish=finished.append, stream=console)
    [result] = runs.run()
    assert result.status == "failed" and result.attempts == 2 and finished == [result]
    assert "NotAGame" in result.error and "retrying" in console.getvalue()
    assert "FAILED" in console.getvalue() and "[1/1 done]" in console.getvalue()
