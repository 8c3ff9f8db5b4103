"""Refactors keep results: the same seeds give the same θ⁰ and the same evaluation curves as the
code recorded in ``tests/data/golden_results.json`` (see its ``recorded_at``).

A small real meta-training run (A2C on real ALE games, two meta-steps, Ray workers) and two
evaluation runs: from the seeded initial θ⁰ (the init-loading path) and from a random encoder.
θ⁰ is compared on 64 fixed elements per tensor to 1e-6 (a resumed driver's Adam step was once
seen 3e-7 off under load: docs/reliability.md; a lost or doubled chunk moves θ⁰ by ≥ 1e-4);
the curves exactly. Floating-point results may legitimately differ with another torch build or
CPU instruction set, so the comparison is skipped (saying why) where either differs from the
recording. ``LEAP_RL_RECORD_GOLDEN=1`` rewrites the file instead: do that only on a commit
whose results are the reference, and say so in the commit message.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from leap_rl.config import load_config
from leap_rl.distributed.driver import MetaTrainer, initial_init
from leap_rl.evaluation.runner import RunSpec, train_run

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden_results.json"
OVERRIDES = ["meta.meta_steps=2", "meta.steps_per_task=400", "env.max_episode_frames=160",
             "workers.num_cpus=0.5"]


def sample(tensors) -> dict[str, list[float]]:
    """64 fixed elements of each tensor (evenly spaced over the flattened tensor)."""
    out = {}
    for k, v in sorted(tensors.items()):
        flat = v.flatten()
        out[k] = flat[torch.linspace(0, flat.numel() - 1, 64).long()].tolist()
    return out


def platform() -> dict[str, str]:
    return {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability()}


def results(out: Path) -> dict:
    cfg = load_config(ROOT / "configs" / "smoke.yaml", OVERRIDES)
    MetaTrainer(cfg, out, stream=open(os.devnull, "w")).run()
    learned = torch.load(out / "init" / "encoder.pt", weights_only=True)["parameters"]
    start, _ = initial_init(cfg)
    curves = {}
    for method, init in (("initial", start), ("random", None)):
        spec = RunSpec("Asterix", "random" if init is None else method, 3, 400)
        items = list(train_run(spec, init, cfg.model_dump(mode="json"), 1))
        curves[method] = [list(e) for item in items for e in item["episodes"]]
    return {"init": sample(learned), "evaluation": curves}


def test_same_seeds_give_the_recorded_init_and_curves(ray_local, tmp_path):
    got = results(tmp_path / "run")
    if os.environ.get("LEAP_RL_RECORD_GOLDEN"):
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        GOLDEN.write_text(json.dumps({"recorded_at": head, "overrides": OVERRIDES,
                                      "platform": platform(), **got}) + "\n")
        pytest.skip(f"recorded {GOLDEN}")
    golden = json.loads(GOLDEN.read_text())
    if golden["platform"] != platform():
        pytest.skip(f"recorded on {golden['platform']}, this is {platform()}")
    assert got["evaluation"] == golden["evaluation"], "evaluation curves differ"
    for k, values in golden["init"].items():
        torch.testing.assert_close(torch.tensor(got["init"][k]), torch.tensor(values),
                                   rtol=0, atol=1e-6, msg=lambda m: f"θ⁰ {k}: {m}")
