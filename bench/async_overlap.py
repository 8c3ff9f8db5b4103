"""Can acting overlap with emulation? The acting half of the A2C inner loop, sync vs async.

Issue 9, item 3. The inner loop's unroll alternates two waits: the emulator (ale-py's C++
threads) and the acting forward pass (torch). Stepped synchronously, each waits for the other.
Split the 32 environments into two halves of 16 with their own native vector envs, and the
halves can be pipelined with ale-py's ``send``/``recv``: while one half emulates, the actor
computes the other half's actions. Variants, interleaved in rounds, same network (Mnih et al.
2013, RGB 84×84, one frame), same total emulator threads, torch threads 1:

    sync    one AtariVectorEnv of 32: act on 32 observations, step all 32, repeat
    async   two AtariVectorEnvs of 16: send(A); act(B); send(B); recv(A); act(A); send(A); ...

Only acting + emulation is timed (the update is the same in both and would not overlap).
Prints agent steps/s of each and the ratio. Not a test: run it by hand.

    .venv/bin/python bench/async_overlap.py --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from ale_py.vector_env import AtariVectorEnv

from leap_rl.agent.network import build_actor_critic


def make_env(game: str, n: int, threads: int, seed: int) -> AtariVectorEnv:
    env = AtariVectorEnv(game, n, num_threads=threads, grayscale=False, stack_num=1,
                         reward_clipping=False, use_fire_reset=False,
                         repeat_action_probability=0.25)
    env.reset(seed=seed)
    return env


def to_tensor(obs: np.ndarray) -> torch.Tensor:
    """(N, 1, H, W, 3) uint8 from ale-py → (N, 3, H, W), as the learner's buffer holds it."""
    return torch.from_numpy(np.ascontiguousarray(obs[:, 0].transpose(0, 3, 1, 2)))


@torch.no_grad()
def act(model, obs: torch.Tensor, gen: torch.Generator) -> np.ndarray:
    logits, _ = model(obs)
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(-1).numpy()


def run_sync(env, model, gen, steps: int, obs) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    for _ in range(steps):
        obs, *_ = env.step(act(model, to_tensor(obs), gen))
    return time.perf_counter() - start, obs


def run_async(envs, model, gen, steps: int, obs) -> tuple[float, list]:
    """Each loop pass steps both halves once; one half's acting overlaps the other's emulation."""
    a, b = envs
    obs_a, obs_b = obs
    start = time.perf_counter()
    a.send(act(model, to_tensor(obs_a), gen))
    for _ in range(steps):
        b.send(act(model, to_tensor(obs_b), gen))   # B's actions while A emulates
        obs_a, *_ = a.recv()
        a.send(act(model, to_tensor(obs_a), gen))   # A's actions while B emulates
        obs_b, *_ = b.recv()
    obs_a, *_ = a.recv()  # drain the step in flight (counted: it was sent inside the timing)
    return time.perf_counter() - start, [obs_a, obs_b]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100, help="env steps per variant per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--env-threads", type=int, default=2, help="emulator threads in all")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, half = args.num_envs, args.num_envs // 2
    sync_env = make_env(args.game, n, args.env_threads, 0)
    halves = [make_env(args.game, half, max(1, args.env_threads // 2), s) for s in (1, 2)]
    model = build_actor_critic("nature2013", (3, 84, 84), int(sync_env.single_action_space.n))
    gen = torch.Generator().manual_seed(0)
    obs_sync = sync_env.step(np.zeros(n, np.int64))[0]
    obs_async = [h.step(np.zeros(half, np.int64))[0] for h in halves]
    rates = {"sync": [], "async": []}
    for _ in range(args.rounds):
        t, obs_sync = run_sync(sync_env, model, gen, args.steps, obs_sync)
        rates["sync"].append(n * args.steps / t)
        t, obs_async = run_async(halves, model, gen, args.steps, obs_async)
        rates["async"].append((2 * half * args.steps + half) / t)
    sync, overlap = statistics.median(rates["sync"]), statistics.median(rates["async"])
    print(f"{args.game}, {n} envs RGB 84×84, {args.env_threads} emulator threads, torch threads 1, "
          f"{args.rounds} rounds × {args.steps} steps")
    print(f"  sync  (act 32, step 32):                {sync:7.0f} agent steps/s (acting + env)")
    print(f"  async (two halves of 16, pipelined):    {overlap:7.0f} agent steps/s (acting + env)")
    print(f"  async ÷ sync: {overlap / sync:.2f}")
    for env in (sync_env, *halves):
        env.close()


if __name__ == "__main__":
    main()
