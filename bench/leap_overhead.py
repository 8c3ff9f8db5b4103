"""What does LeapAccumulator.observe cost next to one inner update of the paper's network?

One update = forward + backward of the Mnih et al. (2013) actor-critic on a 32×5 batch of
84×84×3 observations, gradient clipping, RMSProp step. Three variants run interleaved (so drift
of a shared machine hits all alike), many repetitions, median times:
    plain   the update alone
    leap    the update with observe() before the optimizer step
    naive   the update with a per-step clone of every parameter and gradient (what a careless
            hook does: dict of clones, per-parameter ops) for comparison
    floor   the update with one read and one write of a buffer the size of the accumulator's
            state (θⁱ, ∇f(θⁱ) and the partial sum: 3 encoder-sized vectors it must carry from
            step to step): a lower bound on what any exact observe() costs in this loop
Prints the median overhead ratios: the whole update with observe() against the update alone
(direct and indirect cost, e.g. caches observe() evicts; a difference of two noisy medians), and
observe() timed by itself inside the leap variant. Not a test: run it with `make bench`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from leap_rl.agent.losses import a2c_loss
from leap_rl.agent.network import build_actor_critic, meta_parameters
from leap_rl.leap import LeapAccumulator


def make_update(model, optimizer, batch):
    obs, actions, returns = batch
    params = meta_parameters(model, ["encoder."])

    def update(hook):
        logits, values = model(obs)
        loss, _ = a2c_loss(logits, values, actions, returns, 0.01, 0.5)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 40.0)
        if hook is not None:
            hook(loss.detach(), params, {k: p.grad for k, p in params.items()})
        optimizer.step()

    return update


class NaiveHook:
    """Keeps clones of the last point in dicts and does the math one parameter at a time."""

    def __init__(self):
        self.prev = None
        self.total = {}

    def __call__(self, loss, params, grads):
        point = (loss.clone(), {k: v.detach().clone() for k, v in params.items()},
                 {k: g.clone() for k, g in grads.items()})
        if self.prev is not None:
            d_f = -(point[0] - self.prev[0]).abs()
            sq = sum((point[1][k] - self.prev[1][k]).pow(2).sum() for k in params)
            length = torch.sqrt(sq + d_f * d_f)
            for k in params:
                c = -(point[1][k] - self.prev[1][k] + d_f * self.prev[2][k]) / length
                self.total[k] = self.total.get(k, 0) + c
        self.prev = point


class MemoryFloor:
    """Reads and writes ``3 × numel`` floats once per call: the state an exact observe() keeps."""

    def __init__(self, numel: int) -> None:
        self.state = torch.zeros(3, numel)

    def __call__(self, loss, params, grads) -> None:
        self.state.mul_(1.0)


class Timed:
    """Calls ``hook`` and records how long each call took."""

    def __init__(self, hook):
        self.hook, self.seconds = hook, []

    def __call__(self, *args):
        start = time.perf_counter()
        self.hook(*args)
        self.seconds.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=60, help="timed repetitions per variant")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_actor_critic("nature2013", (3, 84, 84), 6)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.99, eps=1e-4)
    batch = (torch.randint(0, 256, (160, 3, 84, 84), dtype=torch.uint8),
             torch.randint(0, 6, (160,)), torch.randn(160))
    update = make_update(model, optimizer, batch)
    acc = LeapAccumulator(metric="length", loss_in_manifold=True, stabilizer=True)
    encoder_size = sum(p.numel() for p in meta_parameters(model, ["encoder."]).values())
    timed, floor = Timed(acc.observe), Timed(MemoryFloor(encoder_size))
    variants = {"plain": None, "leap": timed, "naive": NaiveHook(), "floor": floor}
    times = {name: [] for name in variants}
    for rep in range(args.warmup + args.reps):
        for name, hook in variants.items():
            start = time.perf_counter()
            update(hook)
            if rep >= args.warmup:
                times[name].append(time.perf_counter() - start)
    acc.flush()
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"encoder parameters: {encoder_size:,}  torch threads: {torch.get_num_threads()}  "
          f"reps: {args.reps}")
    for name, t in med.items():
        print(f"  {name:6s} median update {t * 1e3:8.2f} ms")
    observe = statistics.median(timed.seconds[args.warmup:])
    bound = statistics.median(floor.seconds[args.warmup:])
    print(f"observe overhead (leap/plain - 1):  {med['leap'] / med['plain'] - 1:+.2%}")
    print(f"observe() alone / plain update:     {observe / med['plain']:.2%} "
          f"({observe * 1e3:.2f} ms)")
    print(f"memory floor alone / plain update:  {bound / med['plain']:.2%} "
          f"({bound * 1e3:.2f} ms; observe() = {observe / bound:.2f} × floor)")
    print(f"naive hook overhead:                {med['naive'] / med['plain'] - 1:+.2%}")


if __name__ == "__main__":
    main()
