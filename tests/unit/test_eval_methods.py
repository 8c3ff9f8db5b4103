"""Issue 25's `leap-rl evaluate` extensions without Ray: the --init grammar (per-method inner
settings, meta-seed groups, scale-matched random), --first-seed/--ci, the resume settings, the
hierarchical bootstrap and scale matching."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from leap_rl.cli import build_parser
from leap_rl.config import ConfigError, load_config
from leap_rl.evaluation import store
from leap_rl.evaluation.bootstrap import hierarchical_bootstrap
from leap_rl.evaluation.methods import Method, complete, method_configs, parse_init
from leap_rl.evaluation.scaled import fresh_encoder, rms, scale_matched, scaled_init
from leap_rl.evaluation.stats import paired_bootstrap, summarize
from leap_rl.io.artifacts import ArtifactError


def parse(*argv):
    return build_parser().parse_args(["evaluate", *argv])


@pytest.mark.parametrize("value, expected", [
    ("random@inner.learning_rate=8e-3", Method("random", "random", (), ("inner.learning_rate=8e-3",))),
    ("leap=a.pt@inner.learning_rate=4e-3@inner.entropy_coef=0.02",
     Method("leap", "init", ("a.pt",), ("inner.learning_rate=4e-3", "inner.entropy_coef=0.02"))),
    ("leap=A.pt,B.pt", Method("leap", "init", ("A.pt", "B.pt"))),
    ("sc=scaled:runs/a/init/encoder.pt", Method("sc", "scaled", ("runs/a/init/encoder.pt",))),
    ("runs/x@y/encoder.pt", Method("leap", "init", ("runs/x@y/encoder.pt",))),  # "@" in a path
])
def test_init_grammar(value, expected):
    assert parse_init(value) == expected


def test_members_and_random_last():
    args = parse("--init", "random@inner.learning_rate=8e-3", "--init", "leap=A.pt,B.pt")
    methods = complete(args.inits)
    assert [m.name for m in methods] == ["leap", "random"]
    assert methods[0].members == ["leap#0", "leap#1"]
    assert complete([Method("x", "init", ("x.pt",))])[-1] == Method("random", "random")


@pytest.mark.parametrize("argv, fragment", [
    (["--init", "leap=a.pt@env.frame_stack=2"], "only inner.* settings"),
    (["--init", "random=a.pt"], "'random' is the random-initialization baseline"),
    (["--init", "leap=a.pt", "--init", "leap=b.pt"], "NAME=A.pt,B.pt"),
    (["--init", "s=scaled:a.pt,b.pt"], "scaled: takes one"),
    (["--init", "leap=a.pt,"], "empty path"),
    (["--init", "a.pt", "--first-seed", "-1"], "--first-seed"),
    (["--init", "a.pt", "--ci", "student"], "--ci"),
])
def test_bad_values_exit_2(argv, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        parse(*argv)
    assert info.value.code == 2 and fragment in capsys.readouterr().err


def test_defaults_and_options():
    args = parse("--init", "a.pt")
    assert args.first_seed is None and args.ci == "percentile"
    args = parse("--init", "a.pt", "--first-seed", "100", "--ci", "bca", "--seeds", "30")
    assert (args.first_seed, args.ci, args.seeds) == (100, "bca", 30)


def test_each_method_gets_its_own_inner_config_and_bad_keys_are_config_errors():
    cfg = load_config(None, ["inner.learning_rate=1e-3"])
    methods = complete([parse_init("leap=A.pt,B.pt@inner.learning_rate=4e-3"),
                        parse_init("random@inner.learning_rate=8e-3"),
                        parse_init("reptile=C.pt")])
    configs = method_configs(methods, cfg)
    assert {m: c.inner.learning_rate for m, c in configs.items()} == {
        "leap#0": 4e-3, "leap#1": 4e-3, "random": 8e-3}  # reptile: cfg itself
    assert configs["random"].seed == cfg.seed and configs["random"].env == cfg.env  # paired
    with pytest.raises(ConfigError, match="inner.learnig_rate"):
        method_configs([parse_init("random@inner.learnig_rate=8e-3")], cfg)
    with pytest.raises(ConfigError, match="learning_rate"):
        method_configs([parse_init("random@inner.learning_rate=-1")], cfg)


@pytest.fixture
def files(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.pt").write_bytes(f"theta {name}".encode())
    return tmp_path


def _settings(files, *inits, seeds=(0, 1), ci="percentile"):
    methods = complete([parse_init(v.replace("DIR", str(files))) for v in inits])
    return store.make_settings(methods, ["Pong"], list(seeds), 400, load_config(None), ci)


def test_settings_record_members_overrides_groups_and_seeds(files):
    s = _settings(files, "leap=DIR/a.pt,DIR/b.pt", "sc=scaled:DIR/a.pt",
                  "random@inner.learning_rate=8e-3", seeds=range(100, 130))
    assert s["methods"] == ["leap#0", "leap#1", "sc", "random"]
    assert s["groups"] == {"leap": ["leap#0", "leap#1"]}
    assert s["overrides"] == {"random": ["inner.learning_rate=8e-3"]}
    assert s["inits"]["sc"]["kind"] == "scaled" and s["seeds"][0] == 100 and len(s["seeds"]) == 30


@pytest.mark.parametrize("now, fragment", [
    (dict(inits=("leap=DIR/a.pt", "random@inner.learning_rate=1e-3")), "overrides:"),
    (dict(inits=("leap=DIR/a.pt",), seeds=(100, 101)), "seeds: [0, 1] in the directory"),
    (dict(inits=("leap=scaled:DIR/a.pt", "random@inner.learning_rate=8e-3")), "a scaled θ⁰ now"),
    (dict(inits=("leap=DIR/a.pt,DIR/b.pt", "random@inner.learning_rate=8e-3")), "groups:"),
])
def test_a_resume_with_other_method_settings_is_refused(files, now, fragment):
    out = files / "eval"
    store.sync(out, _settings(files, "leap=DIR/a.pt", "random@inner.learning_rate=8e-3"), 5, [])
    with pytest.raises(ArtifactError, match="cannot resume") as info:
        store.check_out(out, _settings(files, *now["inits"], seeds=now.get("seeds", (0, 1))),
                        resume=True)
    assert fragment in str(info.value)
    # another interval method changes the report, not the runs: accepted
    same = _settings(files, "leap=DIR/a.pt", "random@inner.learning_rate=8e-3", ci="bca")
    assert store.check_out(out, same, resume=True) is True


def test_hierarchical_bootstrap_by_hand():
    """Two meta-seeds, constant within: the statistic is the mean of two draws from {1, 3}:
    1, 2 or 3 with probabilities 1/4, 1/2, 1/4, so the 95% percentile interval is [1, 3]."""
    res = hierarchical_bootstrap([[1.0, 1.0, 1.0], [3.0, 3.0]], resamples=4000)
    assert res["mean"] == 2.0 and (res["low"], res["high"]) == (1.0, 3.0)
    assert res["meta_seeds"] == 2 and res["n"] == [3, 2]
    one = hierarchical_bootstrap([[1.0, 2.0, 3.0]])
    assert one["note"].startswith("fewer than 2 meta-seeds") and np.isnan(one["low"])
    same = hierarchical_bootstrap([[2.0, 2.0], [2.0, np.nan]])
    assert (same["low"], same["high"]) == (2.0, 2.0)


def test_disagreeing_meta_seeds_widen_the_interval():
    rng = np.random.default_rng(1)
    noise = [rng.normal(0, 0.2, 10) for _ in range(4)]
    agree = [1.0 + e for e in noise]
    disagree = [c + e for c, e in zip((0.0, 2.0, 0.5, 1.5), noise)]

    def width(r):
        return r["high"] - r["low"]
    hier = hierarchical_bootstrap(disagree)
    pooled = paired_bootstrap(np.concatenate(disagree))
    assert width(hier) > 1.5 * width(pooled)  # pooling hides the meta-seed spread
    assert width(hier) > 3 * width(hierarchical_bootstrap(agree))
    bca = hierarchical_bootstrap(disagree, method="bca")
    assert bca["note"] is None and bca["low"] < bca["mean"] < bca["high"]
    assert "3 or more" in hierarchical_bootstrap(disagree[:2], method="bca")["note"]


def test_summary_with_a_group_thirty_seeds_and_bca():
    rng = np.random.default_rng(0)
    runs = {}
    for seed in range(100, 130):
        for method, shift in (("leap#0", 1.0), ("leap#1", 3.0), ("random", 0.0)):
            returns = rng.normal(shift, 1.0, 20)
            runs[("Pong", method, seed)] = (np.arange(1, 21) * 10, returns, 200)
    s = summarize(runs, 5, ["leap#0", "leap#1"], {"leap": ["leap#0", "leap#1"]}, "bca")
    game = s["games"]["Pong"]
    assert game["methods"]["random"]["seeds"] == list(range(100, 130))
    h = game["hierarchical"]["leap - random"]
    assert h["final"]["meta_seeds"] == 2 and h["final"]["n"] == [30, 30]
    assert h["final"]["low"] <= h["final"]["mean"] <= h["final"]["high"]
    paired = game["differences"]["leap#0 - random"]["final"]
    assert paired["n"] == 30 and paired["low"] < paired["high"] and s["bootstrap"]["method"] == "bca"


def test_scale_matched_rms_per_tensor_and_seeds_differ():
    target = {"encoder.w": torch.randn(8, 4) * 0.05, "encoder.b": torch.full((8,), 0.3),
              "encoder.z": torch.zeros(3)}
    fresh = {"encoder.w": torch.randn(8, 4), "encoder.b": torch.randn(8), "encoder.z": torch.randn(3)}
    out = scale_matched(fresh, target)
    for name in target:
        assert rms(out[name]) == pytest.approx(rms(target[name]), abs=1e-7)
    assert torch.equal(out["encoder.z"], torch.zeros(3))  # zero-RMS target → zeros
    cos = torch.nn.functional.cosine_similarity(out["encoder.w"].flatten(), fresh["encoder.w"].flatten(), 0)
    assert cos == pytest.approx(1.0)  # same direction as the fresh tensor
    assert torch.equal(scale_matched({"x": torch.zeros(2)}, {"x": torch.ones(2)})["x"], torch.zeros(2))


def test_scaled_init_is_the_random_runs_encoder_rescaled_and_seeded():
    theta = {k: v * 3 for k, v in fresh_encoder("mlp", (4,), 1234).items()}
    a, b = scaled_init(theta, "mlp", (4,), 0), scaled_init(theta, "mlp", (4,), 1)
    assert not torch.equal(a["encoder.fc1.weight"], b["encoder.fc1.weight"])
    for name, x in a.items():
        assert rms(x) == pytest.approx(rms(theta[name]), rel=1e-6)
    from leap_rl.agent import build_actor_critic, encoder_state
    from leap_rl.backends.a2c_task import build_learner  # noqa: F401 (the seeding it mirrors)

    torch.manual_seed(0)
    random_run = encoder_state(build_actor_critic("mlp", (4,), 2))  # as build_learner draws it
    for name, x in random_run.items():
        assert torch.allclose(a[name] / a[name].norm(), x / x.norm(), atol=1e-6)


def test_scaled_init_of_a_layer_norm_theta_has_its_norm_layers():
    theta = {k: v * 3 for k, v in fresh_encoder("minatar", (10, 10, 10), 5, True).items()}
    assert any("norm" in k for k in theta)
    with pytest.raises(KeyError):  # a plain network's encoder lacks the norm layers
        scaled_init(theta, "minatar", (10, 10, 10), 0)
    out = scaled_init(theta, "minatar", (10, 10, 10), 0, layer_norm=True)
    assert set(out) == set(theta)
    for name, x in out.items():
        assert rms(x) == pytest.approx(rms(theta[name]), rel=1e-6)


def test_each_run_gets_its_methods_config_and_the_scaled_one_its_rescaled_init(monkeypatch):
    """Through the runner's launcher and the A2C backend seam, no Ray task started."""
    from leap_rl.backends import a2c_task
    from leap_rl.evaluation import runner

    cfg = load_config(None, ["inner.encoder=mlp"])
    configs = method_configs([parse_init("random@inner.learning_rate=8e-3")], cfg)
    slots = runner._RunHosts(cfg, {"sc": "ref-sc", "leap": "ref-leap"}, 4, configs,
                             {"sc": (4,)})
    sent = []
    streaming = SimpleNamespace(remote=lambda *a: sent.append(a))
    host = SimpleNamespace(run=SimpleNamespace(options=lambda **_: streaming))
    slots.host = SimpleNamespace(remote=lambda: host)  # a host actor's handle, none started
    for method in ("random", "leap", "sc"):
        job = type("Job", (), {"payload": runner.RunResult(runner.RunSpec("CartPole-v1", method,
                                                                            100, 8))})
        slots.launch(job)
    rates = [a[2]["inner"]["learning_rate"] for a in sent]
    assert rates == [8e-3, cfg.inner.learning_rate, cfg.inner.learning_rate]
    assert [a[1] for a in sent] == [None, "ref-leap", "ref-sc"] and sent[2][4] == (4,)

    seen = []

    def build(game, config, *, seed=None, init=None, **kwargs):
        seen.append((config.inner.learning_rate, init))
        raise RuntimeError("built")
    monkeypatch.setattr(a2c_task, "build_learner", build)
    theta = {k: v * 2 for k, v in fresh_encoder("mlp", (4,), 7).items()}
    for args in sent:
        spec, init = args[0], (theta if args[1] else None)
        with pytest.raises(RuntimeError, match="built"):
            list(runner.train_run(spec, init, *args[2:]))
    assert seen[0] == (8e-3, None) and seen[1][1] is theta
    assert all(rms(seen[2][1][k]) == pytest.approx(rms(theta[k]), rel=1e-6) for k in theta)
    assert not torch.equal(seen[2][1]["encoder.fc1.weight"], theta["encoder.fc1.weight"])
