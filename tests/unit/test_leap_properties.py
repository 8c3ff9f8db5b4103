"""LeapAccumulator against autograd, Reptile, streaming, non-finite input, and CUDA."""

import math

import pytest
import torch

from leap_rl.core.leap import LeapAccumulator

# Every test runs with the segment scalars on the host and on the device (tests/unit/conftest.py).
pytestmark = pytest.mark.usefixtures("both_scalar_paths")

F64 = torch.float64


def task_loss(params):
    """A deterministic, non-convex, full-batch loss over two named tensors."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, generator=gen, dtype=F64)
    y = torch.randn(16, 2, generator=gen, dtype=F64)
    hidden = torch.tanh(x @ params["w"] + params["b"])
    return ((hidden - y) ** 2).mean() + 0.1 * torch.sin(params["w"]).sum()


def sgd_path(steps=12, lr=0.3):
    """ψ⁰…ψᴷ of plain gradient descent, with the loss and gradient at every point."""
    gen = torch.Generator().manual_seed(1)
    theta = {"w": torch.randn(3, 2, generator=gen, dtype=F64),
             "b": torch.randn(2, generator=gen, dtype=F64)}
    path = []
    for _ in range(steps + 1):
        leaves = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
        loss = task_loss(leaves)
        grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
        path.append((loss.detach(), {k: v.detach() for k, v in leaves.items()}, grads))
        theta = {k: v.detach() - lr * grads[k] for k, v in leaves.items()}
    return path


def accumulate(path, every=None, **options):
    acc = LeapAccumulator(**options)
    total = None
    for i, (loss, params, grads) in enumerate(path):
        acc.observe(loss, params, grads)
        if every and (i + 1) % every == 0:
            total = add(total, acc.flush())
    return add(total, acc.flush()), acc


def add(a, b):
    return b if a is None else {k: a[k] + b[k] for k in a}


def pull_forward_gradient(path, p, loss_on):
    """∇θ⁰ of d̄(θ⁰) = Σᵢ ‖γ̄ⁱ⁺¹ − γⁱ(θ⁰)‖ᵖ at θ⁰ = ψ⁰, by autograd (eq. 5, J = I)."""
    psi0 = path[0][1]
    init = {k: v.clone().requires_grad_(True) for k, v in psi0.items()}
    d_bar = 0.0
    for (_, psi_i, _), (loss_next, psi_next, _) in zip(path[:-1], path[1:]):
        theta_i = {k: init[k] + psi_i[k] - psi0[k] for k in init}  # γⁱ(θ⁰) moves with θ⁰
        parts = [(psi_next[k] - theta_i[k]).reshape(-1) for k in init]
        if loss_on:
            parts.append((loss_next - task_loss(theta_i)).reshape(1))
        d_bar = d_bar + torch.linalg.vector_norm(torch.cat(parts)) ** p
    grads = torch.autograd.grad(d_bar, list(init.values()))
    return dict(zip(init, grads))


@pytest.mark.parametrize("metric,p", [("length", 1), ("energy", 2)])
@pytest.mark.parametrize("loss_on", [True, False])
def test_matches_autograd_of_pull_forward_objective(metric, p, loss_on):
    path = sgd_path()
    expected = pull_forward_gradient(path, p, loss_on)
    got, _ = accumulate(path, metric=metric, loss_in_manifold=loss_on, stabilizer=False)
    for k in expected:
        rel = (got[k] - expected[k]).norm() / expected[k].norm()
        assert rel < 1e-5, (k, rel.item())


def test_reduces_to_reptile():
    """Energy, no loss term, no stabilizer: Σcⁱ = −2(θᴷ − θ⁰) (Reptile's direction, ×p)."""
    path = sgd_path()
    got, _ = accumulate(path, metric="energy", loss_in_manifold=False, stabilizer=False)
    first, last = path[0][1], path[-1][1]
    for k in got:
        torch.testing.assert_close(got[k], -2 * (last[k] - first[k]))


@pytest.mark.parametrize("metric", ["length", "energy"])
def test_streaming_gives_the_same_total(metric):
    path = sgd_path(steps=20)
    options = dict(metric=metric, loss_in_manifold=True, stabilizer=True)
    at_end, _ = accumulate(path, **options)
    for every in (1, 7):
        streamed, _ = accumulate(path, every=every, **options)
        for k in at_end:
            torch.testing.assert_close(streamed[k], at_end[k], rtol=1e-12, atol=1e-12)


def corrupt(path, index, what, value):
    loss, params, grads = path[index]
    if what == "loss":
        loss = torch.tensor(value, dtype=F64)
    elif what == "param":
        params = {**params, "b": torch.full_like(params["b"], value)}
    else:
        grads = {**grads, "w": torch.full_like(grads["w"], value)}
    return path[:index] + [(loss, params, grads)] + path[index + 1:]


@pytest.mark.parametrize("what,value,skipped", [
    ("loss", math.nan, 2), ("loss", math.inf, 2), ("param", math.nan, 2),
    ("param", -math.inf, 2), ("grad", math.nan, 1), ("grad", math.inf, 1)])
@pytest.mark.parametrize("loss_on", [True, False])
def test_non_finite_segments_are_skipped_and_counted(what, value, skipped, loss_on):
    """A bad point spoils the segments that touch it (a bad gⁱ only the one leaving it)."""
    path, bad = sgd_path(steps=8), 4
    options = dict(metric="length", loss_in_manifold=loss_on, stabilizer=True)
    got, acc = accumulate(corrupt(path, bad, what, value), **options)
    assert acc.skipped_segments == skipped
    assert acc.stats()["segments"] == 8 - skipped
    # The clean total is the sum of the two clean stretches on either side of the bad point.
    first_end = bad if what == "grad" else bad - 1
    before, _ = accumulate(path[:first_end + 1], **options)
    after, _ = accumulate(path[bad + 1:], **options)
    for k in got:
        assert torch.isfinite(got[k]).all()
        torch.testing.assert_close(got[k], before[k] + after[k])


def test_zero_length_segment_contributes_nothing_for_length():
    loss, params, grads = sgd_path(steps=1)[0]
    got, acc = accumulate([(loss, params, grads)] * 3, metric="length")
    assert all(torch.equal(v, torch.zeros_like(v)) for v in got.values())
    assert acc.skipped_segments == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    path = sgd_path()
    on_gpu = [(l.cuda(), {k: v.cuda() for k, v in p.items()}, {k: v.cuda() for k, v in g.items()})
              for l, p, g in path]
    cpu, _ = accumulate(path, metric="length")
    gpu, acc = accumulate(on_gpu, metric="length")
    for k in cpu:
        assert gpu[k].is_cuda
        torch.testing.assert_close(gpu[k].cpu(), cpu[k])
