"""What does LeapAccumulator.observe cost next to one inner update of the paper's network?

One update = forward + backward of the Mnih et al. (2013) actor-critic on a 32×5 batch of
84×84×3 observations, gradient clipping, RMSProp step. Three variants run interleaved (so drift
of a shared machine hits all alike), many repetitions, median times:
    plain   the update alone
    leap    the update with observe() before the optimizer step
    naive   the update with a per-step clone of every parameter and gradient (what a careless
            hook does: dict of clones, per-parameter ops) for comparison
Prints the median overhead ratios. Not a test: run it with `make bench`.
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
    variants = {"plain": None, "leap": acc.observe, "naive": NaiveHook()}
    times = {name: [] for name in variants}
    for rep in range(args.warmup + args.reps):
        for name, hook in variants.items():
            start = time.perf_counter()
            update(hook)
            if rep >= args.warmup:
                times[name].append(time.perf_counter() - start)
    acc.flush()
    med = {name: statistics.median(t) for name, t in times.items()}
    encoder_size = sum(p.numel() for p in meta_parameters(model, ["encoder."]).values())
    print(f"encoder parameters: {encoder_size:,}  torch threads: {torch.get_num_threads()}  "
          f"reps: {args.reps}")
    for name, t in med.items():
        print(f"  {name:6s} median update {t * 1e3:8.2f} ms")
    print(f"observe overhead (leap/plain - 1):  {med['leap'] / med['plain'] - 1:+.2%}")
    print(f"naive hook overhead:                {med['naive'] / med['plain'] - 1:+.2%}")


if __name__ == "__main__":
    main()
