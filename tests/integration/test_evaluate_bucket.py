"""``leap-rl evaluate`` with a θ⁰ in a bucket and its outputs into one, and ``report`` on that
bucket, against both emulators (s3 on moto, gs on gcp-storage-emulator); a missing bucket is one
message and exit 2."""

from __future__ import annotations

import json

from leap_rl.cli import main
from leap_rl.config import load_config
from leap_rl.io.artifacts import save_init
from leap_rl.io.storage import location

TINY = ["inner.num_envs=8", "inner.device=cpu", "env.max_episode_frames=160",
        "meta.pool=[Pong]", "meta.meta_batch_size=1", "workers.num_cpus=1"]


def _init_in(uri: str) -> str:
    from leap_rl.distributed.driver import initial_init

    cfg = load_config(None, TINY)
    params, shape = initial_init(cfg)
    save_init(location(f"{uri}/encoder.pt"), params, architecture=cfg.inner.encoder,
              observation_shape=shape)
    return f"{uri}/encoder.pt"


def _evaluate(init: str, out: str) -> int:
    argv = ["evaluate", "--init", f"leap={init}", "--games", "Pong", "--seeds", "1",
            "--steps", "80", "--out", out]
    for override in TINY:
        argv += ["--set", override]
    return main(argv)


def test_evaluate_and_report_in_a_bucket(ray_local, bucket, bucket_keys, capsys):
    init = _init_in(f"{bucket}/run/init")
    assert _evaluate(init, f"{bucket}/eval") == 0, capsys.readouterr().err
    keys = bucket_keys(f"{bucket}/eval")
    assert {"curves.csv", "evaluation.json", "summary.json", "plots/Pong.png"} <= set(keys)
    summary = json.loads(location(f"{bucket}/eval/summary.json").read_text())
    assert summary["methods"] == ["leap", "random"] and summary["steps"] == 80
    location(f"{bucket}/eval/summary.json").unlink()
    assert main(["report", f"{bucket}/eval"]) == 0
    assert json.loads(location(f"{bucket}/eval/summary.json").read_text()) == summary
    assert _evaluate(init, f"{bucket}/eval") == 2  # no --resume: refused, nothing changed
    assert "--resume" in capsys.readouterr().err and bucket_keys(f"{bucket}/eval") == keys


def test_evaluate_into_a_missing_bucket_exits_2(bucket, capsys, tmp_path):
    init = _init_in(str(tmp_path))
    assert _evaluate(init, f"{bucket}-absent/eval") == 2
    assert "does not exist" in capsys.readouterr().err
