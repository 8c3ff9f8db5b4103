"""``leap-rl train CONFIG --dry-run --calibrate``: a real, tiny calibration on the smoke config
(Leap on, this machine's device); a MinAtar config without MinAtar names the extra; --calibrate
without --dry-run is refused."""

import json

import pytest

from leap_rl.cli import main


def test_calibration_on_the_smoke_config(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)  # a default runs/ directory would appear here: none must
    from pathlib import Path

    smoke = str(Path(__file__).parents[2] / "configs" / "smoke.yaml")
    argv = ["train", smoke, "--dry-run", "--calibrate", "--calibrate-updates", "2",
            "--set", "meta.pool=[Pong,Freeway]", "--workers", "4",
            "--price-per-device-hour", "2.5", "--json"]
    assert main(argv) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert set(report["per_game"]) == {"Pong", "Freeway"} and report["device"].startswith("cpu")
    assert all(rate > 0 for rate in report["per_game"].values()) and report["workers"] == 4
    assert report["wall_hours"] > 0 and report["device_hours"] == pytest.approx(
        report["wall_hours"] * 4)
    assert report["cost"] == pytest.approx(report["device_hours"] * 2.5)
    assert not (tmp_path.parent / "runs").exists()


def test_a_minatar_config_without_minatar_names_the_extra(capsys, monkeypatch):
    import leap_rl.envs.minatar as minatar

    def missing(*args, **kwargs):
        raise minatar.MinAtarNotInstalledError("MinAtar/Breakout")

    monkeypatch.setattr("leap_rl.distributed.calibrate.build_learner", missing)
    assert main(["train", "configs/minatar.yaml", "--dry-run", "--calibrate"]) == 2
    assert "pip install 'leap-rl[minatar]'" in capsys.readouterr().err


def test_calibrate_needs_dry_run(capsys):
    assert main(["train", "configs/smoke.yaml", "--calibrate"]) == 2
    assert "--dry-run" in capsys.readouterr().err
