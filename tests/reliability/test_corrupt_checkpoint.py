"""A truncated or corrupted latest checkpoint: resume uses the previous one, says so, ends exact.

One uninterrupted run of 3 meta-steps (a checkpoint after each) is the reference. A crash is
simulated on a copy of it: the third checkpoint's write never finished (a partial ``.tmp`` is
left) and the second, now the latest, is damaged. The resume must remove the leftover, skip the
damaged file with a message, load only the first checkpoint, and end bit for bit equal to the
reference. Cheaper checks (no new run) cover every truncation length and random byte flips.
"""

from __future__ import annotations

import io
import os
import random
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leap_rl.config import load_config
from leap_rl.distributed.checkpoint import load_latest
from leap_rl.distributed.driver import MetaTrainer, initial_init
from leap_rl.io.artifacts import load_init
from leap_rl.testing import StandInTask

pytestmark = pytest.mark.reliability
SMOKE = Path(__file__).parents[2] / "configs" / "smoke.yaml"
STAND_IN = StandInTask(chunks=2)


def config():
    return load_config(SMOKE, ["workers.num_cpus=0.5", "meta.meta_steps=3",
                               "run.checkpoint_every=1"])


@pytest.fixture(scope="module")
def straight(ray_local, tmp_path_factory):
    """The reference: 3 meta-steps uninterrupted; checkpoints after 1, 2 and 3."""
    out = tmp_path_factory.mktemp("straight")
    MetaTrainer(config(), out, runner=STAND_IN, stream=open(os.devnull, "w")).run()
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["ckpt-000001.pt", "ckpt-000002.pt", "ckpt-000003.pt"]
    return out


def same(a, b) -> bool:
    """Deep equality; tensors bit for bit (dtype, shape and values)."""
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def flip_bytes(data: bytes, rng: random.Random, count: int) -> tuple[bytes, list[int]]:
    """``count`` bytes at random positions XORed with a random non-zero mask."""
    bad, positions = bytearray(data), sorted(rng.randrange(len(data)) for _ in range(count))
    for p in positions:
        bad[p] ^= rng.randrange(1, 256)
    return bytes(bad), positions


CORRUPTIONS = {
    "truncated": lambda data, rng: data[:len(data) // 2],
    "garbled_start": lambda data, rng: rng.randbytes(256) + data[256:],
    "flipped_bytes": lambda data, rng: flip_bytes(data, rng, 16)[0],
}


@pytest.mark.parametrize("how", ["truncated", "garbled_start",
                                 "flipped_bytes"])
def test_resume_skips_a_corrupt_latest_checkpoint_and_ends_bit_for_bit(straight, tmp_path,
                                                                       monkeypatch, how):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    ckpts = run / "checkpoints"
    third = ckpts / "ckpt-000003.pt"  # its write was interrupted: a partial temporary file
    leftover = ckpts / ".ckpt-000003.pt.interrupted.tmp"  # atomic_save's mkstemp naming
    leftover.write_bytes(third.read_bytes()[:third.stat().st_size // 3])
    third.unlink()
    second = ckpts / "ckpt-000002.pt"  # the latest complete checkpoint, damaged on disk
    second.write_bytes(CORRUPTIONS[how](second.read_bytes(), random.Random(how)))
    previous = load(ckpts / "ckpt-000001.pt")

    loaded, real_load = [], torch.load

    def spy(f, *args, **kwargs):  # records every file that torch.load accepted
        state = real_load(f, *args, **kwargs)
        loaded.append(Path(f).name)
        return state

    monkeypatch.setattr(torch, "load", spy)
    log = io.StringIO()
    trainer = MetaTrainer(config(), run, runner=STAND_IN, stream=log, resume=True)
    monkeypatch.undo()

    assert loaded == ["ckpt-000001.pt"], loaded  # no partial or damaged file was ever loaded
    assert not leftover.exists() and not list(ckpts.glob(".ckpt-*.tmp"))
    said = log.getvalue()
    assert f"removing {leftover.name}: a checkpoint write that never finished" in said
    assert "checkpoint ckpt-000002.pt is unreadable" in said
    assert "falling back to the previous one" in said
    assert f"resumed after meta-step 1 from {ckpts}" in said
    assert trainer.start == 1
    assert same(trainer.meta.state_dict(), previous["meta_optimizer"])

    trainer.run()
    final = load(ckpts / "ckpt-000003.pt")
    reference = load(straight / "checkpoints" / "ckpt-000003.pt")
    assert final["meta_step"] == 3
    assert same(final["meta_optimizer"], reference["meta_optimizer"])
    assert same(load(ckpts / "ckpt-000002.pt")["meta_optimizer"],  # rewritten, good again
                load(straight / "checkpoints" / "ckpt-000002.pt")["meta_optimizer"])
    assert same(load_init(run / "init" / "encoder.pt")["parameters"],
                load_init(straight / "init" / "encoder.pt")["parameters"])


@pytest.fixture
def two_checkpoints(straight, tmp_path):
    """A directory with checkpoint 1 intact; the test writes checkpoint 2."""
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    shutil.copy(straight / "checkpoints" / "ckpt-000001.pt", directory)
    src = straight / "checkpoints"
    return directory, (src / "ckpt-000002.pt").read_bytes(), load(src / "ckpt-000001.pt")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_truncation_of_the_latest_falls_back_to_the_previous(two_checkpoints, data):
    directory, intact, previous = two_checkpoints
    size = len(intact)
    keep = data.draw(st.one_of(st.sampled_from([0, 1, 22, size // 2, size - 22, size - 1]),
                               st.integers(0, size - 1)), label="bytes kept")
    (directory / "ckpt-000002.pt").write_bytes(intact[:keep])
    messages = []
    state = load_latest(directory, messages.append)
    assert state is not None and state["meta_step"] == 1 and same(state, previous)
    assert len(messages) == 1 and messages[0].startswith("checkpoint ckpt-000002.pt is unreadable")


def test_a_byte_flipped_latest_is_never_loaded_as_if_intact(two_checkpoints):
    """Each trial flips 1–4 random bytes: load_latest must fall back, or return the exact original
    (flips in bytes that carry nothing, such as alignment padding, are harmless)."""
    directory, intact_bytes, previous = two_checkpoints
    (directory / "ckpt-000002.pt").write_bytes(intact_bytes)
    intact = load(directory / "ckpt-000002.pt")
    rng, trials, silent = random.Random(0), 20, []
    for _ in range(trials):
        bad, positions = flip_bytes(intact_bytes, rng, rng.randint(1, 4))
        (directory / "ckpt-000002.pt").write_bytes(bad)
        messages = []
        state = load_latest(directory, messages.append)
        if same(state, intact) or (same(state, previous) and messages):
            continue
        silent.append(positions)
    assert not silent, (f"{len(silent)} of {trials} byte-flipped checkpoints loaded as good with "
                        f"different contents, e.g. flips at byte offsets {silent[:3]}")


@pytest.mark.parametrize("how", ["truncated", "garbled_start"])
def test_the_fallback_message_is_one_clear_line(two_checkpoints, how):
    directory, intact, _ = two_checkpoints
    (directory / "ckpt-000002.pt").write_bytes(CORRUPTIONS[how](intact, random.Random(how)))
    messages = []
    load_latest(directory, messages.append)
    assert len(messages) == 1
    assert "\n" not in messages[0] and "weights_only" not in messages[0], messages[0]


def test_every_checkpoint_corrupt_starts_afresh_with_a_message(two_checkpoints, tmp_path):
    directory, intact, _ = two_checkpoints
    (directory / "ckpt-000001.pt").write_bytes(b"")
    (directory / "ckpt-000002.pt").write_bytes(intact[:1000])
    log, cfg = io.StringIO(), config()
    trainer = MetaTrainer(cfg, directory.parent, runner=STAND_IN, stream=log, resume=True)
    trainer.log.close()
    said = log.getvalue()
    assert said.count("is unreadable") == 2
    assert f"no usable checkpoint in {directory}: starting afresh" in said
    assert trainer.start == 0 and trainer.meta.steps_taken == 0
    assert same(trainer.meta.init, initial_init(cfg)[0])
