"""encoder.pt: atomic writes, and clear errors for files that are not usable."""

import pytest
import torch

from leap_rl.io.artifacts import ArtifactError, atomic_save, load_init, save_init


def test_round_trip_keeps_parameters_and_metadata(tmp_path):
    params = {"encoder.0.weight": torch.randn(4, 3), "encoder.0.bias": torch.randn(4)}
    path = save_init(tmp_path / "init" / "encoder.pt", params, architecture="nature2013",
                     observation_shape=(3, 84, 84), meta_step=7)
    record = load_init(path)
    assert record["parameter_names"] == list(params) and record["meta_step"] == 7
    assert record["observation_shape"] == [3, 84, 84]
    for k, v in params.items():
        assert torch.equal(record["parameters"][k], v)
    assert [p.name for p in path.parent.iterdir()] == ["encoder.pt"]  # no temporary left over


def test_truncated_foreign_and_missing_files_are_refused(tmp_path):
    path = save_init(tmp_path / "encoder.pt", {"w": torch.randn(100)}, architecture="mlp",
                     observation_shape=(4,))
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ArtifactError, match="not a readable torch file"):
        load_init(path)
    atomic_save({"something": "else"}, path)
    with pytest.raises(ArtifactError, match="not a leap-rl encoder initialization"):
        load_init(path)
    with pytest.raises(ArtifactError, match="no such file"):
        load_init(tmp_path / "nope.pt")


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = atomic_save({"v": 1}, tmp_path / "x.pt")

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        atomic_save({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path) == {"v": 1} and len(list(tmp_path.iterdir())) == 1
