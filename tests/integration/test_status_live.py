"""``leap-rl status`` against a live run: a real smoke meta-training in a subprocess, its run
directory read over and over while the run writes it (a half-written line must never trip it)."""

import json
import subprocess
import sys
import time
from pathlib import Path

from leap_rl.cli import main

ROOT = Path(__file__).parents[2]


def test_status_follows_a_running_meta_training(tmp_path, capsys):
    out = tmp_path / "run"
    train = subprocess.Popen(
        [sys.executable, "-m", "leap_rl.cli", "train", "configs/smoke.yaml", "--out", str(out),
         "--set", "meta.meta_steps=3", "--set", "meta.steps_per_task=400"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        while train.poll() is None:
            if (out / "config.yaml").is_file():
                assert main(["status", str(out), "--json"]) == 0, capsys.readouterr().err
                seen.append(json.loads(capsys.readouterr().out))
            time.sleep(0.2)
    finally:
        if train.poll() is None:
            train.kill()
        log = train.communicate()[0]
    assert train.returncode == 0, log[-3000:]
    steps = [s["meta_step"] for s in seen]
    assert steps == sorted(steps) and len(seen) > 5
    assert main(["status", str(out), "--json"]) == 0
    final = json.loads(capsys.readouterr().out)
    assert (final["meta_step"], final["meta_steps"], final["last_checkpoint"]) == (3, 3, 3)
    assert final["tasks_failed"] == 0 and final["tasks_completed"] == 6
    assert final["eta_s"] == 0 and final["seconds_per_meta_step"] > 0
