"""`leap-rl train`'s run directory: a new run never overwrites another, `--force` says what it
deletes and deletes it first, the default directory is unique per run, and re-running the
Makefile's smoke target or the MinAtar script's meta-training stage keeps working.

Everything here stops before Ray: the ``no_ray`` fixture (conftest.py) makes ``ray.init`` raise
:class:`RayStarted`, so a test that reaches it knows the command got past every check.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from leap_rl.cli import main

ROOT = Path(__file__).parents[2]
SMOKE = str(ROOT / "configs" / "smoke.yaml")



def old_run(directory: Path) -> Path:
    """A directory holding (the files of) an earlier run."""
    (directory / "checkpoints").mkdir(parents=True)
    (directory / "tensorboard").mkdir()
    (directory / "config.yaml").write_text(Path(SMOKE).read_text())
    (directory / "tasks.jsonl").write_text('{"meta_step": 0}\n')
    (directory / "checkpoints" / "ckpt-000001.pt").write_bytes(b"old")
    (directory / "tensorboard" / "events.out.tfevents.1").write_bytes(b"old")
    return directory


def listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def test_out_holding_a_run_is_refused_before_ray(tmp_path, no_ray, capsys):
    run = old_run(tmp_path / "run")
    before = listing(run)
    assert main(["train", SMOKE, "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("leap-rl: error: ") and "Traceback" not in err
    assert f"--out {run} already holds a run" in err
    assert f"--resume {run}" in err and "--force" in err
    assert listing(run) == before


def test_force_deletes_the_old_run_first_and_says_what(tmp_path, no_ray, capsys):
    run = old_run(tmp_path / "run")
    with pytest.raises(no_ray):
        main(["train", SMOKE, "--out", str(run), "--force"])
    assert run.is_dir() and listing(run) == []  # nothing of the old run, nothing new before Ray
    out = capsys.readouterr().out
    assert f"--force: deleting the previous run in {run}" in out
    for entry in ("checkpoints/", "config.yaml", "tasks.jsonl", "tensorboard/"):
        assert entry in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for says in ("deletes everything already in DIR", "config.yaml, tasks.jsonl, checkpoints/, "
                 "init/, tensorboard/ and any other file"):
        assert says in help_text


def test_force_dry_run_deletes_nothing(tmp_path, no_ray, capsys):
    run = old_run(tmp_path / "run")
    before = listing(run)
    assert main(["train", SMOKE, "--out", str(run), "--force", "--dry-run"]) == 0
    assert "--force deletes its 4 entries first" in capsys.readouterr().out
    assert listing(run) == before


def test_force_refuses_a_directory_that_is_not_a_run(tmp_path, no_ray, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", SMOKE, "--out", str(tmp_path), "--force"]) == 2
    assert "no config.yaml" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_empty_or_new_out_starts_a_run(tmp_path, no_ray):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new"):
        with pytest.raises(no_ray):
            main(["train", SMOKE, "--out", str(out)])


def test_default_out_is_unique_per_run(no_ray, capsys):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert main(["train", SMOKE, "--set", "seed=7", "--dry-run"]) == 0
    after = dt.datetime.now(dt.timezone.utc)
    match = re.search(r"→ runs/smoke-s7-(\d{8}-\d{6})$", capsys.readouterr().out, re.M)
    assert match, "the plan names no runs/<name>-s<seed>-<UTC time> directory"
    when = dt.datetime.strptime(match[1], "%Y%m%d-%H%M%S").replace(tzinfo=dt.timezone.utc)
    assert before <= when <= after


def test_resume_if_exists_starts_fresh_or_resumes(tmp_path, no_ray, capsys):
    run = tmp_path / "run"
    argv = ["train", SMOKE, "--out", str(run), "--resume-if-exists", "--dry-run"]
    assert main(argv) == 0
    assert f"new run in {run}" in capsys.readouterr().out
    old_run(run)
    (run / "checkpoints" / "ckpt-000001.pt").unlink()
    assert main(argv) == 0
    assert f"resume {run}: no usable checkpoint yet, starts afresh" in capsys.readouterr().out


def test_make_smoke_twice_reaches_ray_both_times(tmp_path, no_ray, monkeypatch):
    recipe = re.search(r"^smoke:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)[1]
    argv = shlex.split(recipe)
    assert argv[0] == "$(BIN)/leap-rl"
    argv = argv[1:]
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(no_ray):
        main(argv)
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    old_run(tmp_path / (out or "runs/an-earlier-smoke"))  # what the first run left behind
    time.sleep(1.1 if out is None else 0)  # a unique default differs by the second
    with pytest.raises(no_ray):
        main(argv)


def minatar_meta_train(directory: Path, tmp_path: Path) -> str:
    """What scripts/minatar_experiment.sh's meta_train does for ``directory``, as a dry run."""
    script = (ROOT / "scripts" / "minatar_experiment.sh").read_text()
    functions = re.search(r"^meta_done\(\).*?^}\n\nmeta_train\(\).*?^}\n", script, re.M | re.S)[0]
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    for name, command in (("leap-rl", '-m leap_rl.cli "$@" --dry-run'), ("python", '"$@"')):
        (stub / name).write_text(f"#!/bin/sh\nexec {sys.executable} {command}\n")
        (stub / name).chmod(0o755)
    program = f'set -euo pipefail\nBIN={stub}\nCONFIG=configs/minatar.yaml\n{functions}\n' \
              f'meta_train {shlex.quote(str(directory))} --set name=minatar_reptile\n'
    result = subprocess.run(["bash", "-c", program], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "RAY_ADDRESS": "127.0.0.1:1"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_minatar_script_resumes_a_started_run_and_starts_a_missing_one(tmp_path):
    run = tmp_path / "reptile"
    assert f"new run in {run}" in minatar_meta_train(run, tmp_path)
    run.mkdir()  # killed during its first meta-step: config.yaml and logs, no checkpoint yet
    saved = yaml.safe_load((ROOT / "configs" / "minatar.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**saved, "name": "minatar_reptile"}))
    (run / "tasks.jsonl").write_text("")
    said = minatar_meta_train(run, tmp_path)
    assert f"resume {run}: no usable checkpoint yet, starts afresh" in said


# ---------------------------------------------------------------- --resume takes DIR/config.yaml


def saved_run(directory: Path, completed: int = 3, *overrides: str) -> dict:
    """A run directory as a run leaves it: the resolved config.yaml, a checkpoint after
    ``completed`` meta-steps. Returns the saved config."""
    from leap_rl.config import load_config
    from leap_rl.distributed.checkpoint import save_checkpoint

    saved = load_config(SMOKE, ["meta.steps_per_task=1234", "meta.meta_steps=3", *overrides])
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(saved.model_dump(mode="json"),
                                                          sort_keys=False))
    if completed:
        save_checkpoint(directory / "checkpoints", completed, {"meta_optimizer": {}}, keep=3)
    return saved.model_dump(mode="json")


def test_resume_takes_the_runs_own_config_without_a_config_argument(tmp_path, capsys):
    run = tmp_path / "run"
    saved_run(run)
    assert main(["train", "--resume", str(run), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1,234 agent steps" in out and f"resume {run} after meta-step 3" in out


def test_resume_accepts_the_config_it_was_started_with(tmp_path, capsys):
    run = tmp_path / "run"
    saved_run(run)
    argv = ["train", SMOKE, "--resume", str(run), "--set", "meta.steps_per_task=1234",
            "--set", "meta.meta_steps=3", "--dry-run"]
    assert main(argv) == 0, capsys.readouterr().err
    assert "changes:" not in capsys.readouterr().out


@pytest.mark.parametrize("argv,key,fragment", [
    ([SMOKE], "meta.steps_per_task", "the run has 1234, given 2000"),  # CONFIG differs
    (["--set", "inner.learning_rate=0.5"], "inner.learning_rate", "given 0.5"),
    (["--set", "seed=3"], "seed", "the run has 0, given 3"),
    (["--set", "meta.meta_steps=2"], "meta.meta_steps", "fewer than the 3 meta-steps"),
])
def test_resume_refuses_changes_that_are_not_safe_mid_run(tmp_path, no_ray, capsys, argv, key,
                                                          fragment):
    run = tmp_path / "run"
    saved_run(run)
    before = listing(run)
    config, rest = (argv[0], argv[1:]) if argv[0] == SMOKE else (None, argv)
    command = ["train", *([config] if config else []), "--resume", str(run), *rest]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("leap-rl: error: ") and "Traceback" not in err
    assert re.search(rf"^  - {re.escape(key)}: .*{re.escape(fragment)}", err, re.M), err
    assert listing(run) == before


def test_safe_changes_on_resume_are_recorded_and_update_config_yaml(tmp_path, no_ray, capsys):
    run = tmp_path / "run"
    saved = saved_run(run)
    changes = {"meta.meta_steps": 5, "workers.num_workers": 1, "workers.flush_every": 7,
               "run.keep_checkpoints": 4}
    argv = ["train", "--resume", str(run), "--set", "workers.num_cpus=1"]  # as saved: no change
    for key, value in changes.items():
        argv += ["--set", f"{key}={value}"]
    with pytest.raises(no_ray):
        main(argv)
    out = capsys.readouterr().out
    assert "meta.meta_steps 3 → 5" in out and "overrides.jsonl" in out
    records = [json.loads(line) for line in (run / "overrides.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["meta_step"] == 3
    assert records[0]["set"] == changes
    assert records[0]["was"] == {"meta.meta_steps": 3, "workers.num_workers": 2,
                                 "workers.flush_every": 5, "run.keep_checkpoints": 3}
    dt.datetime.fromisoformat(records[0]["time"])
    now = yaml.safe_load((run / "config.yaml").read_text())
    expected = json.loads(json.dumps(saved))
    for key, value in changes.items():
        section, name = key.split(".")
        expected[section][name] = value
    assert now == expected  # the changed keys, and nothing else


def test_the_keys_safe_on_resume_are_config_keys():
    from leap_rl.config import ExperimentConfig
    from leap_rl.distributed.rundir import SAFE_ON_RESUME

    dump = ExperimentConfig().model_dump()
    keys = {f"{section}.{name}" for section, fields in dump.items() if isinstance(fields, dict)
            for name in fields}
    assert SAFE_ON_RESUME <= keys
    new = {k for k in keys if k.startswith(("workers.", "run."))} - SAFE_ON_RESUME
    assert not new, f"decide whether {sorted(new)} may change on resume (SAFE_ON_RESUME)"


def test_a_start_that_fails_before_ray_leaves_out_free_for_the_retry(tmp_path, no_ray):
    # Nothing is written into --out before Ray starts, so the same command can simply run again.
    with pytest.raises(no_ray):
        main(["train", SMOKE, "--out", str(tmp_path / "run")])
    with pytest.raises(no_ray):  # not 'already holds a run'
        main(["train", SMOKE, "--out", str(tmp_path / "run")])
