"""`leap-rl evaluate --init NAME=PATH` parsing, the output directory's resume rules, and which θ⁰
each method's run trains from (no Ray)."""

from __future__ import annotations

import json

import pytest

from leap_rl.cli import build_parser
from leap_rl.cli.evaluate import parse_init
from leap_rl.config import load_config
from leap_rl.evaluation import store
from leap_rl.io.artifacts import ArtifactError


def parse(*argv):
    return build_parser().parse_args(argv)


def paths(inits):
    return {name: ",".join(m.paths) for name, m in inits.items()}


def test_named_inits_in_the_order_given():
    args = parse("evaluate", "--init", "leap=runs/a/init/encoder.pt",
                 "--init", "reptile=runs/b/init/encoder.pt", "--init", "joint.v2=c.pt")
    assert paths(args.inits) == {"leap": "runs/a/init/encoder.pt",
                                 "reptile": "runs/b/init/encoder.pt", "joint.v2": "c.pt"}
    assert list(args.inits) == ["leap", "reptile", "joint.v2"] and not args.resume
    assert all(m.kind == "init" and not m.overrides for m in args.inits.values())


@pytest.mark.parametrize("value, name, path", [
    ("runs/a/init/encoder.pt", "leap", "runs/a/init/encoder.pt"),  # a bare path is leap
    ("runs/lr=1e-3/init/encoder.pt", "leap", "runs/lr=1e-3/init/encoder.pt"),  # "=" in a folder
    ("maml=x=y.pt", "maml", "x=y.pt"),  # split at the first "="
    ("Leap_2-b=enc.pt", "Leap_2-b", "enc.pt"),
])
def test_parse_init(value, name, path):
    method = parse_init(value)
    assert (method.name, method.paths, method.kind) == (name, (path,), "init")
    assert paths(parse("evaluate", "--init", value).inits) == {name: path}


@pytest.mark.parametrize("argv, fragment", [
    (["--init", "random=a.pt"], "'random' is the random-initialization baseline"),
    (["--init", "Random=a.pt"], "'random' is the random-initialization baseline"),
    (["--init", "=a.pt"], "empty name"),
    (["--init", "leap="], "no path after '='"),
    (["--init", "my leap=a.pt"], "letters, digits"),
    (["--init", "a,b=a.pt"], "letters, digits"),
    (["--init", "leap=a.pt", "--init", "leap=b.pt"], "'leap' is already given to a.pt"),
    (["--init", "a.pt", "--init", "b.pt"], "a bare PATH is named leap"),
    (["--init", "a.pt", "--init", "leap=b.pt"], "'leap' is already given"),
    ([], "the following arguments are required: --init"),
])
def test_bad_init_names_are_usage_errors(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse("evaluate", *argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and fragment in err and "--init" in err


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "a.pt").write_bytes(b"theta A")
    (tmp_path / "b.pt").write_bytes(b"theta B")
    inits = {"leap": tmp_path / "a.pt", "reptile": tmp_path / "b.pt"}

    def make(overrides=(), steps=400, games=("Pong",), inits=inits):
        cfg = load_config(None, list(overrides))
        return store.make_settings(inits, list(games), [0, 1], steps, cfg)
    return make


def _evaluation_dir(tmp_path, settings):
    out = tmp_path / "eval"
    store.sync(out, settings, 5, [])
    return out


def test_a_fresh_directory_starts_and_an_existing_one_needs_resume(tmp_path, settings):
    out = tmp_path / "eval"
    assert store.check_out(out, settings()) is False
    assert store.check_out(out, settings(), resume=True) is False  # nothing there to resume
    _evaluation_dir(tmp_path, settings())
    with pytest.raises(ArtifactError, match="add --resume"):
        store.check_out(out, settings())
    assert store.check_out(out, settings(), resume=True) is True
    # where runs are scheduled is not what they compute: workers.* may change
    assert store.check_out(out, settings(["workers.num_cpus=2"]), resume=True) is True


@pytest.mark.parametrize("change, fragment", [
    ({"steps": 800}, "steps: 400 in the directory, 800 now"),
    ({"games": ("Pong", "Breakout")}, "games: ['Pong'] in the directory"),
    ({"overrides": ["inner.num_envs=4"]}, "config inner.num_envs: 32 in the directory, 4 now"),
    ({"inits": {"leap": "a.pt"}}, "methods: leap, reptile, random in the directory"),
])
def test_a_resume_with_other_settings_is_refused(tmp_path, settings, change, fragment):
    out = _evaluation_dir(tmp_path, settings(["inner.num_envs=32"]))
    change = {"overrides": ["inner.num_envs=32"], **change}
    if "inits" in change:
        change["inits"] = {"leap": tmp_path / "a.pt"}
    with pytest.raises(ArtifactError, match="cannot resume") as info:
        store.check_out(out, settings(**change), resume=True)
    assert fragment in str(info.value)


def test_a_resume_with_a_changed_init_file_is_refused_a_moved_one_accepted(tmp_path, settings):
    out = _evaluation_dir(tmp_path, settings())
    (tmp_path / "moved.pt").write_bytes(b"theta A")
    moved = {"leap": tmp_path / "moved.pt", "reptile": tmp_path / "b.pt"}
    assert store.check_out(out, settings(inits=moved), resume=True) is True
    (tmp_path / "a.pt").write_bytes(b"theta A, trained further")
    with pytest.raises(ArtifactError, match=r"--init leap: .*a\.pt \(sha256 .* is not the file"):
        store.check_out(out, settings(), resume=True)


def test_run_records_rebuild_curves_and_evaluation_json(tmp_path, settings):
    out = tmp_path / "eval"
    order = [("Pong", m, s) for s in (0, 1) for m in ("leap", "reptile", "random")]
    for game, method, seed in reversed(order):  # finishing order does not matter
        status = "failed" if (method, seed) == ("reptile", 1) else "completed"
        record = {"game": game, "method": method, "seed": seed, "status": status,
                  "agent_steps": 40}
        store.write_record(out, record, [(10, 1.0 + seed), (30, 2.0)])
    records = store.sync(out, settings(), 5, order)
    assert len(records) == 6 and records[("Pong", "reptile", 1)]["status"] == "failed"
    rows = (out / "curves.csv").read_text().splitlines()
    assert rows[1].startswith("Pong,leap,0,10,1.0,") and len(rows) == 1 + 5 * 2  # no failed run
    meta = json.loads((out / "evaluation.json").read_text())
    assert [(r["method"], r["seed"]) for r in meta["runs"]] == [(m, s) for _, m, s in order]
    assert meta["settings"]["methods"] == ["leap", "reptile", "random"]
    (out / "runs" / "Pong" / "leap" / "seed-0.json").write_text("{")  # torn by hand
    with pytest.raises(ArtifactError, match="delete it to rerun"):
        store.sync(out, settings(), 5, order)


class Built(Exception):
    """Stops a run once its learner's inputs are known."""


@pytest.mark.parametrize("backend", ["a2c", "rllib"])
def test_every_named_method_trains_from_its_init_and_random_from_none(backend, monkeypatch):
    """Through the backend seam: each backend's evaluation run gets the method's θ⁰, or None."""
    from leap_rl.evaluation import runner

    seen = []

    def build(game, *args, seed=None, init=None, **kwargs):
        seen.append((game, seed, init))
        raise Built
    if backend == "rllib":
        from leap_rl.rllib import task

        monkeypatch.setattr(task, "evaluation_run", lambda game, seed, steps, init, *rest:
                            build(game, seed=seed, init=init))
    else:
        from leap_rl.backends import a2c_task as run_task

        monkeypatch.setattr(run_task, "build_learner", build)
    cfg = load_config(None, [f"inner.backend={backend}"]).model_dump(mode="json")
    theta = {"encoder.w": object()}
    for method in ("reptile", "random"):
        with pytest.raises(Built):
            list(runner.train_run(runner.RunSpec("Pong", method, 3, 8), theta, cfg, 1))
    assert seen == [("Pong", 3, theta), ("Pong", 3, None)]
