"""What does LeapAccumulator.observe cost next to one inner update, on a GPU?

bench/leap_overhead.py measures this on the CPU only (model and batch live on the CPU, and its
timer does not wait for the GPU). This is the same measurement on any torch device: the same
update (forward + backward of the Mnih et al. 2013 actor-critic on a 32×5 batch of 84×84×3
observations, grad-norm clip, RMSProp step, from bench/leap_overhead.py), the variants plain /
leap / naive interleaved, and on CUDA every timed update ends with torch.cuda.synchronize() so
asynchronous kernels are counted where they run. Median times; prints the overhead ratios and a
FIGURE line for bench/gpu_check.sh.

    python bench/leap_overhead_cuda.py --device cuda
    .venv/bin/python bench/leap_overhead_cuda.py --device cpu --reps 20    # same code on a CPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from leap_overhead import NaiveHook, make_update  # noqa: E402

from leap_rl.agent.network import build_actor_critic, meta_parameters  # noqa: E402
from leap_rl.core.leap import LeapAccumulator  # noqa: E402

GOAL = 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--reps", type=int, default=200, help="timed repetitions per variant")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--metric", default="energy", choices=["length", "energy"],
                        help="Leap metric (paper's Atari runs: energy; leap_overhead.py: length)")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("leap_overhead_cuda: --device cuda but torch.cuda.is_available() is False "
                 f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})")
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    torch.manual_seed(0)
    model = build_actor_critic("nature2013", (3, 84, 84), 6).to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.99, eps=1e-4)
    batch = (torch.randint(0, 256, (160, 3, 84, 84), dtype=torch.uint8, device=device),
             torch.randint(0, 6, (160,), device=device), torch.randn(160, device=device))
    update = make_update(model, optimizer, batch)
    acc = LeapAccumulator(metric=args.metric, loss_in_manifold=True, stabilizer=True)
    variants = {"plain": None, "leap": acc.observe, "naive": NaiveHook()}
    times = {name: [] for name in variants}
    for rep in range(args.warmup + args.reps):
        for name, hook in variants.items():
            sync()
            start = time.perf_counter()
            update(hook)
            sync()
            if rep >= args.warmup:
                times[name].append(time.perf_counter() - start)
    acc.flush()
    sync()
    med = {name: statistics.median(t) for name, t in times.items()}
    encoder_size = sum(p.numel() for p in meta_parameters(model, ["encoder."]).values())
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(f"leap_overhead_cuda  device {device} ({name})  torch {torch.__version__}  "
          f"encoder parameters {encoder_size:,}  metric {args.metric}  reps {args.reps}")
    for variant, t in med.items():
        print(f"  {variant:6s} median update {t * 1e3:8.3f} ms")
    over = med["leap"] / med["plain"] - 1
    print(f"observe overhead (leap/plain - 1):  {over:+.2%}  goal ≤ {GOAL:.0%}  "
          f"{'OK' if over <= GOAL else 'MISSED'}")
    print(f"naive hook overhead:                {med['naive'] / med['plain'] - 1:+.2%}")
    print(f"FIGURE: Leap hook overhead {over:+.2%} on {name} (update {med['plain'] * 1e3:.2f} ms "
          f"plain, {med['leap'] * 1e3:.2f} ms with observe)")


if __name__ == "__main__":
    main()
