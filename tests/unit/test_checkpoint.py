"""Checkpoints: atomic, pruned to the last k, and a corrupt latest one falls back."""

import torch

from leap_rl.distributed.checkpoint import list_checkpoints, load_latest, save_checkpoint


def state(value):
    return {"meta_optimizer": {"init": {"w": torch.full((4,), float(value))}}, "config": {}}


def test_keeps_the_last_k(tmp_path):
    for m in range(1, 6):
        save_checkpoint(tmp_path, m, state(m), keep=3)
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "ckpt-000003.pt", "ckpt-000004.pt", "ckpt-000005.pt"]
    loaded = load_latest(tmp_path)
    assert loaded["meta_step"] == 5 and loaded["meta_optimizer"]["init"]["w"][0] == 5.0


def test_corrupt_latest_falls_back_with_a_message_and_leftovers_are_removed(tmp_path):
    save_checkpoint(tmp_path, 1, state(1), keep=3)
    latest = save_checkpoint(tmp_path, 2, state(2), keep=3)
    latest.write_bytes(latest.read_bytes()[: len(latest.read_bytes()) // 2])  # truncated
    leftover = tmp_path / ".ckpt-000003.pt.abc.tmp"  # a write killed before its rename
    leftover.write_bytes(b"partial")
    messages = []
    loaded = load_latest(tmp_path, messages.append)
    assert loaded["meta_step"] == 1
    assert any("ckpt-000002.pt is unreadable" in m for m in messages)
    assert any("never finished" in m for m in messages) and not leftover.exists()


def test_nothing_usable_gives_none(tmp_path):
    assert load_latest(tmp_path / "missing") is None
    (tmp_path / "ckpt-000001.pt").write_bytes(b"garbage")
    assert load_latest(tmp_path, lambda m: None) is None
