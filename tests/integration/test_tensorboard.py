"""TensorBoard on a real smoke meta-training (configs/smoke.yaml, budgets cut): the tags written
are the tags docs/tensorboard.md lists, and a real ``tensorboard --logdir`` serves the layout,
every drawn game's per-meta-step scalars, the workers' utilization and the hparams.

One smoke run is shared by the module's tests. Its tasks are 800 steps of 8 environments with
the smoke config's 10,000-frame episodes, so no episode finishes: every game is one "with no
finished episode", whose games/ card must exist all the same.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from leap_rl.config import load_config
from leap_rl.distributed.driver import MetaTrainer
from leap_rl.distributed.runlog import read_tasks

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "tensorboard.md"


@pytest.fixture(scope="module")
def smoke_run(ray_local, tmp_path_factory):
    run = tmp_path_factory.mktemp("smoke") / "run"
    cfg = load_config(ROOT / "configs" / "smoke.yaml", ["meta.steps_per_task=800"])
    MetaTrainer(cfg, run, stream=open(os.devnull, "w")).run()
    return run


def documented() -> list[tuple[re.Pattern, str]]:
    """(tag pattern, when written) of every row of the doc's tag table; placeholders such as
    ``<game>`` match any text."""
    rows = []
    text = DOC.read_text().split("## Every tag", 1)[1].split("## Old", 1)[0]
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            tag = cells[0].strip("`")
            pattern = "".join(".+" if part.startswith("<") else re.escape(part)
                              for part in re.split(r"(<[^>]+>)", tag))
            rows.append((re.compile(pattern + "$"), cells[3]))
    return rows


def written_tags(run: Path) -> dict[str, list]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


def test_written_tags_are_the_documented_tags(smoke_run):
    rows, written = documented(), written_tags(smoke_run)
    assert not (smoke_run / "tensorboard" / "tasks").exists()  # run.task_curves is off
    assert len(rows) > 40
    undocumented = [t for t in written if not any(p.match(t) for p, _ in rows)]
    assert undocumented == []
    always = [p.pattern for p, when in rows if when == "every meta-step"]
    missing = [p for p in always if not any(re.match(p, t) for t in written)]
    assert missing == []
    for tag, points in written.items():  # no episode finished: no return written, never a 0
        assert not tag.endswith(("/return_early", "/return_late")), tag
        if tag.endswith("/episodes"):
            assert [p.value for p in points] == [0.0] * len(points)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def board(smoke_run):
    """A real TensorBoard on the smoke run; yields a GET/POST helper; stopped by its pid."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "tensorboard"), "--logdir",
                             str(smoke_run / "tensorboard"), "--host", "127.0.0.1",
                             "--port", str(port), "--reload_interval", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get("/data/plugin/scalars/tags").get("."):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "tensorboard did not serve the run in 60 s"
            time.sleep(0.5)
        yield get
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_tensorboard_serves_layout_games_workers_and_hparams(board, smoke_run):
    tags = board("/data/plugin/scalars/tags")["."]
    layout = board("/data/plugin/custom_scalars/layout")
    titles = [c["title"] for c in layout["category"]]
    assert titles[0] == "objective" and titles[-1] == "failures"
    conditional = [p.pattern for p, when in documented() if "episodes there" in when]
    for category in layout["category"]:
        for chart in category["chart"]:
            for regex in chart["multiline"]["tag"]:
                # The returns are written only where episodes finished, none here.
                exempt = any(regex.endswith(p.rsplit("/", 1)[-1].rstrip("$")) for p in conditional)
                assert exempt or any(re.fullmatch(regex, t) for t in tags), regex

    def values(tag):
        points = board(f"/data/plugin/scalars/scalars?run=.&tag={urllib.parse.quote(tag)}")
        return [(step, value) for _, step, value in points]

    rows = read_tasks(smoke_run)
    ends = []
    for m in sorted({r["meta_step"] for r in rows}):
        ends.append((ends[-1] if ends else 0) + sum(r["steps"] for r in rows
                                                    if r["meta_step"] == m))
    for game in {r["game"] for r in rows}:
        drawn = [ends[m] for m in sorted({r["meta_step"] for r in rows if r["game"] == game})]
        for key in ("d1", "d2", "episodes", "policy_loss", "value_loss", "entropy"):
            assert [s for s, _ in values(f"games/{game}/{key}")] == drawn, (game, key)
    utilization = [v for _, v in values("workers/utilization")]
    assert len(utilization) == len(ends) and all(0.0 < u <= 1.0 for u in utilization)
    experiment = board("/data/plugin/hparams/experiment", {"experimentName": ""})
    names = {h["name"] for h in experiment["hparamInfos"]}
    assert {"meta.learning_rate", "meta.meta_batch_size", "inner.num_envs"} <= names
    assert "objective/d2_ratio_mean" in {m["name"]["tag"] for m in experiment["metricInfos"]}
