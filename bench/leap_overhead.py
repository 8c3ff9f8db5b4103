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

``--game MinAtar/Breakout`` (any game) measures inside the real inner loop instead (A2C learner,
environment stepping included, the config's default Leap settings: energy, loss term,
stabilizer), one learner per variant, interleaved rounds:
    plain   no hook
    leap    LeapAccumulator.observe
    floor   as above: one read + write of the 3 state vectors
    bound   what any exact observe() with that state must move: read θⁱ⁺¹ and gⁱ⁺¹ into two of
            the vectors (one copy) and read + write the third (the partial sum)
and prints each hook's time per update (wall and thread CPU) as a share of the loop's, with the
bytes it moves and the bandwidth that implies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from leap_rl.agent.losses import a2c_loss
from leap_rl.agent.network import build_actor_critic, meta_parameters
from leap_rl.core.leap import LeapAccumulator


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


class CopyBound:
    """Copies θⁱ⁺¹ and gⁱ⁺¹ into two state vectors and reads + writes the third, once per call."""

    def __init__(self, numel: int) -> None:
        self.rows, self.sum, self.dst = torch.zeros(2, numel), torch.zeros(numel), None

    def __call__(self, loss, params, grads) -> None:
        if self.dst is None:
            sizes = [p.numel() for p in params.values()]
            self.dst = [flat.view(p.shape) for row in self.rows
                        for flat, p in zip(row.split(sizes), params.values())]
        torch._foreach_copy_(self.dst, list(params.values()) + [grads[k] for k in params])
        self.sum.mul_(1.0)


class Timed:
    """Calls ``hook`` and records how long each call took (wall, and thread CPU: on shared cores
    the latter does not count the time the thread waited for one)."""

    def __init__(self, hook):
        self.hook, self.seconds, self.cpu_seconds = hook, [], []

    def __call__(self, *args):
        start, cpu = time.perf_counter(), time.thread_time()
        self.hook(*args)
        self.seconds.append(time.perf_counter() - start)
        self.cpu_seconds.append(time.thread_time() - cpu)


class _Hook:
    """Stands in for a learner's accumulator: the learner calls ``observe`` and nothing else."""

    def __init__(self, observe) -> None:
        self.observe = observe


def in_loop(args) -> None:
    """``--game``: the hooks' cost per update inside the real inner loop (see the docstring)."""
    from leap_rl.backends import a2c_task as run_task
    from leap_rl.config import ExperimentConfig
    from leap_rl.envs import is_minatar_name

    torch.set_num_threads(args.threads or 1)
    minatar = is_minatar_name(args.game)
    cfg = ExperimentConfig(
        inner={"num_envs": 32, "unroll_length": 5, "device": "cpu",
               "encoder": "minatar" if minatar else "nature2013"},
        **({"meta": {"pool": [args.game], "meta_batch_size": 1}} if minatar else {}))
    learners = {name: run_task.build_learner(args.game, cfg, seed=i)
                for i, name in enumerate(("plain", "leap", "floor", "bound"))}
    params = meta_parameters(learners["leap"].model, ["encoder."])
    numel = sum(p.numel() for p in params.values())
    hooks = {"leap": Timed(run_task.make_accumulator(cfg).observe),
             "floor": Timed(MemoryFloor(numel)), "bound": Timed(CopyBound(numel))}
    for name, hook in hooks.items():
        learners[name].accumulator = _Hook(hook)
    # Bytes each hook reads + writes per update (4-byte floats). The bound's copy reads the two
    # vectors it overwrites too (a cache fetches a line before writing it; an exact observe()
    # reads them anyway, as they hold θⁱ and gⁱ): 5 vectors read, 3 written.
    moved = {"floor": (3 + 3) * numel * 4, "bound": (5 + 3) * numel * 4}
    for learner in learners.values():
        for _ in range(args.warmup):
            learner.update()
    names = list(learners)
    loop = {name: [] for name in names}
    cpu_wall = {name: [] for name in names}
    hook_wall = {name: [] for name in hooks}
    hook_cpu = {name: [] for name in hooks}
    load = []
    for r in range(args.rounds):
        load.append(os.getloadavg()[0])
        for name in names[r % len(names):] + names[: r % len(names)]:
            done = len(hooks[name].seconds) if name in hooks else 0
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.updates):
                learners[name].update()
            wall = time.perf_counter() - wall
            loop[name].append(wall / args.updates)
            cpu_wall[name].append((time.process_time() - cpu) / wall)
            if name in hooks:
                hook_wall[name].append(sum(hooks[name].seconds[done:]) / args.updates)
                hook_cpu[name].append(sum(hooks[name].cpu_seconds[done:]) / args.updates)
    for learner in learners.values():
        learner.close()
    med = statistics.median
    print(f"in-loop hook cost  game {args.game}  encoder parameters {numel:,}  "
          f"torch threads {torch.get_num_threads()}  rounds {args.rounds} × {args.updates} "
          f"updates per variant  load avg {min(load):.2f} .. {max(load):.2f}")
    for name in names:
        line = (f"  {name:5s} loop {med(loop[name]) * 1e3:6.2f} ms/update  cpu/wall "
                f"{med(cpu_wall[name]):.2f}")
        if name in hooks:
            shares = [h / t for h, t in zip(hook_wall[name], loop[name])]
            w, c = med(hook_wall[name]), med(hook_cpu[name])
            line += (f"  hook {w * 1e3:.3f} ms ({c * 1e3:.3f} ms thread CPU) = {med(shares):.2%}"
                     f" of the loop (best round {min(shares):.2%})")
            if name in moved:
                line += (f"  moves {moved[name] / 1e6:.2f} MB = {moved[name] / w / 1e9:.1f} GB/s"
                         f" ({moved[name] / c / 1e9:.1f} per CPU second)")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=60, help="timed repetitions per variant")
    parser.add_argument("--warmup", type=int, default=5, help="untimed repetitions / updates")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0 = default; 1 with --game)")
    parser.add_argument("--game", default=None,
                        help="measure inside the real inner loop of this game (e.g. "
                             "MinAtar/Breakout) instead of next to a synthetic update")
    parser.add_argument("--rounds", type=int, default=9, help="with --game: rounds")
    parser.add_argument("--updates", type=int, default=15,
                        help="with --game: updates per variant per round")
    args = parser.parse_args()
    if args.game:
        return in_loop(args)
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
    observe_cpu = statistics.median(timed.cpu_seconds[args.warmup:])
    bound_cpu = statistics.median(floor.cpu_seconds[args.warmup:])
    print(f"observe overhead (leap/plain - 1):  {med['leap'] / med['plain'] - 1:+.2%}")
    print(f"observe() alone / plain update:     {observe / med['plain']:.2%} "
          f"({observe * 1e3:.2f} ms; thread CPU {observe_cpu * 1e3:.2f} ms)")
    print(f"memory floor alone / plain update:  {bound / med['plain']:.2%} "
          f"({bound * 1e3:.2f} ms; thread CPU {bound_cpu * 1e3:.2f} ms; observe() = "
          f"{observe / bound:.2f} × floor)")
    print(f"naive hook overhead:                {med['naive'] / med['plain'] - 1:+.2%}")


if __name__ == "__main__":
    main()
