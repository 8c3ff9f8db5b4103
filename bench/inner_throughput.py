"""How fast is one task's inner loop (A2C + Leap hook) on a real Atari game, and where does it lose?

One run, same cores, variants interleaved in rounds (order rotated each round, so drift of a
shared machine hits all alike); every figure is the median over rounds of a per-round mean.
Setting: the paper's (app. F) — RGB 84×84, one frame, Mnih et al. (2013) network, 32 envs,
unroll 5 — on ale-py's native C++ vector env, CPU. Variants:

    env       the vector env alone (make_vector_env, contract wrapper included), random actions
    env_raw   the same ale-py AtariVectorEnv without the contract wrapper (its cost = the gap)
    leap      the full inner loop: build_learner(...) with LeapAccumulator(energy), update()
    plain     the same loop without the accumulator
    groups    the leap loop with the 32 envs in `--groups` vector envs stepped in turn
              (inner.env_groups: acting on one group overlaps the others' emulation; issue 9)
    compute   the loop's arithmetic alone on a fixed batch of real frames: unroll_length acting
              forwards (softmax + multinomial) + the bootstrap-value forward + one update
              (forward, backward, grad-norm clip, RMSProp); no env, no learner code

Derived figures (per update = unroll_length × num_envs agent steps):
    framework overhead = t(leap) ÷ (t_env + t_compute), t_env = unroll steps at the env rate;
                         goal ≤ 1.2
    full-loop agent steps/s, goal ≥ 1,000
    Leap hook share    = (t(leap) − t(plain)) ÷ t(leap), goal ≤ 1%; also measured directly by
                         timing observe() inside the loop (CPU: no async kernels, so exact)

Not a test: run it by hand, e.g. `.venv/bin/python bench/inner_throughput.py --threads 1`.
`--game MinAtar/Breakout` measures the MinAtar task family instead (MinAtar's network, 10×10
observations, the MinAtar env stepped in Python; goals ≥ 10,000 agent steps/s with Leap on and
the hook ≤ 2% of an inner step).
Torch threads > 1: libgomp's workers spin after each parallel region and starve ale-py's env
threads; `OMP_WAIT_POLICY=PASSIVE` (set before Python starts) stops that — compare both.
`--backend rllib` instead compares the RLlib PPO backend with the A2C one (see rllib_vs_a2c).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any

import ale_py
import numpy as np
import torch

import leap_rl.backends.a2c_task as run_task
from leap_rl.agent.losses import a2c_loss
from leap_rl.agent.network import build_actor_critic
from leap_rl.config import ExperimentConfig
from leap_rl.envs import is_minatar_name, make_vector_env

GOAL_STEPS, GOAL_OVERHEAD, GOAL_HOOK = 1000.0, 1.2, 0.01
GOAL_STEPS_MINATAR, GOAL_HOOK_MINATAR = 10_000.0, 0.02  # MinAtar (issue 13): --game MinAtar/...


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


class Timed:
    """Wraps a callable; sums its wall time and its thread CPU time (CPU: nothing is async).

    Thread CPU time does not grow while the thread is preempted, so on shared cores it is the
    better estimate of what the call costs on idle ones.
    """

    def __init__(self, fn) -> None:
        self.fn, self.total, self.cpu = fn, 0.0, 0.0

    def __call__(self, *a, **kw):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.fn(*a, **kw)
        finally:
            self.total += time.perf_counter() - wall
            self.cpu += time.thread_time() - cpu


def make_compute(cfg, obs_shape, num_actions, frames: np.ndarray, seed: int):
    """The loop's arithmetic alone: acting forwards, bootstrap forward, one update."""
    inner = cfg.inner
    t, n = inner.unroll_length, inner.num_envs
    torch.manual_seed(seed)
    model = build_actor_critic(inner.encoder, obs_shape, num_actions)
    opt = torch.optim.RMSprop(model.parameters(), lr=inner.learning_rate,
                              alpha=inner.rmsprop_alpha, eps=inner.rmsprop_eps)
    gen = torch.Generator().manual_seed(seed)
    obs = torch.from_numpy(frames[: (t + 1) * n].copy()).view(t + 1, n, *obs_shape)
    actions = torch.randint(0, num_actions, (t * n,), generator=gen)
    returns = torch.randn(t * n, generator=gen)

    def act(x):
        with torch.no_grad():
            logits, _ = model(x)
            return torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)

    def update():
        logits, values = model(obs[:t].flatten(0, 1))
        loss, _ = a2c_loss(logits, values, actions, returns, inner.entropy_cost,
                           inner.value_loss_coef)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        if inner.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), inner.max_grad_norm, foreach=True)
        opt.step()

    def bootstrap():
        with torch.no_grad():
            model(obs[t])

    return {"act": lambda: [act(obs[i]) for i in range(t)], "bootstrap": bootstrap,
            "update": update}


def rllib_vs_a2c(args) -> None:
    """``--backend rllib``: agent steps/s of the RLlib PPO backend vs the A2C backend, one run.

    Same game, network (Nature2013Encoder + linear heads), batch (num_envs × unroll agent steps
    per update), Leap hook (energy) and torch threads; PPO takes one optimizer step per batch
    (num_epochs 1, no minibatches), as A2C does. A2C: ``learner.update()`` (ale-py's C++
    vector env); RLlib: ``algo.train()`` (one local EnvRunner stepping a gymnasium vector env of
    RLlib-wrapped ALE envs, one local Learner). Rounds alternate the two (order swapped each
    round); figures are medians over rounds, the ratio the median of per-round ratios.
    """
    torch.set_num_threads(args.threads)
    rates, load, observations = backend_rounds(args)
    report_backends(args, rates, load, observations)


def backend_rounds(args) -> tuple[dict[str, list[float]], list[float], int]:
    """Agent steps/s per round of each backend, the load average at each round's start, and
    the RLlib learner's Leap observations."""
    from leap_rl.rllib.build import build_algorithm, ensure_ray, leap_total
    from leap_rl.rllib.runner import sampled_steps

    batch = args.num_envs * args.unroll
    inner = {"num_envs": args.num_envs, "unroll_length": args.unroll, "device": "cpu"}
    a2c_cfg = ExperimentConfig(inner=inner, leap={"metric": "energy"})
    rllib_cfg = ExperimentConfig(inner={**inner, "backend": "rllib"}, leap={"metric": "energy"},
                                 rllib={"algorithm": "PPO",
                                        "training": {"num_epochs": 1, "minibatch_size": None}})
    learner = run_task.build_learner(args.game, a2c_cfg, seed=args.seed,
                                     accumulator=run_task.make_accumulator(a2c_cfg),
                                     env_threads=args.env_threads)
    ensure_ray()
    algo = build_algorithm(args.game, rllib_cfg, seed=args.seed, leap=True)
    state = {"steps": 0}

    def a2c_round():
        start = time.perf_counter()
        for _ in range(args.updates):
            learner.update()
        return args.updates * batch / (time.perf_counter() - start)

    def rllib_round():
        before, start = state["steps"], time.perf_counter()
        for _ in range(args.updates):
            state["steps"] = sampled_steps(algo.train())
        return (state["steps"] - before) / (time.perf_counter() - start)

    for _ in range(args.warmup):
        learner.update()
        state["steps"] = sampled_steps(algo.train())
    rates, load = {"a2c": [], "rllib": []}, []
    for r in range(args.rounds):
        load.append(os.getloadavg()[0])
        order = [("a2c", a2c_round), ("rllib", rllib_round)]
        for name, body in (order if r % 2 == 0 else order[::-1]):
            rates[name].append(body())
    observations = leap_total(algo)
    algo.stop()
    learner.close()
    return rates, load, observations


def report_backends(args, rates: dict[str, list[float]], load: list[float],
                    observations: int) -> None:
    """The ``--backend rllib`` report: each backend's median agent steps/s and their ratio."""
    batch = args.num_envs * args.unroll
    ratios = [b / a for a, b in zip(rates["a2c"], rates["rllib"])]
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"inner_throughput --backend rllib  {dt.date.today()}  {platform.node()}  {cpu_name()}, "
          f"{os.cpu_count()} cores")
    print(f"  game {args.game}  envs {args.num_envs}  unroll {args.unroll}  batch {batch} agent "
          f"steps per update  torch threads {torch.get_num_threads()}  torch {torch.__version__}  "
          f"ray {__import__('ray').__version__}")
    print(f"  rounds {args.rounds} × {args.updates} updates per backend; load avg at round starts "
          f"{min(load):.2f} .. {max(load):.2f}; RLlib Leap observations {observations} "
          f"(one per optimizer step)")
    print(f"  A2C   (ale-py C++ vector env, RMSProp):     {med['a2c']:8,.0f} agent steps/s  "
          f"(best {max(rates['a2c']):,.0f})")
    print(f"  RLlib PPO (new API stack, local runner):   {med['rllib']:8,.0f} agent steps/s  "
          f"(best {max(rates['rllib']):,.0f})")
    print(f"  ratio RLlib PPO / A2C: {statistics.median(ratios):.3f}  (per round "
          f"{min(ratios):.3f} .. {max(ratios):.3f})")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--unroll", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--env-threads", type=int, default=0,
                        help="ale-py vector env threads (0 = ale-py's default, one per core; "
                             "what build_learner uses)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--updates", type=int, default=15, help="updates per variant per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed updates per variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--groups", type=int, default=2,
                        help="env groups of the `groups` variant (inner.env_groups)")
    parser.add_argument("--backend", choices=["a2c", "rllib"], default="a2c",
                        help="a2c: the breakdown below; rllib: RLlib PPO vs A2C agent steps/s")
    return parser.parse_args()


@dataclass
class Bench:
    """What the variants run: three learners (Leap on, off, env groups), a bare vector env and
    its raw ale-py env, the compute parts on real frames, and observe() timers of the two
    learners with Leap on."""

    cfg: ExperimentConfig
    learners: dict[str, Any]
    observe: dict[str, Timed]
    env: Any
    raw_env: Any
    obs_shape: tuple[int, ...]
    num_actions: int
    compute: dict[str, Any]
    rng: np.random.Generator

    def close(self) -> None:
        self.env.close()
        for learner in self.learners.values():
            learner.close()


def build_bench(args) -> Bench:
    """The paper's setting (or MinAtar's, for a MinAtar game), Leap's energy metric."""
    minatar = is_minatar_name(args.game)
    family = ({"meta": {"pool": [args.game], "meta_batch_size": 1}} if minatar else {})
    cfg = ExperimentConfig(inner={"num_envs": args.num_envs, "unroll_length": args.unroll,
                                  "device": "cpu", "encoder": "minatar" if minatar else "nature2013"},
                           leap={"metric": "energy"}, **family)
    grouped = cfg.model_copy(update={"inner": cfg.inner.model_copy(
        update={"env_groups": args.groups})})
    build = functools.partial(run_task.build_learner, args.game, env_threads=args.env_threads)
    learners = {"leap": build(cfg, seed=args.seed, accumulator=run_task.make_accumulator(cfg)),
                "plain": build(cfg, seed=args.seed + 1),
                "groups": build(grouped, seed=args.seed + 3,
                                accumulator=run_task.make_accumulator(cfg))}
    observe = {}
    for name in ("leap", "groups"):
        observe[name] = Timed(learners[name].accumulator.observe)
        learners[name].accumulator.observe = observe[name]
    threads = {} if minatar else {"num_threads": args.env_threads}
    env = make_vector_env(args.game, args.num_envs, seed=args.seed + 2, **threads,
                          **cfg.env.settings_for(args.game))
    obs_shape = env.single_observation_space.shape
    num_actions = int(env.single_action_space.n)
    rng = np.random.default_rng(args.seed)
    # Real frames for the compute batch (random actions from reset).
    frames = [env.reset(seed=args.seed)[0]]
    for _ in range(args.unroll):
        frames.append(env.step(rng.integers(0, num_actions, args.num_envs))[0])
    compute = make_compute(cfg, obs_shape, num_actions, np.concatenate(frames), args.seed)
    # env.env: ale-py's AtariVectorEnv (or the MinAtar env) under the contract wrapper.
    return Bench(cfg, learners, observe, env, env.env, obs_shape, num_actions, compute, rng)


def variants(args, bench: Bench) -> dict[str, Any]:
    """Each variant of the module docstring as a callable: per-update (wall, process CPU)
    seconds of ``args.updates`` updates' worth of it."""
    vec_steps = args.updates * args.unroll

    def timed(body):
        wall, cpu = time.perf_counter(), time.process_time()
        body()
        return ((time.perf_counter() - wall) / args.updates,
                (time.process_time() - cpu) / args.updates)

    def run_env(e):
        acts = bench.rng.integers(0, bench.num_actions, (vec_steps, args.num_envs))
        return timed(lambda: [e.step(a) for a in acts])

    def run_learner(learner):
        return timed(lambda: [learner.update() for _ in range(args.updates)])

    def run_part(name):
        return timed(lambda: [bench.compute[name]() for _ in range(args.updates)])

    return {
        "env": lambda: run_env(bench.env),
        "env_raw": lambda: run_env(bench.raw_env),
        "leap": lambda: run_learner(bench.learners["leap"]),
        "plain": lambda: run_learner(bench.learners["plain"]),
        "groups": lambda: run_learner(bench.learners["groups"]),
        "act": lambda: run_part("act"),
        "bootstrap": lambda: run_part("bootstrap"),
        "update": lambda: run_part("update"),
    }


def warm_up(args, bench: Bench) -> None:
    """Untimed updates of every learner and compute part (allocator, first-call paths, env
    threads)."""
    for _ in range(args.warmup):
        for learner in bench.learners.values():
            learner.update()
        for part in bench.compute.values():
            part()
    bench.env.step(bench.rng.integers(0, bench.num_actions, args.num_envs))


@dataclass
class Rounds:
    """Per variant and round: per-update wall and process-CPU seconds; per Leap learner and
    round: observe()'s wall and thread-CPU seconds per update; the load average at each round."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
    hook: dict[str, list[float]]
    hook_cpu: dict[str, list[float]]
    load: list[float]


def measure_rounds(args, runs: dict[str, Any], observe: dict[str, Timed]) -> Rounds:
    """Every variant once per round, in an order rotated each round."""
    names = list(runs)
    out = Rounds({n: [] for n in names}, {n: [] for n in names}, {n: [] for n in observe},
                 {n: [] for n in observe}, [])
    for r in range(args.rounds):
        out.load.append(os.getloadavg()[0])
        for name in names[r % len(names):] + names[: r % len(names)]:
            before = (observe[name].total, observe[name].cpu) if name in observe else None
            w, c = runs[name]()
            out.wall[name].append(w)
            out.cpu[name].append(c)
            if name in observe:
                out.hook[name].append((observe[name].total - before[0]) / args.updates)
                out.hook_cpu[name].append((observe[name].cpu - before[1]) / args.updates)
    return out


def report_variants(args, bench: Bench, rounds: Rounds) -> None:
    """The header and the table: each variant's per-update time, cpu/wall, agent steps/s."""
    steps_per_update = args.unroll * args.num_envs
    print(f"inner_throughput  {dt.date.today()}  {platform.node()}  {cpu_name()}, "
          f"{os.cpu_count()} cores")
    print(f"  game {args.game}  obs {tuple(bench.obs_shape)} uint8  actions {bench.num_actions}  "
          f"envs {args.num_envs}  unroll {args.unroll}  torch threads {torch.get_num_threads()}  "
          f"ale-py {ale_py.__version__} num_threads {args.env_threads or 'default (0)'}  "
          f"torch {torch.__version__}  OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '-')}")
    print(f"  rounds {args.rounds} × {args.updates} updates ({args.updates * steps_per_update:,} "
          f"agent steps) per variant per round; load avg at round starts "
          f"{min(rounds.load):.2f} .. {max(rounds.load):.2f}")
    print(f"per update (= {steps_per_update} agent steps), over rounds; cpu/wall = process CPU "
          "time ÷ wall time\n  (≈ 1.0 for the one-thread compute parts when the cores are not "
          "shared; less = preempted):")
    print(f"  {'variant':9s} {'median':>9s} {'best':>9s} {'worst':>9s}  {'cpu/wall':>8s}  "
          f"{'steps/s (median, best)':>22s}")
    for name, w in rounds.wall.items():
        cw = statistics.median(c / t for c, t in zip(rounds.cpu[name], w))
        steps = (f"{steps_per_update / statistics.median(w):9,.0f} "
                 f"{steps_per_update / min(w):9,.0f}"
                 if name in ("env", "env_raw", "leap", "plain", "proto") else "")
        print(f"  {name:9s} {statistics.median(w) * 1e3:6.2f} ms {min(w) * 1e3:6.2f} ms "
              f"{max(w) * 1e3:6.2f} ms  {cw:8.2f}  {steps:>22s}")


def report_results(args, rounds: Rounds, label: str, stat, goals: tuple[float, float]) -> None:
    """Results lines 1–6 (module docstring, "Derived figures") from ``stat`` over rounds."""
    goal_steps, goal_hook = goals
    rate = lambda t: args.unroll * args.num_envs / t  # noqa: E731
    ok = lambda good: "OK" if good else "MISSED"  # noqa: E731
    t = {name: stat(v) for name, v in rounds.wall.items()}
    h = {name: stat(v) for name, v in rounds.hook.items()}
    hc = {name: stat(v) for name, v in rounds.hook_cpu.items()}
    t_env, t_compute = t["env"], t["act"] + t["bootstrap"] + t["update"]
    over = t["leap"] / (t_env + t_compute)
    print(f"results ({label}):")
    print(f"  1. env-only:            {rate(t_env):8,.0f} steps/s  (raw ale-py "
          f"{rate(t['env_raw']):,.0f}; contract wrapper {(t_env - t['env_raw']) / t_env:+.1%}"
          " of env time)")
    print(f"  2. full loop, Leap:     {rate(t['leap']):8,.0f} steps/s  "
          f"goal ≥ {goal_steps:,.0f}  {ok(rate(t['leap']) >= goal_steps)}")
    print(f"     full loop, no Leap:  {rate(t['plain']):8,.0f} steps/s")
    print(f"  3. compute alone:       {t_compute * 1e3:8.2f} ms/update = act ×{args.unroll} "
          f"{t['act'] * 1e3:.2f} + bootstrap {t['bootstrap'] * 1e3:.2f} + update "
          f"{t['update'] * 1e3:.2f} ms  (env + compute alone: "
          f"{rate(t_env + t_compute):,.0f} steps/s)")
    print(f"  4. framework overhead:  {over:8.3f}  = {t['leap'] * 1e3:.1f} / ({t_env * 1e3:.1f}"
          f" env + {t_compute * 1e3:.1f} compute) ms  goal ≤ {GOAL_OVERHEAD}  "
          f"{ok(over <= GOAL_OVERHEAD)}   (no Leap: {t['plain'] / (t_env + t_compute):.3f})")
    share = (t["leap"] - t["plain"]) / t["leap"]
    direct = h["leap"] / t["leap"]
    print(f"  5. Leap hook share:     {share:+8.2%}  (with − without)/with, noisy;  "
          "observe() "
          f"timed in the loop: {h['leap'] * 1e3:.2f} ms/update ({hc['leap'] * 1e3:.2f} ms "
          f"thread CPU) = {direct:.2%}  "
          f"goal ≤ {goal_hook:.0%}  {ok(direct <= goal_hook)}")
    print(f"  6. env groups ({args.groups}):    {rate(t['groups']):8,.0f} steps/s = "
          f"×{t['leap'] / t['groups']:.3f} the lockstep loop (Leap on in both);  observe() "
          f"{h['groups'] * 1e3:.2f} ms/update = {h['groups'] / t['groups']:.2%}")


def main() -> None:
    args = parse_args()
    if args.backend == "rllib":
        return rllib_vs_a2c(args)
    torch.set_num_threads(args.threads)
    goals = ((GOAL_STEPS_MINATAR, GOAL_HOOK_MINATAR) if is_minatar_name(args.game)
             else (GOAL_STEPS, GOAL_HOOK))
    bench = build_bench(args)
    runs = variants(args, bench)
    warm_up(args, bench)
    rounds = measure_rounds(args, runs, bench.observe)
    bench.close()
    report_variants(args, bench, rounds)
    for label, stat in (("median over rounds", statistics.median), ("best round", min)):
        report_results(args, rounds, label, stat, goals)


if __name__ == "__main__":
    main()
