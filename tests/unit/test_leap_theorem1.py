"""Theorem 1 behaviour and the meta-optimizer, on a family of quadratic tasks.

fτ(θ) = ½ (θ − mτ)ᵀ diag(aτ) (θ − mτ): different curvatures aτ and minima mτ per task, learned by
K steps of gradient descent. Leap (length, loss term, stabilizer) with Adam on θ⁰ should shorten
the mean path length d₁ while no task ends worse than from the starting initialization.
"""

import pytest
import torch

from leap_rl.core.leap import LeapAccumulator
from leap_rl.core.meta_optimizer import MetaOptimizer

F64 = torch.float64
DIM, TASKS, K, ALPHA = 4, 6, 20, 0.1


def make_tasks():
    gen = torch.Generator().manual_seed(3)
    curvatures = 0.5 + 1.5 * torch.rand(TASKS, DIM, generator=gen, dtype=F64)
    minima = 1.0 + torch.randn(TASKS, DIM, generator=gen, dtype=F64)
    return list(zip(curvatures, minima))


def loss_and_grad(theta, task):
    a, m = task
    return 0.5 * (a * (theta - m) ** 2).sum(), a * (theta - m)


def run_task(init, task, acc=None):
    """K steps of gradient descent from ``init``; returns the final loss."""
    theta = init.clone()
    for _ in range(K):
        loss, grad = loss_and_grad(theta, task)
        if acc is not None:
            acc.observe(loss, {"theta": theta}, {"theta": grad})
        theta = theta - ALPHA * grad
    return loss_and_grad(theta, task)[0].item()


def meta_step(meta, tasks):
    total, lengths = None, []
    for task in tasks:
        acc = LeapAccumulator(metric="length", loss_in_manifold=True, stabilizer=True)
        run_task(meta.init["theta"], task, acc)
        part = acc.flush()["theta"]
        total = part if total is None else total + part
        lengths.append(acc.stats()["d1"])
    meta.step({"theta": total}, num_tasks=len(tasks))
    return sum(lengths) / len(lengths)


def test_leap_shortens_paths_without_hurting_any_task():
    tasks = make_tasks()
    start = torch.full((DIM,), 5.0, dtype=F64)
    meta = MetaOptimizer({"theta": start}, lr=0.05)
    lengths = [meta_step(meta, tasks) for _ in range(300)]
    assert lengths[-1] <= 0.5 * lengths[0], (lengths[0], lengths[-1])
    learned = meta.init["theta"]
    for task in tasks:
        assert run_task(learned, task) <= run_task(start, task) + 1e-12


def test_meta_optimizer_averages_and_refuses_non_finite():
    meta = MetaOptimizer({"w": torch.zeros(3, dtype=F64)}, lr=0.1)
    first = meta.step({"w": torch.tensor([4.0, -4.0, 0.0], dtype=F64)}, num_tasks=4)
    assert first["grad_norm"] == pytest.approx(2 ** 0.5)  # (1, −1, 0) after dividing by 4
    # Adam's first step moves each coordinate by lr against the sign of its gradient.
    torch.testing.assert_close(meta.init["w"], torch.tensor([-0.1, 0.1, 0.0], dtype=F64))
    state = meta.state_dict()
    bad = meta.step({"w": torch.tensor([float("nan"), 0.0, 0.0], dtype=F64)}, num_tasks=1)
    assert bad["skipped"] and meta.steps_taken == 1
    assert torch.equal(meta.init["w"], state["init"]["w"])
    with pytest.raises(KeyError):
        meta.step({"v": torch.zeros(3, dtype=F64)}, num_tasks=1)


def test_meta_optimizer_state_round_trip_is_exact():
    grads = [{"w": torch.randn(5, dtype=F64)} for _ in range(4)]
    a = MetaOptimizer({"w": torch.ones(5, dtype=F64)})
    for g in grads:
        a.step(g, num_tasks=2)
    b = MetaOptimizer({"w": torch.ones(5, dtype=F64)})
    for g in grads[:2]:
        b.step(g, num_tasks=2)
    c = MetaOptimizer({"w": torch.zeros(5, dtype=F64)})
    c.load_state_dict(b.state_dict())
    for g in grads[2:]:
        c.step(g, num_tasks=2)
    assert torch.equal(a.init["w"], c.init["w"]) and c.steps_taken == 4
