"""The plasticity remedies on θ⁰ (leap_rl.core.remedies) and the MetaOptimizer's moment reset:
ReDo changes exactly the dormant units' weights and moments; shrink-perturb's arithmetic; the
L2-to-init pull and decoupled decay; every option off leaves θ⁰ bit-equal."""

from __future__ import annotations

import torch

from leap_rl.core import remedies
from leap_rl.core.meta_optimizer import MetaOptimizer

LAYERS = ["encoder.conv", "encoder.fc"]


def minatar_like(seed: int) -> dict[str, torch.Tensor]:
    """θ⁰ shaped as MinAtarEncoder's over a 5×5 input: conv 16×10×3×3 → 3×3, fc 144 → 8."""
    g = torch.Generator().manual_seed(seed)
    return {"encoder.conv.weight": torch.randn(16, 10, 3, 3, generator=g),
            "encoder.conv.bias": torch.randn(16, generator=g),
            "encoder.fc.weight": torch.randn(8, 16 * 9, generator=g),
            "encoder.fc.bias": torch.randn(8, generator=g)}


def test_redo_changes_exactly_the_dormant_units_weights():
    init, fresh = minatar_like(0), minatar_like(1)
    dormant = {"encoder.conv": torch.zeros(16, dtype=torch.bool),
               "encoder.fc": torch.zeros(8, dtype=torch.bool)}
    dormant["encoder.conv"][[2, 7]] = True
    dormant["encoder.fc"][5] = True
    new, changed = remedies.redo(init, fresh, dormant, LAYERS)

    expected = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in init.items()}
    expected["encoder.conv.weight"][[2, 7]] = True
    expected["encoder.conv.bias"][[2, 7]] = True
    fc_in = expected["encoder.fc.weight"].view(8, 16, 9)
    fc_in[:, [2, 7], :] = True                      # conv channels' outgoing weights (flatten(1))
    expected["encoder.fc.weight"][5] = True         # fc unit 5's incoming weights
    expected["encoder.fc.bias"][5] = True
    for k in init:
        assert torch.equal(changed[k], expected[k]), k
        assert torch.equal(new[k][~changed[k]], init[k][~changed[k]]), k
    assert torch.equal(new["encoder.conv.weight"][[2, 7]], fresh["encoder.conv.weight"][[2, 7]])
    assert torch.equal(new["encoder.fc.weight"][5], fresh["encoder.fc.weight"][5])
    outgoing = new["encoder.fc.weight"].view(8, 16, 9)[:, [2, 7], :]
    assert torch.equal(outgoing[torch.arange(8) != 5], torch.zeros(7, 2, 9))
    assert torch.equal(init["encoder.fc.weight"], minatar_like(0)["encoder.fc.weight"])  # pure


def test_redo_without_dormant_units_changes_nothing():
    init = minatar_like(0)
    none = {layer: torch.zeros(n, dtype=torch.bool) for layer, n in zip(LAYERS, (16, 8))}
    new, changed = remedies.redo(init, minatar_like(1), none, LAYERS)
    assert all(torch.equal(new[k], init[k]) and not changed[k].any() for k in init)


def test_reset_moments_zeroes_exactly_the_changed_entries():
    init = minatar_like(0)
    meta = MetaOptimizer(init, lr=1e-2)
    meta.step(minatar_like(3), 1)
    meta.step(minatar_like(4), 1)
    before, theta = meta.moments(), meta.init
    changed = {k: torch.rand(v.shape, generator=torch.Generator().manual_seed(9)) < 0.3
               for k, v in init.items()}
    meta.reset_moments(changed)
    after = meta.moments()
    for k in init:
        assert torch.equal(meta.init[k], theta[k])
        for m0, m1 in zip(before[k], after[k]):
            assert bool((m1[changed[k]] == 0).all())
            assert torch.equal(m1[~changed[k]], m0[~changed[k]])
            assert bool((m0[changed[k]] != 0).any())  # the test can fail: there was history


def test_shrink_perturb_arithmetic():
    init, fresh = minatar_like(0), minatar_like(1)
    new = remedies.shrink_perturb(init, fresh, 0.5, 0.1)
    for k in init:
        torch.testing.assert_close(new[k], 0.5 * init[k] + 0.1 * fresh[k], rtol=0, atol=0)


def test_l2_init_gradient_and_decoupled_decay():
    init, start = minatar_like(0), minatar_like(1)
    pull = remedies.l2_init_gradient(init, start, 0.2)
    decayed = remedies.decoupled_decay(start, init, lr=0.01, weight_decay=0.5)
    for k in init:
        torch.testing.assert_close(pull[k], 0.2 * (init[k] - start[k]))
        torch.testing.assert_close(decayed[k], init[k] - 0.005 * start[k])
