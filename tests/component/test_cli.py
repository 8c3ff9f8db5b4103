"""The leap-rl command as a user runs it: exit codes, messages, and train-task's outputs."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def leap_rl(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "leap_rl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args,fragment", [
    (["config", "configs/paper.yaml", "--set", "leap.metric=lenght"], "leap.metric"),
    (["config", "configs/nope.yaml"], "cannot read the file"),
    (["train-task", "--game", "Breakotu", "--steps", "10"], "Did you mean"),
    (["train-task", "--game", "Pong", "--steps", "10", "--init", "missing.pt"], "no such file"),
    (["train-task", "--game", "Pong", "--steps", "10", "--set", "meta.learning_rate=0.1"],
     "meta.learning_rate: a standalone run"),
])
def test_bad_input_exits_2_with_one_message_and_no_traceback(args, fragment):
    result = leap_rl(*args)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) < 25  # one screen


def test_config_prints_the_resolved_config():
    result = leap_rl("config", "configs/smoke.yaml", "--set", "leap.metric=length")
    assert result.returncode == 0, result.stderr
    assert "metric: length" in result.stdout and "- Pong" in result.stdout


def test_train_dry_run_prints_the_plan_without_starting_ray(tmp_path):
    # An unreachable RAY_ADDRESS proves that no connection is attempted.
    import os

    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:1"}
    result = subprocess.run([sys.executable, "-m", "leap_rl.cli", "train", "configs/paper.yaml",
                             "--dry-run", "--out", str(tmp_path / "run")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for fragment in ("meta-steps:        100", "16 of a pool of 25", "5,000,000 agent steps",
                     "1 GPU", "8,000,000,000 env steps", "127.0.0.1:1"):
        assert fragment in result.stdout
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,fragment", [
    (["train", "configs/smoke.yaml", "--set", "meta.meta_batch_size=9"], "exceeds the 3 games"),
    (["train", "configs/smoke.yaml", "--resume", "no/such/run"], "no such run directory"),
    (["train", "configs/smoke.yaml", "--set", "workers.failure_policy=pray"], "failure_policy"),
])
def test_train_rejects_bad_input_before_ray(args, fragment):
    result = leap_rl(*args)
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "Started a local Ray" not in result.stderr


LEAP_RL = Path(sys.executable).with_name("leap-rl")  # the installed console script


@pytest.mark.parametrize("args", [
    ["config", "configs/paper.yaml", "--describe"],
    ["train", "configs/paper.yaml", "--dry-run"],
    ["--version"],  # argparse's own exit path
], ids=["config-describe", "train-dry-run", "version"])
@pytest.mark.parametrize("buffered", [False, True], ids=["unbuffered", "buffered"])
def test_output_into_a_closed_pipe_ends_quietly(args, buffered):
    """`leap-rl ... | head -1` once head has gone: no traceback, status 0.

    The reader closes its end before the command writes anything (it is still importing), so
    every write meets a closed pipe: deterministic, where reading a line first would race.
    Unbuffered, the error comes from print; buffered, from the last flush at exit.
    """
    if not LEAP_RL.exists():
        pytest.skip(f"no console script at {LEAP_RL}")
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "RAY_ADDRESS")}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([str(LEAP_RL), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader has gone, as head has after its lines
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_version_prints_the_package_version(capsys):
    from leap_rl import __version__
    from leap_rl.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"leap-rl {__version__}\n"


def test_train_seed_overrides_the_configs_seed(monkeypatch):
    from leap_rl.cli import main
    from leap_rl.distributed import plan

    seen = []
    monkeypatch.setattr(plan, "describe_plan", lambda cfg, out, address: seen.append(cfg) or "")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for argv, seed in ([[], 0], [["--seed", "7"], 7], [["--set", "seed=3", "--seed", "7"], 7],
                       [["--seed", "7", "--set", "seed=3"], 3]):  # the later setting wins
        assert main(["train", str(ROOT / "configs/smoke.yaml"), "--dry-run", *argv]) == 0
        assert seen.pop().seed == seed
    with pytest.raises(SystemExit):
        main(["train", str(ROOT / "configs/smoke.yaml"), "--dry-run", "--seed", "seven"])


def test_a_broken_pipe_elsewhere_is_still_an_error(monkeypatch, capfd):
    """Only a gone reader of stdout is quiet; any other broken pipe or socket is a failure."""
    from leap_rl import cli

    def broken(args):
        print("some output")
        raise BrokenPipeError(32, "Broken pipe")  # stdout (capfd's file) is fine

    monkeypatch.setitem(cli.COMMANDS, "config", broken)
    with pytest.raises(BrokenPipeError):
        cli.main(["config", "configs/paper.yaml"])
    assert capfd.readouterr().out == "some output\n"
