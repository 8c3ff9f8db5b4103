"""The study's meta-training diagnostics export (scripts/minatar_v2_meta.py) on a real TensorBoard
file. The logged values are stand-ins: the test's point is the bookkeeping (one row per
meta-step, a resumed run's re-logged meta-step counted once, the table's first/last rows)."""

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

import minatar_v2_meta as meta  # noqa: E402


def write_run(run: Path, values: list[float], restart_at: int | None = None) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run / "tensorboard"))
    for k, v in enumerate(values):
        writer.add_scalar("init/dormant_share/pool/fc/tau=0.025", v, (k + 1) * 100)
        writer.add_scalar("objective/raw_d2_mean", 10 * v, (k + 1) * 100)
    writer.close()
    if restart_at is not None:  # a resume re-logs from its checkpoint, in a second file
        writer = SummaryWriter(str(run / "tensorboard"), filename_suffix=".resumed")
        for k in range(restart_at, len(values)):
            writer.add_scalar("init/dormant_share/pool/fc/tau=0.025", values[k] + 1, (k + 1) * 100)
        writer.close()


def test_rows_per_meta_step_and_the_first_and_last_in_the_table(tmp_path):
    write_run(tmp_path / "a", [0.1, 0.2, 0.3])
    write_run(tmp_path / "b", [0.3, 0.4, 0.5])
    rows = meta.export({("leap", 10): tmp_path / "a", ("leap", 11): tmp_path / "b",
                        ("reptile", 10): tmp_path / "missing"}, tmp_path / "meta.csv",
                       lambda path, rows: _write(path, rows))
    assert [(r["seed"], r["meta_step"], r["fc_dormant"]) for r in rows] == [
        (10, 1, 0.1), (10, 2, 0.2), (10, 3, 0.3), (11, 1, 0.3), (11, 2, 0.4), (11, 3, 0.5)]
    assert rows[0]["d2"] == 1.0 and rows[0]["fc_rms"] is None  # a tag the run did not log
    read = list(csv.DictReader((tmp_path / "meta.csv").open()))
    table = meta.table(read, lambda x: "—" if x is None else f"{x:.2f}")
    leap = [line for line in table if line.startswith("| leap")]
    assert leap[0].startswith("| leap | 1 | 2 | 0.20 |")  # means over the two meta-seeds
    assert leap[1].startswith("| leap | 3 | 2 | 0.40 |")


def test_a_resumed_run_counts_each_meta_step_once(tmp_path):
    write_run(tmp_path / "r", [0.1, 0.2, 0.3], restart_at=1)
    rows = meta.run_rows(tmp_path / "r", "leap", 12)
    assert [r["meta_step"] for r in rows] == [1, 2, 3]
    assert [r["fc_dormant"] for r in rows][1:] == [1.2, 1.3]  # the resumed run's values


def test_a_stage_two_trial_keeps_its_fold_and_the_final_table_its_first_and_last(tmp_path):
    write_run(tmp_path / "t1", [0.2, 0.8])
    write_run(tmp_path / "t2", [0.4, 0.6])
    rows = meta.export({("stage2-redo", 1, "MinAtar/Asterix"): tmp_path / "t1",
                        ("stage2-redo", 2, "MinAtar/Asterix"): tmp_path / "t2"},
                       tmp_path / "m.csv", _write)
    assert {r["fold"] for r in rows} == {"MinAtar/Asterix"} and len(rows) == 4
    table = meta.final_table(rows, lambda x: f"{x:.0%}", lambda x: "—" if x is None else x)
    assert table[-2] == "| stage2-redo | 2 | 30% | 70% | — | — |"


def _write(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
