"""LeapAccumulator on a path small enough to work out by hand, for all 8 option combinations.

Path (2 parameters, 4 observed points, 3 segments):
    θ⁰=(0,0) f⁰=10 g⁰=(1,2);  θ¹=(3,0) f¹=6 g¹=(0,1);  θ²=(3,4) f²=9 g²=(2,0);  θ³=(3,4) f³=9.
Segments: s0 Δθ=(3,0) Δf=−4;  s1 Δθ=(0,4) Δf=+3;  s2 Δθ=(0,0) Δf=0 (zero length).

Loss off (Δf = 0, so the stabilizer changes nothing):
    energy: −2·Σ Δθ = −2·(3,4) = (−6,−8);  length: −(3,0)/3 − (0,4)/4 + 0 = (−1,−1); d₁=7, d₂=25.
Loss on, stabilizer off:   v0 = (3,0) − 4·(1,2) = (−1,−8), ℓ0 = 5;  v1 = (0,4) + 3·(0,1) = (0,7), ℓ1 = 5
    energy: −2·(−1,−1) = (2,2);     length: −(−1,−1)/5 = (0.2,0.2);  d₁=10, d₂=50.
Loss on, stabilizer on:    Δf1 = −|3| = −3, v1 = (0,4) − 3·(0,1) = (0,1), ℓ1 = 5
    energy: −2·(−1,−7) = (2,14);    length: (1,7)/5 = (0.2,1.4).
"""

import pytest
import torch

from leap_rl.core.leap import LeapAccumulator

# Every test runs with the segment scalars on the host and on the device (tests/unit/conftest.py).
pytestmark = pytest.mark.usefixtures("both_scalar_paths")

POINTS = [((0.0, 0.0), 10.0, (1.0, 2.0)), ((3.0, 0.0), 6.0, (0.0, 1.0)),
          ((3.0, 4.0), 9.0, (2.0, 0.0)), ((3.0, 4.0), 9.0, (5.0, 5.0))]

CASES = [  # metric, loss_in_manifold, stabilizer, expected Σcⁱ, d₁, d₂
    ("energy", False, False, (-6.0, -8.0), 7.0, 25.0),
    ("energy", False, True, (-6.0, -8.0), 7.0, 25.0),
    ("length", False, False, (-1.0, -1.0), 7.0, 25.0),
    ("length", False, True, (-1.0, -1.0), 7.0, 25.0),
    ("energy", True, False, (2.0, 2.0), 10.0, 50.0),
    ("energy", True, True, (2.0, 14.0), 10.0, 50.0),
    ("length", True, False, (0.2, 0.2), 10.0, 50.0),
    ("length", True, True, (0.2, 1.4), 10.0, 50.0),
]


def walk(acc, points=POINTS, dtype=torch.float64):
    for theta, loss, grad in points:
        # Two named tensors, so the flat layout is exercised too.
        params = {"a": torch.tensor([theta[0]], dtype=dtype), "b": torch.tensor([theta[1]], dtype=dtype)}
        grads = {"a": torch.tensor([grad[0]], dtype=dtype), "b": torch.tensor([grad[1]], dtype=dtype)}
        acc.observe(torch.tensor(loss, dtype=dtype), params, grads)


@pytest.mark.parametrize("metric,loss_on,stab,expected,d1,d2", CASES)
def test_hand_computed(metric, loss_on, stab, expected, d1, d2):
    acc = LeapAccumulator(metric=metric, loss_in_manifold=loss_on, stabilizer=stab)
    walk(acc)
    out = acc.flush()
    assert list(out) == ["a", "b"]
    got = (out["a"].item(), out["b"].item())
    assert got == pytest.approx(expected, abs=1e-12)
    stats = acc.stats()
    assert stats["d1"] == pytest.approx(d1) and stats["d2"] == pytest.approx(d2)
    assert stats["segments"] == 3 and stats["skipped_segments"] == 0


def test_flush_zeroes_and_reset_forgets():
    acc = LeapAccumulator("energy", loss_in_manifold=False, stabilizer=False)
    walk(acc)
    acc.flush()
    assert acc.flush()["a"].item() == 0.0
    acc.reset()
    assert acc.flush() == {}
    walk(acc, POINTS[2:])  # a fresh task: only the zero-length segment
    assert acc.flush()["a"].item() == 0.0 and acc.stats()["segments"] == 1


def test_rejects_changed_parameter_names():
    acc = LeapAccumulator()
    one = torch.zeros(1)
    acc.observe(torch.tensor(1.0), {"a": one}, {"a": one})
    with pytest.raises(KeyError, match="this task's path has"):
        acc.observe(torch.tensor(1.0), {"z": one}, {"z": one})


def test_rejects_unknown_metric():
    with pytest.raises(ValueError, match="length"):
        LeapAccumulator(metric="lenght")


def test_does_not_alias_callers_tensors():
    """The accumulator copies θⁱ: an optimizer updating parameters in place must not move it."""
    acc = LeapAccumulator("energy", loss_in_manifold=False, stabilizer=False)
    p, g = torch.nn.Parameter(torch.zeros(2)), torch.ones(2)  # live, requires grad
    acc.observe(torch.tensor(0.0), {"p": p}, {"p": g})
    with torch.no_grad():
        p += 1.0  # the in-place "optimizer step"
    acc.observe(torch.tensor(0.0), {"p": p}, {"p": g})
    assert torch.equal(acc.flush()["p"], torch.full((2,), -2.0))
