"""θ⁰ health (leap_rl.agent.health) and the driver's care of θ⁰ (leap_rl.distributed.care):
units killed by hand show as dormant, the init/ tags are finite and named as documented, and
with every remedy off the driver's update path leaves θ⁰ and Adam bit-equal to a plain step."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from leap_rl.agent.health import dormant_share, drift, encoder_layers, layer_scores, weight_rms
from leap_rl.agent.network import MinAtarEncoder
from leap_rl.config import load_config
from leap_rl.core.meta_optimizer import MetaOptimizer
from leap_rl.distributed.care import InitCare, final_dormant_scalars
from leap_rl.distributed.driver import initial_init

CONFIGS = Path(__file__).parents[2] / "configs"
SHAPE = (10, 10, 10)


def random_frames(n: int = 128, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, *SHAPE, generator=g) < 0.1).to(torch.uint8)


def test_units_killed_by_hand_are_dormant():
    torch.manual_seed(0)
    encoder = MinAtarEncoder(10)
    with torch.no_grad():
        encoder.conv.weight[3].zero_()            # channel 3: zero incoming weights, bias ≤ 0
        encoder.conv.bias[3] = -0.1
        encoder.fc.bias[:20] = -1e4               # fc units 0–19: a large negative bias
        encoder.fc.weight[20:30].zero_()          # fc units 20–29: zero weights, zero bias
        encoder.fc.bias[20:30] = 0.0
    scores = layer_scores(encoder, random_frames(), batch=50)  # batches must add up
    assert encoder_layers(encoder) == ["conv", "fc"]
    assert scores["conv"].shape == (16,) and scores["fc"].shape == (128,)
    assert float(scores["conv"][3]) == 0.0 and bool((scores["fc"][:30] == 0).all())
    share = dormant_share(scores, 0.0)
    assert share["conv"] >= 1 / 16 and share["fc"] >= 30 / 128
    torch.manual_seed(0)
    alive = dormant_share(layer_scores(MinAtarEncoder(10), random_frames()), 0.0)
    assert alive["fc"] < 30 / 128  # the test can fail: a fresh encoder is not that dead
    # A unit's score is its share of the layer's mean: the scores average to 1.
    assert float(scores["fc"].mean()) == pytest.approx(1.0, rel=1e-5)


def test_weight_rms_and_drift():
    init = {"encoder.fc.weight": torch.full((4, 4), 2.0), "encoder.fc.bias": torch.zeros(4)}
    start = {"encoder.fc.weight": torch.full((4, 4), 1.0), "encoder.fc.bias": torch.ones(4)}
    assert weight_rms(init, ["fc"]) == {"fc": 2.0}
    assert drift(init, start, ["fc"]) == {"fc": pytest.approx(math.sqrt(16 + 4))}


def care_for(tmp_path, overrides=()):
    cfg = load_config(CONFIGS / "minatar.yaml", list(overrides))
    init, shape = initial_init(cfg)
    care = InitCare(cfg, tmp_path, shape, init)
    care._frames = {"pool": {g: random_frames(64, i) for i, g in enumerate(cfg.meta.pool)}}
    return cfg, init, care


def gradient(init, seed):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) for k, v in init.items()}


def test_options_off_leave_theta_and_adam_bit_equal(tmp_path):
    cfg, init, care = care_for(tmp_path)
    plain, cared = MetaOptimizer(init, lr=1e-2), MetaOptimizer(init, lr=1e-2)
    for m in range(3):
        grad = gradient(init, m)
        plain.step(grad, 3)
        before = cared.init
        update = cared.step(care.gradient(grad, 3, before), 3)
        scalars, histograms = care.after_update(m, cared, before, update["skipped"])
        assert scalars and histograms  # health measured every meta-step by default
    for k in init:
        assert torch.equal(plain.init[k], cared.init[k])
        assert all(torch.equal(a, b) for a, b in zip(plain.moments()[k], cared.moments()[k]))


def test_health_tags_are_finite_and_named(tmp_path):
    cfg, init, care = care_for(tmp_path)
    meta = MetaOptimizer(init, lr=1e-2)
    meta.step(gradient(init, 0), 1)
    scalars, histograms = care.after_update(0, meta, init, False)
    expected = {f"init/dormant_share/pool/{layer}/tau={tau}" for layer in ("conv", "fc")
                for tau in ("0", "0.025")} | {f"init/{kind}/{layer}" for kind in ("rms", "distance")
                                            for layer in ("conv", "fc")} | {"init/health_seconds"}
    assert set(scalars) == expected
    assert all(math.isfinite(v) for v in scalars.values())
    assert scalars["init/distance/fc"] > 0
    assert set(histograms) == {"init/params/conv.weight", "init/params/conv.bias",
                               "init/params/fc.weight", "init/params/fc.bias"}


def test_redo_through_the_driver_path_recycles_dormant_fc_units(tmp_path):
    cfg, init, care = care_for(tmp_path, ["remedies.redo_every=1", "health.every=0"])
    init["encoder.fc.bias"][:10] = -1e4                  # ten dead fc units
    meta = MetaOptimizer(init, lr=1e-2)
    scalars, _ = care.after_update(0, meta, init, True)
    assert scalars["remedies/redo_units/fc"] >= 10
    after = meta.init["encoder.fc.bias"]
    assert bool((after[:10] > -1).all())                 # fresh biases (|b| ≤ 1/√fan_in)


def test_final_dormant_scalars_average_per_game():
    tallies = [("MinAtar/Asterix", {"d1": 1.0, "final_dormant/fc/tau=0": 0.5}),
               ("MinAtar/Asterix", {"final_dormant/fc/tau=0": 0.7}),
               ("MinAtar/Freeway", {"d1": 2.0})]
    assert final_dormant_scalars(tallies) == {
        "games/MinAtar/Asterix/final_dormant_share/fc/tau=0": pytest.approx(0.6)}
