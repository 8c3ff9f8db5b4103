"""LeapAccumulator against a plain, segment-by-segment transcription of eq. 8, on random paths.

The paths (hypothesis) mix everything the accumulator treats specially: NaN and ±inf in losses,
parameters and gradients (at any point, the last included), repeated points (zero-length
segments), equal losses (Δf = 0), two named tensors, and flushes at arbitrary points. For every
option combination the streamed total, d₁, d₂ and the segment counts must equal the
reference's up to float64 roundoff.
"""

import itertools
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leap_rl.core.leap import LeapAccumulator

# Every test runs with the segment scalars on the host and on the device (tests/unit/conftest.py).
pytestmark = pytest.mark.usefixtures("both_scalar_paths")

F64 = torch.float64
SPLIT = (2, 3)  # the flat parameter vector as two named tensors: "a" (2) and "b" (3)


def reference(path, metric, loss_on, stabilizer):
    """Σcⁱ, d₁, d₂, segments, skipped of eq. 8 (J = I), written as the module docstring reads.

    ``path``: [(fⁱ, θⁱ, gⁱ)] with θⁱ, gⁱ flat float64 tensors and fⁱ a float. A segment is
    skipped when fⁱ, fⁱ⁺¹, Δθⁱ or gⁱ has a NaN or ±inf (only gⁱ of the segment's start counts).
    """
    p = 1 if metric == "length" else 2
    total = torch.zeros_like(path[0][1])
    d1 = d2 = 0.0
    segments = skipped = 0
    for (f_i, theta_i, g_i), (f_next, theta_next, _) in itertools.pairwise(path):
        d_theta = theta_next - theta_i
        if not (math.isfinite(f_i) and math.isfinite(f_next)
                and torch.isfinite(d_theta).all() and torch.isfinite(g_i).all()):
            skipped += 1
            continue
        d_f = f_next - f_i if loss_on else 0.0
        if stabilizer:
            d_f = -abs(d_f)
        length = math.sqrt(float(d_theta @ d_theta) + d_f * d_f)
        d1, d2, segments = d1 + length, d2 + length * length, segments + 1
        if p == 1 and length == 0:
            continue
        total += -p * (d_theta + d_f * g_i) * length ** (p - 2)
    return total, d1, d2, segments, skipped


SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf])
VALUE = st.floats(-3.0, 3.0, allow_nan=False)


@st.composite
def paths(draw):
    """A path of 2–8 points of a 5-parameter model, with flush positions."""
    n = sum(SPLIT)
    points = []
    for i in range(draw(st.integers(2, 8))):
        if i and draw(st.integers(0, 5)) == 0:  # a repeated point: zero-length (Δf = 0 too)
            points.append(points[-1])
            continue
        loss = draw(st.one_of(VALUE, SPECIAL) if draw(st.integers(0, 9)) == 0 else VALUE)
        vectors = []
        for _ in range(2):  # θⁱ, gⁱ
            v = torch.tensor(draw(st.lists(VALUE, min_size=n, max_size=n)), dtype=F64)
            if draw(st.integers(0, 9)) == 0:
                v[draw(st.integers(0, n - 1))] = draw(SPECIAL)
            vectors.append(v)
        points.append((loss, *vectors))
    flush_after = draw(st.sets(st.integers(0, len(points) - 1)))
    return points, flush_after


def named(flat):
    a, b = flat.split(SPLIT)
    return {"a": a.clone(), "b": b.clone()}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=paths(), metric=st.sampled_from(["length", "energy"]), loss_on=st.booleans(),
       stabilizer=st.booleans())
def test_matches_eq8_reference(case, metric, loss_on, stabilizer):
    path, flush_after = case
    acc = LeapAccumulator(metric=metric, loss_in_manifold=loss_on, stabilizer=stabilizer)
    total = torch.zeros(sum(SPLIT), dtype=F64)
    for i, (loss, theta, grad) in enumerate(path):
        acc.observe(torch.tensor(loss, dtype=F64), named(theta), named(grad))
        if i in flush_after:
            total += torch.cat([t.reshape(-1) for t in acc.flush().values()])
    total += torch.cat([t.reshape(-1) for t in acc.flush().values()])
    expected, d1, d2, segments, skipped = reference(path, metric, loss_on, stabilizer)
    torch.testing.assert_close(total, expected, rtol=1e-9, atol=1e-9)
    stats = acc.stats()
    assert stats["segments"] == segments and stats["skipped_segments"] == skipped
    assert stats["d1"] == pytest.approx(d1, rel=1e-9, abs=1e-9)
    assert stats["d2"] == pytest.approx(d2, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_the_last_gradient_is_never_read(bad):
    """gᴷ starts no segment: a non-finite gradient at the last point skips nothing."""
    path = [(1.0, torch.zeros(5, dtype=F64), torch.ones(5, dtype=F64)),
            (0.5, torch.ones(5, dtype=F64), torch.full((5,), bad, dtype=F64))]
    acc = LeapAccumulator(metric="energy")
    for loss, theta, grad in path:
        acc.observe(torch.tensor(loss, dtype=F64), named(theta), named(grad))
    got = torch.cat([t.reshape(-1) for t in acc.flush().values()])
    # Δθ = 1, Δf = −|−0.5|, g⁰ = 1: c⁰ = −2·(1 − 0.5·1) = −1 in every coordinate.
    torch.testing.assert_close(got, torch.full((5,), -1.0, dtype=F64))
    assert acc.stats()["skipped_segments"] == 0
