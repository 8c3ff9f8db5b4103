"""``leap-rl sweep`` on real Ray Tune with the stand-in task (the point is bookkeeping): a grid
completes as ordinary run directories with one results row per trial; a sweep SIGKILLed while
its trials run is finished by ``--resume`` without rerunning a finished trial; ASHA stops the
worse arm of each fold, comparing trials only within their fold; a sweep into
gs:// (the GCS emulator) writes everything there and ``leap-rl status`` reads it."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from leap_rl.cli import main
from leap_rl.io.storage import location
from leap_rl.sweep.plan import plan_sweep
from leap_rl.sweep.run import run_sweep
from leap_rl.sweep.spec import SweepError
from leap_rl.sweep.status import read_status
from leap_rl.testing import StandInTask, StandInValidation

ROOT = Path(__file__).parents[2]
# Two workers of half a CPU per trial (num_workers null: sized from the trial's placement group).
SMALL = ["workers.num_cpus=0.5", "workers.num_workers=null", "run.checkpoint_every=1"]

DRIVER = textwrap.dedent("""
    import sys, ray
    from leap_rl.sweep.plan import plan_sweep
    from leap_rl.sweep.run import run_sweep
    from leap_rl.testing import StandInTask
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    plan = plan_sweep(sys.argv[1], sys.argv[2], sys.argv[3:])
    run_sweep(plan, max_concurrent=1, runner=StandInTask(chunks=2, seconds_per_chunk=0.4))
""")


def spec_file(tmp_path, axes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"base": str(ROOT / "configs" / "smoke.yaml"), "axes": axes}))
    return str(path)


def test_a_grid_completes_as_run_directories_with_one_row_per_trial(ray_local, tmp_path):
    spec = spec_file(tmp_path, {"meta.learning_rate": [0.001, 0.01]})
    plan = plan_sweep(spec, str(tmp_path / "sweep"), SMALL + ["meta.meta_steps=2"])
    counts = run_sweep(plan, max_concurrent=2, runner=StandInTask(chunks=2))
    assert counts == {"done": 2}
    rows = list(csv.DictReader((tmp_path / "sweep" / "results.csv").open()))
    assert sorted(r["meta.learning_rate"] for r in rows) == ["0.001", "0.01"]
    assert all(r["status"] == "done" and r["ray"] and r["torch"] for r in rows)
    for trial in plan.trials:
        run = tmp_path / "sweep" / "trials" / trial.name
        assert (run / "init" / "encoder.pt").is_file()
        assert list((run / "tensorboard").glob("events.out.tfevents.*"))
        assert yaml.safe_load((run / "config.yaml").read_text())["meta"]["learning_rate"] == \
            trial.cfg.meta.learning_rate
        assert "2 workers" in (run / "console.log").read_text()  # sized from its group
    assert not list((tmp_path / "sweep" / "trials").glob("*/*.json.tmp*"))


def test_a_trial_too_big_for_the_cluster_is_refused_before_it_runs(ray_local, tmp_path):
    spec = spec_file(tmp_path, {"seed": [0]})
    plan = plan_sweep(spec, str(tmp_path / "sweep"), ["workers.num_workers=2",
                                                      "workers.num_cpus=4"])
    with pytest.raises(SweepError, match=r"needs 8 CPU \(the cluster has 2\)"):
        run_sweep(plan)
    assert not (tmp_path / "sweep" / "trials").exists()


def test_resume_after_sigkill_finishes_without_rerunning_a_finished_trial(ray_local, tmp_path):
    spec, out = spec_file(tmp_path, {"seed": [0, 1]}), tmp_path / "sweep"
    overrides = SMALL + ["meta.meta_steps=4"]
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, spec, str(out), *overrides],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    first = second = None
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            trials = sorted((out / "trials").glob("*")) if (out / "trials").is_dir() else []
            if (len(trials) == 2 and read_status(trials[0])["status"] == "done"
                    and list((trials[1] / "checkpoints").glob("ckpt-*.pt"))):
                first, second = trials
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert first is not None, "the sweep never got one trial done and the next checkpointed"
    assert read_status(second)["status"] == "running"
    before = {p: p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()}

    plan = plan_sweep(None, None, [], resume=str(out))
    assert [t.name for t in plan.to_run] == [second.name]
    counts = run_sweep(plan, runner=StandInTask(chunks=2, seconds_per_chunk=0.4))
    assert counts == {"done": 2}
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()} == before
    console = (second / "console.log").read_text()
    assert "resumed after meta-step" in console and read_status(second)["attempts"] == 2
    with pytest.raises(SweepError, match="differs"):
        plan_sweep(spec, None, ["meta.meta_steps=5"], resume=str(out))


def test_asha_stops_a_worse_arm_early_and_compares_trials_only_within_their_fold(ray_local,
                                                                                  tmp_path):
    # Validation stands in: θ⁰'s gain is 1000 × meta.learning_rate, less 20 on Freeway (a game
    # of another scale). In grid order the Freeway fold's first trial (gain -10) is below the
    # Pong fold's (+10): one bracket for all would stop it; one per fold must not.
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"base": str(ROOT / "configs" / "smoke.yaml"),
                                    "axes": {"meta.learning_rate": [0.01, 0.001]},
                                    "folds": "leave_one_game_out"}))
    plan = plan_sweep(str(path), str(tmp_path / "sweep"), SMALL + [
        "meta.pool=[Pong, Freeway]", "meta.meta_steps=2", "validation.seeds=2",
        "validation.steps=100", "validation.every=1"])
    validation = StandInValidation(per_learning_rate=1000.0, per_game=(("Freeway", -20.0),))
    counts = run_sweep(plan, max_concurrent=1,
                       runner=StandInTask(chunks=2, validation=validation))
    rows = {(r["meta.learning_rate"], r["fold"]): r
            for r in csv.DictReader((tmp_path / "sweep" / "results.csv").open())}
    assert counts == {"done": 2, "stopped": 2}
    assert rows["0.01", "Pong"]["status"] == rows["0.01", "Freeway"]["status"] == "done"
    for fold in ("Pong", "Freeway"):
        stopped = rows["0.001", fold]
        assert stopped["status"] == "stopped" and "ASHA" in stopped["reason"]
        assert stopped["meta_step"] == "1" and float(stopped["metric"]) < \
            float(rows["0.01", fold]["metric"])


@pytest.mark.gcs
def test_a_sweep_into_gs_writes_its_trials_and_results_there(gs_bucket, bucket_keys, tmp_path,
                                                               capsys):
    """The sweep runs in a driver process of its own, so that its Ray workers start with
    STORAGE_EMULATOR_HOST set (the session's Ray instance started before the fixture set it)."""
    spec = spec_file(tmp_path, {"meta.learning_rate": [0.001, 0.01]})
    out = f"{gs_bucket}/sweep"
    driver = subprocess.run([sys.executable, "-c", DRIVER, spec, out, *SMALL,
                             "meta.meta_steps=2"], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=300)
    assert driver.returncode == 0, driver.stderr[-3000:]
    assert not (ROOT / "gs:").exists(), "Tune's state went to a local 'gs:' folder"
    keys = bucket_keys(out)
    assert {"spec.yaml", "results.csv"} <= set(keys)
    rows = list(csv.DictReader(io.StringIO(location(f"{out}/results.csv").read_text())))
    assert sorted(r["meta.learning_rate"] for r in rows) == ["0.001", "0.01"]
    assert {r["status"] for r in rows} == {"done"}
    trials = sorted({k.split("/")[1] for k in keys if k.startswith("trials/")})
    for trial in trials:
        assert f"trials/{trial}/init/encoder.pt" in keys
        assert f"trials/{trial}/status.json" in keys
    assert main(["status", out, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["trials"], status["trials_done"], status["trials_failed"]) == (2, 2, 0)
