"""The meta-training report: per meta-step means and per-game path lengths from tasks.jsonl."""

import json

import pytest

from leap_rl.evaluation.meta_report import render_meta_run, summarize


def write_rows(run_dir, rows):
    (run_dir / "tasks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def row(meta_step, game, d1, d2, status="completed"):
    return {"meta_step": meta_step, "task": 0, "game": game, "d1": d1, "d2": d2, "status": status}


def test_means_skip_failed_tasks_and_games_are_followed(tmp_path):
    write_rows(tmp_path, [row(0, "Pong", 10.0, 4.0), row(0, "Asterix", 30.0, 8.0),
                          row(0, "Freeway", 99.0, 99.0, status="failed"),
                          row(1, "Pong", 5.0, 1.0, status="partial")])
    summary = summarize(tmp_path)
    first, second = summary["per_meta_step"]
    assert (first["meta_step"], first["tasks"], first["mean_d1"], first["mean_d2"]) == (1, 2, 20.0, 6.0)
    assert (second["tasks"], second["mean_d1"]) == (1, 5.0)
    pong = summary["per_game"]["Pong"]
    assert (pong["first_d1"], pong["last_d1"]) == (10.0, 5.0)
    assert pong["change_d1"] == pytest.approx(-0.5)
    assert "Freeway" not in summary["per_game"]


def test_render_writes_summary_and_plot(tmp_path, capsys):
    write_rows(tmp_path, [row(m, "Pong", 10.0 - m, 1.0) for m in range(3)])
    render_meta_run(tmp_path)
    assert json.loads((tmp_path / "meta_summary.json").read_text())["per_game"]["Pong"]["last_d1"] == 8.0
    assert (tmp_path / "plots" / "path_length.png").stat().st_size > 0
    assert "Pong" in capsys.readouterr().out
