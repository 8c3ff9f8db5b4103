"""``leap-rl train-task`` on a real Atari game, as a user runs it: every output, and a restart
from the encoder it wrote (the component tier's tests/component/test_cli.py checks the rest)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def leap_rl(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "leap_rl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_train_task_on_breakout_writes_every_output_and_restarts_from_its_encoder(tmp_path):
    out = tmp_path / "run"
    result = leap_rl("train-task", "--config", "configs/smoke.yaml", "--game", "ALE/Breakout-v5",
                     "--steps", "480", "--out", str(out), "--report-every", "4",
                     "--set", "env.max_episode_frames=160")
    assert result.returncode == 0, result.stderr
    assert "[Breakout] steps" in result.stdout and "path length d1" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent_steps"] == 480 and summary["updates"] == 12
    assert summary["leap"]["segments"] == 11 and summary["leap"]["d1"] > 0
    episodes = [json.loads(l) for l in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == summary["episodes"] > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert {"charts/episodic_return", "charts/episodic_length", "charts/steps_per_second",
            "losses/policy", "losses/value", "losses/entropy"} <= set(events.Tags()["scalars"])
    again = leap_rl("train-task", "--config", "configs/smoke.yaml", "--game", "breakout",
                    "--steps", "40", "--out", str(tmp_path / "again"), "--no-leap",
                    "--init", str(out / "final_encoder.pt"))
    assert again.returncode == 0, again.stderr
    wrong = leap_rl("train-task", "--config", "configs/smoke.yaml", "--game", "breakout",
                    "--steps", "40", "--init", str(out / "final_encoder.pt"),
                    "--set", "env.grayscale=true", "--out", str(tmp_path / "wrong"))
    assert wrong.returncode == 2 and "channels" in wrong.stderr
