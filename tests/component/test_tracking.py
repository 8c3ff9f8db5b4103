"""``leap-rl train --track``: without wandb a one-line error naming the extra, before Ray; with
it (offline mode) the W&B run starts before Ray and its id is kept in the run directory, so that
a resume continues the same W&B run. The scalars it receives are compared with TensorBoard's in
tests/integration/test_tracking_run.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from leap_rl.cli import main

SMOKE = str(Path(__file__).parents[2] / "configs" / "smoke.yaml")



def test_track_without_wandb_is_one_line_naming_the_extra_before_ray(tmp_path, no_ray,
                                                                     monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    for argv in (["train", SMOKE, "--out", str(tmp_path / "run"), "--track"],
                 ["train", SMOKE, "--track", "--dry-run"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == ("leap-rl: error: --track needs Weights & Biases, an optional extra: "
                       "pip install 'leap-rl[track]'\n")
    assert not (tmp_path / "run").exists()


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """W&B in offline mode, writing under tmp_path. wandb reads its environment once per process
    (wandb.setup): teardown() on both sides makes this test's variables the ones it uses."""
    wandb = pytest.importorskip("wandb")
    wandb.teardown()
    for key, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path),
                       "WANDB_SILENT": "true", "WANDB_CONSOLE": "off"}.items():
        monkeypatch.setenv(key, value)
    yield wandb
    wandb.finish()
    wandb.teardown()


def test_track_starts_the_wandb_run_before_ray_and_keeps_its_id(tmp_path, no_ray, wandb_offline):
    run = tmp_path / "run"
    argv = ["train", SMOKE, "--out", str(run), "--track", "--wandb-project-name", "leap-test"]
    with pytest.raises(no_ray):
        main(argv)
    record = json.loads((run / "wandb.json").read_text())
    assert wandb_offline.run.id == record["id"] and record["project"] == "leap-test"
    assert wandb_offline.run.config["meta"]["meta_steps"] == 2  # the run's resolved config
    wandb_offline.finish()
    with pytest.raises(no_ray):  # a resume continues the same W&B run
        main(["train", SMOKE, "--resume", str(run), "--track"])
    assert wandb_offline.run.id == record["id"]
