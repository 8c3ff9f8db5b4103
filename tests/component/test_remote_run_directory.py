"""A run directory in a bucket (``--out s3://…`` or ``gs://…``), against a local S3-compatible
server (moto) and a local GCS emulator (every test runs on both, the ``bucket`` fixture):
checkpoints written in one upload and verified on load (a damaged object is skipped), ``evaluate
--init`` and ``train-task --init`` read an encoder.pt there, and ``leap-rl train``'s checks
before Ray (a run already there, ``--force``, ``--resume``, a missing bucket) work on it as on a
local directory. Nothing here starts Ray; the meta-training run into a bucket and its resume are
in tests/integration/test_remote_run.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from leap_rl.cli import main
from leap_rl.cli.evaluate import parse_init
from leap_rl.config import load_config
from leap_rl.distributed.checkpoint import list_checkpoints, load_latest, save_checkpoint
from leap_rl.evaluation.store import sha256
from leap_rl.io.artifacts import atomic_save, load_init, save_init, verified_load
from leap_rl.io.storage import RemotePath, location

SMOKE = str(Path(__file__).parents[2] / "configs" / "smoke.yaml")



def test_checkpoints_in_a_bucket_are_kept_pruned_and_verified(bucket, bucket_keys):
    directory = location(f"{bucket}/run/checkpoints")
    assert isinstance(directory, RemotePath)
    for step in (1, 2, 3):
        save_checkpoint(directory, step, {"meta_optimizer": {"x": torch.full((64,), step)}},
                        keep=2)
    assert bucket_keys(f"{bucket}/run") == ["checkpoints/ckpt-000002.pt",
                                        "checkpoints/ckpt-000003.pt"]
    assert [p.name for p in list_checkpoints(directory)] == ["ckpt-000002.pt", "ckpt-000003.pt"]
    newest = directory / "ckpt-000003.pt"
    data = bytearray(newest.read_bytes())
    at = data.index(bytes(torch.full((64,), 3).numpy().tobytes()[:16]))  # inside tensor data
    data[at] ^= 0xFF
    newest.write_bytes(bytes(data))  # damaged in place: the zip still opens, one CRC is wrong
    with pytest.raises(ValueError, match="checksum mismatch"):
        verified_load(newest)
    said = []
    state = load_latest(directory, said.append)
    assert state["meta_step"] == 2 and torch.equal(state["meta_optimizer"]["x"],
                                                  torch.full((64,), 2))
    assert "ckpt-000003.pt is unreadable" in said[0]


def test_an_object_is_written_in_one_upload(bucket, monkeypatch):
    """atomic_save hands the store the whole object once: never a partial object to read."""
    uploads = []
    original = RemotePath.write_bytes
    monkeypatch.setattr(RemotePath, "write_bytes",
                        lambda self, data: uploads.append(str(self)) or original(self, data))
    atomic_save({"w": torch.arange(10)}, f"{bucket}/a/x.pt")
    assert uploads == [f"{bucket}/a/x.pt"]
    assert torch.equal(verified_load(f"{bucket}/a/x.pt")["w"], torch.arange(10))


def test_evaluate_and_train_task_read_an_init_in_a_bucket(bucket, tmp_path):
    uri = f"{bucket}/run/init/encoder.pt"
    params = {"conv.weight": torch.randn(4, 3)}
    save_init(uri, params, architecture="mlp", observation_shape=(4,), meta_step=5)
    record = load_init(uri)
    assert record["meta_step"] == 5 and torch.equal(record["parameters"]["conv.weight"],
                                                    params["conv.weight"])
    local = save_init(tmp_path / "encoder.pt", params, architecture="mlp",
                      observation_shape=(4,), meta_step=5)
    assert sha256(uri) == sha256(local)  # evaluate --resume compares inits by this hash
    method = parse_init(uri)  # evaluate --init
    assert method == parse_init(f"leap={uri}") and (method.name, method.paths) == ("leap", (uri,))
    with pytest.raises(Exception, match=f"{bucket}/run/init/missing.pt: no such file"):
        load_init(f"{bucket}/run/init/missing.pt")


def remote_run(uri: str, completed: int = 3) -> None:
    """A run directory in the bucket as a run leaves it: config.yaml, a checkpoint, logs."""
    saved = load_config(SMOKE, ["meta.steps_per_task=1234", "meta.meta_steps=3"])
    run = location(uri)
    (run / "config.yaml").write_text(yaml.safe_dump(saved.model_dump(mode="json")))
    (run / "tasks.jsonl").write_text('{"meta_step": 0}\n')
    (run / "tensorboard" / "events.out.tfevents.1").write_bytes(b"old")
    save_checkpoint(run / "checkpoints", completed, {"meta_optimizer": {}}, keep=3)


def test_train_checks_a_run_in_a_bucket_before_ray(bucket, bucket_keys, no_ray, capsys):
    uri = f"{bucket}/run"
    remote_run(uri)
    before = bucket_keys(uri)
    assert main(["train", SMOKE, "--out", uri]) == 2  # never into another run
    err = capsys.readouterr().err
    assert f"--out {uri} already holds a run" in err and f"--resume {uri}" in err
    assert bucket_keys(uri) == before
    assert main(["train", "--resume", uri, "--set", "meta.meta_steps=4", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"resume {uri} after meta-step 3" in out and "1,234 agent steps" in out
    assert "meta.meta_steps 3 → 4" in out
    # What the KubeRay job runs: continue the run in the bucket if there is one.
    assert main(["train", SMOKE, "--out", uri, "--resume-if-exists", "--set",
                 "meta.steps_per_task=1234", "--set", "meta.meta_steps=3", "--dry-run"]) == 0
    assert f"resume {uri} after meta-step 3" in capsys.readouterr().out
    with pytest.raises(no_ray):  # the accepted change is recorded in the bucket first
        main(["train", "--resume", uri, "--set", "meta.meta_steps=4"])
    assert yaml.safe_load(location(uri + "/config.yaml").read_text())["meta"]["meta_steps"] == 4
    assert '"set": {"meta.meta_steps": 4}' in location(uri + "/overrides.jsonl").read_text()
    with pytest.raises(no_ray):
        main(["train", SMOKE, "--out", uri, "--force"])
    assert bucket_keys(uri) == []  # --force deleted the old run's objects before Ray
    assert "--force: deleting the previous run in" in capsys.readouterr().out


def test_a_missing_bucket_is_one_line_before_ray(bucket, no_ray, capsys):
    scheme = bucket.partition("://")[0]
    assert main(["train", SMOKE, "--out", f"{scheme}://no-such-bucket-here/run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"leap-rl: error: {scheme}://no-such-bucket-here/run: the bucket")
    assert len(err.strip().splitlines()) == 1
