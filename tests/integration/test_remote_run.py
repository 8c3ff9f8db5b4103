"""A meta-training run whose directory is a bucket (``--out s3://…`` or ``gs://…``), on a local S3-compatible
server (moto), outlives the machine that ran it: nothing of it stays on local disk, TensorBoard
reads its events in the bucket, and a resume from the bucket alone continues it. The same run is
tracked (``--track``) in W&B's offline mode, whose run file must hold every TensorBoard point.

A tiny MinAtar run (real Ray, real games) does two meta-steps into the bucket; the second
checkpoint is then deleted there, as if the head node died after meta-step 2's logs were synced
but before its checkpoint was written. The resume (a new driver, with only the URI) redoes
meta-step 2 and adds a third. (One run serves both features: each run costs seconds of Ray.)
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from pathlib import Path

import pytest
import torch

from leap_rl.config import load_config
from leap_rl.distributed.checkpoint import list_checkpoints
from leap_rl.distributed.driver import MetaTrainer
from leap_rl.distributed.runlog import read_tasks
from leap_rl.io.artifacts import load_init, verified_load
from leap_rl.io.storage import location
from leap_rl.io.tracking import WandbSink

pytestmark = pytest.mark.integration
MINATAR = Path(__file__).parents[2] / "configs" / "minatar.yaml"
BLOCK, HEADER = 32768, 7  # the LevelDB log format wandb writes its .wandb run file in


def wandb_records(path: Path) -> list[bytes]:
    """The records of a .wandb file: a 7-byte ':W&B' header, then LevelDB log blocks of 32 KiB
    whose records (CRC-32, length, type: 1 full, 2 first, 3 middle, 4 last) may span blocks."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pos, pending = [], HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # a block's tail too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0:
            break
        pending += data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind in (1, 4):
            records.append(pending)
            pending = b""
    return records


def finished_run(directory: Path, timeout: float = 60.0) -> list:
    """The records of the offline run in ``directory`` once its exit record is on disk
    (wandb-core may still be writing the file when run.finish() returns on a busy machine)."""
    from wandb.proto import wandb_internal_pb2

    deadline = time.monotonic() + timeout
    while True:
        (run_file,) = directory.glob("wandb/offline-run-*/run-*.wandb")
        records = []
        for raw in wandb_records(run_file):
            records.append(wandb_internal_pb2.Record())
            records[-1].ParseFromString(raw)
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            return records
        assert time.monotonic() < deadline, f"{run_file} has no exit record"
        time.sleep(0.5)


def wandb_history(directory: Path) -> dict[str, list[tuple[int, float]]]:
    """key → (global_step, value) of every point the offline run logged."""
    import json

    points: dict[str, list[tuple[int, float]]] = {}
    for record in finished_run(directory):
        if record.WhichOneof("record_type") != "history":
            continue
        row = {"/".join(i.nested_key) or i.key: json.loads(i.value_json)
               for i in record.history.item}
        step = row.pop("global_step")
        for key, value in row.items():
            if not key.startswith("_"):  # wandb's own _step, _runtime, _timestamp
                points.setdefault(key, []).append((step, value))
    return points


def config(meta_steps: int):
    return load_config(MINATAR, [
        "meta.steps_per_task=400", "meta.meta_batch_size=2", f"meta.meta_steps={meta_steps}",
        "inner.num_envs=8", "workers.num_workers=2", "workers.flush_every=10",
        "env.minatar.max_episode_steps=100", "run.checkpoint_every=1"])


def scalar_events(run: str) -> dict[str, list[tuple[int, float]]]:
    """tag → (step, value) of every point TensorBoard shows, read by TensorBoard from ``run``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if run.startswith("gs://"):  # TensorBoard reads gs:// through gcsfs, which caches listings
        import gcsfs

        gcsfs.GCSFileSystem.clear_instance_cache()
    events = EventAccumulator(f"{run}/tensorboard")
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def local_copies(*roots: Path) -> list[str]:
    """Files of the run (or its TensorBoard mirror) left on local disk under ``roots``."""
    return sorted(str(p) for root in roots for p in root.rglob("*")
                  if p.name.startswith(("leap-rl-mirror-", "events.out.tfevents", "ckpt-"))
                  or p.name in ("config.yaml", "tasks.jsonl", "encoder.pt", "wandb.json",
                                 "health_frames.pt", "provenance.json"))


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A working directory, a temp directory and W&B's offline directory of the test's own.
    wandb reads its environment once per process (wandb.setup); teardown() makes it read this
    test's."""
    wandb = pytest.importorskip("wandb")
    wandb.teardown()
    places = {name: tmp_path / name for name in ("cwd", "tmp", "wandb")}
    for place in places.values():
        place.mkdir()
    monkeypatch.chdir(places["cwd"])
    monkeypatch.setattr(tempfile, "tempdir", str(places["tmp"]))  # where a mirror would stay
    for key, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(places["wandb"]),
                       "WANDB_SILENT": "true", "WANDB_CONSOLE": "off"}.items():
        monkeypatch.setenv(key, value)
    yield places
    wandb.teardown()


def test_a_tracked_run_in_a_bucket_keeps_nothing_local_and_resumes_from_the_bucket(
        ray_local, bucket, isolated):
    uri, quiet = f"{bucket}/runs/minatar", open(os.devnull, "w")
    sink = WandbSink.start(config(2), location(uri), "leap-rl-test")
    MetaTrainer(config(2), uri, stream=quiet, sinks=[sink]).run()

    run = location(uri)
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints", "config.yaml", "health_frames.pt", "init", "provenance.json",
        "tasks.jsonl", "tensorboard", "wandb.json"]  # health_frames.pt: θ⁰ health (default on)
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
        "ckpt-000001.pt", "ckpt-000002.pt"]
    assert local_copies(isolated["cwd"], isolated["tmp"]) == []
    board = scalar_events(uri)  # TensorBoard's own reader, from the bucket
    assert [v for _, v in board["workers/meta_step"]] == [1.0, 2.0]
    assert any(tag.startswith("games/MinAtar/") for tag in board)
    tracked = wandb_history(isolated["wandb"])
    assert sorted(tracked) == sorted(board)
    for tag, points in board.items():  # TensorBoard keeps float32, wandb the logged float64
        assert [s for s, _ in tracked[tag]] == [s for s, _ in points], tag
        assert [v for _, v in tracked[tag]] == pytest.approx([v for _, v in points], rel=1e-6,
                                                             nan_ok=True), tag

    after_one = verified_load(run / "checkpoints" / "ckpt-000001.pt")["meta_optimizer"]["init"]
    (run / "checkpoints" / "ckpt-000002.pt").unlink()  # the head died before checkpointing 2
    MetaTrainer(config(3), uri, stream=quiet, resume=True).run()

    assert [r["meta_step"] for r in read_tasks(uri)] == [0, 0, 1, 1, 2, 2]
    board = scalar_events(uri)
    assert [v for _, v in board["workers/meta_step"]] == [1.0, 2.0, 3.0]  # 2's first pass purged
    for tag, points in board.items():
        steps = [s for s, _ in points]
        assert all(a < b for a, b in zip(steps, steps[1:])), f"{tag}: steps {steps}"
    init = load_init(f"{uri}/init/encoder.pt")
    assert init["meta_step"] == 3
    assert any(not torch.equal(init["parameters"][k], after_one[k]) for k in after_one)
    assert local_copies(isolated["cwd"], isolated["tmp"]) == []
