"""``leap-rl status`` on run directories written here (local and in a bucket), a sweep directory,
a half-written last line, and bad input (exit 2, nothing created)."""

import json

import pytest
import yaml

from leap_rl.cli import main
from leap_rl.distributed.status import read_jsonl, run_status
from leap_rl.io.storage import location


def _write_run(where, meta_steps=10, done=2, half_line=True):
    run = location(where)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "toy",
                                                     "meta": {"meta_steps": meta_steps}}))
    rows = [{"meta_step": m, "task": t, "game": "Pong", "steps": 100,
             "status": "failed" if (m, t) == (1, 1) else "completed",
             "attempts": 2 if (m, t) == (0, 0) else 1}
            for m in range(done) for t in range(2)]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (run / "tasks.jsonl").write_text(text + ('{"meta_step": 7, "ta' if half_line else ""))
    (run / "validation.jsonl").write_text(json.dumps({"meta_step": 1, "gain": 0.5}) + "\n"
                                          + json.dumps({"meta_step": 2, "gain": 0.25}) + "\n")
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    for m in range(1, done + 1):
        (run / "checkpoints" / f"ckpt-{m:06d}.pt").write_bytes(b"x")
    return run


def test_status_of_a_local_run_skips_a_half_written_line(tmp_path, capsys):
    _write_run(tmp_path / "run")
    status = run_status(tmp_path / "run")
    assert (status["meta_step"], status["meta_steps"], status["config_name"]) == (2, 10, "toy")
    assert (status["tasks_completed"], status["tasks_failed"], status["tasks_retried"]) == (3, 1, 1)
    assert status["last_checkpoint"] == 2 and 0 <= status["last_checkpoint_age_s"] < 60
    assert status["best_validation_gain"] == 0.5 and status["best_validation_meta_step"] == 1
    assert status["eta_s"] is not None and status["eta_s"] >= 0
    assert main(["status", str(tmp_path / "run"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {"meta_step", "meta_steps", "last_checkpoint_age_s", "tasks_failed", "eta_s"} <= set(shown)
    assert main(["status", str(tmp_path / "run")]) == 0
    assert "meta-step:         2 of 10" in capsys.readouterr().out


def test_status_of_a_run_in_a_bucket(bucket, capsys):
    _write_run(f"{bucket}/run", half_line=False)
    assert main(["status", f"{bucket}/run", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["meta_step"], status["tasks_failed"], status["last_checkpoint"]) == (2, 1, 2)


def test_read_jsonl_drops_only_the_unparsable_line(tmp_path):
    (tmp_path / "f.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a"')
    assert read_jsonl(tmp_path / "f.jsonl") == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize("name", ["missing", "empty"])
def test_status_refuses_what_is_not_a_run(tmp_path, capsys, name):
    (tmp_path / "empty").mkdir()
    assert main(["status", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("no such run directory" in err or "not a leap-rl run" in err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_status_refuses_a_missing_bucket(bucket, capsys, bucket_keys):
    assert main(["status", f"{bucket}-absent/run"]) == 2
    assert "error" in capsys.readouterr().err


def test_status_of_a_sweep_directory(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    (sweep / "trials" / "a").mkdir(parents=True)
    (sweep / "trials" / "b").mkdir()
    (sweep / "trials" / "c").mkdir()
    (sweep / "spec.yaml").write_text("spec: {base: nowhere.yaml}\noverrides: []\n")
    (sweep / "trials" / "a" / "status.json").write_text(json.dumps(
        {"status": "done", "started": 100.0, "finished": 160.0, "attempts": 1}))
    (sweep / "trials" / "b" / "status.json").write_text(json.dumps(
        {"status": "running", "started": 170.0, "attempts": 1}))
    (sweep / "trials" / "c" / "status.json").write_text(json.dumps(
        {"status": "failed", "attempts": 1}))
    assert main(["status", str(sweep), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["trials_done"], status["trials_running"], status["trials_failed"]) == (1, 1, 1)
    assert status["eta_s"] == pytest.approx(120.0)
