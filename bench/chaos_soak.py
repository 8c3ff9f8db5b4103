"""Chaos soak: many meta-steps on a 4-node local Ray cluster while a killer removes workers and
nodes at random. Not a test; run by hand and record the printout in docs/reliability.md.

The task is the named stand-in (seeded partial sums at a set pace), so the final θ⁰ of the
chaotic run can be compared bit for bit with a fault-free reference run. With the retry policy
every task must end completed: no chunk lost, none counted twice.

    .venv/bin/python bench/chaos_soak.py --meta-steps 20 --seed 0
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import ray
import torch
from ray.cluster_utils import Cluster

from leap_rl.config import load_config
from leap_rl.distributed.checkpoint import load_latest
from leap_rl.distributed.driver import MetaTrainer
from leap_rl.testing import StandInTask

ROOT = Path(__file__).parents[1]
HEALTH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
          "health_check_failure_threshold": 3, "health_check_timeout_ms": 500}


def config(meta_steps: int):
    return load_config(ROOT / "configs" / "smoke.yaml", [
        f"meta.meta_steps={meta_steps}", "meta.pool=[Pong, Freeway, Asterix, Enduro, Qbert]",
        "meta.meta_batch_size=4", "workers.num_workers=4", "workers.num_cpus=1",
        "workers.failure_policy=retry", "workers.max_task_retries=20",
        "workers.task_timeout_s=20", "workers.startup_timeout_s=20", "run.checkpoint_every=1"])


class Killer:
    """Every ``period`` seconds: SIGKILL a random worker, or remove a random node without grace,
    by the flip of a seeded coin. A removed node is replaced (so capacity comes back) from the
    main thread, by :meth:`restore_nodes`: Ray starts nodes only from the main thread."""

    def __init__(self, cluster: Cluster, rng: random.Random, period: float) -> None:
        self.cluster, self.rng, self.period = cluster, rng, period
        self.worker_pids: set[int] = set()
        self.worker_kills = self.node_kills = 0
        self.nodes_to_add = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.rng.uniform(0.5, 1.5) * self.period):
            if self.rng.random() < 0.75 and self.worker_pids:
                pid = self.rng.choice(sorted(self.worker_pids))
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.worker_kills += 1
                except ProcessLookupError:
                    pass
                self.worker_pids.discard(pid)
            else:
                if self.nodes_to_add:  # the last removed node is not back yet
                    continue
                victim = self.rng.choice(self.cluster.list_all_nodes()[1:])  # never the head
                self.cluster.remove_node(victim, allow_graceful=False)
                self.node_kills += 1
                self.nodes_to_add += 1

    def restore_nodes(self) -> None:
        while self.nodes_to_add:
            self.cluster.add_node(num_cpus=1)
            self.nodes_to_add -= 1

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()


def run(out: Path, meta_steps: int, stand_in: StandInTask, killer: Killer | None):
    """One meta-training run; returns the accepted (meta-step, task) → sequence numbers of the
    task's last attempt (a retry's chunks replace the failed attempt's)."""
    trainer = MetaTrainer(config(meta_steps), out, runner=stand_in, stream=open(os.devnull, "w"))
    accepted: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    log_chunk = trainer.log.chunk

    def on_chunk(meta_step, game, steps, chunk, verdict):
        if verdict == "accepted":
            accepted[(chunk.meta_step, chunk.task)].append((chunk.attempt, chunk.seq))
        if killer is not None:
            killer.worker_pids.add(chunk.pid)
            killer.restore_nodes()
        log_chunk(meta_step, game, steps, chunk, verdict)

    trainer.log.chunk = on_chunk
    if killer:
        killer.start()
    try:
        trainer.run()
    finally:
        if killer:
            killer.stop()
    last = {key: max(a for a, _ in tags) for key, tags in accepted.items()}
    return {key: [s for a, s in tags if a == last[key]] for key, tags in accepted.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kill-every", type=float, default=3.0, help="mean seconds between kills")
    args = parser.parse_args()
    stand_in = StandInTask(chunks=6, seconds_per_chunk=0.3)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "_system_config": HEALTH})
    for _ in range(4):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp) / "reference", args.meta_steps, stand_in, None)
            killer = Killer(cluster, random.Random(args.seed), args.kill_every)
            accepted = run(Path(tmp) / "chaos", args.meta_steps, stand_in, killer)
            same = equal_states(Path(tmp) / "reference", Path(tmp) / "chaos")
    finally:
        ray.shutdown()
        cluster.shutdown()
    expected = args.meta_steps * 4 * stand_in.chunks
    counted = sum(len(seqs) for seqs in accepted.values())
    twice = sum(len(seqs) - len(set(seqs)) for seqs in accepted.values())
    print(f"meta-steps completed:   {args.meta_steps}")
    print(f"kills survived:         {killer.worker_kills} workers, {killer.node_kills} nodes")
    print(f"chunks lost:            {expected - counted + twice} of {expected}")
    print(f"chunks double-counted:  {twice}")
    print(f"final θ⁰ == reference:  {same}")
    print(f"wall time:              {time.monotonic() - start:.0f} s")
    sys.exit(0 if same and not twice and counted == expected else 1)


def equal_states(a: Path, b: Path) -> bool:
    x = load_latest(a / "checkpoints")["meta_optimizer"]
    y = load_latest(b / "checkpoints")["meta_optimizer"]
    return all(torch.equal(x["init"][k], y["init"][k]) for k in x["init"])


if __name__ == "__main__":
    main()
