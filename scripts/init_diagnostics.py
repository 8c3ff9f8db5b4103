"""What an initialization's encoder looks like, next to a random one, on given games' frames.

    .venv/bin/python scripts/init_diagnostics.py --config configs/minatar.yaml \
        --games MinAtar/Breakout,MinAtar/SpaceInvaders \
        leap=runs/minatar/leap/init/encoder.pt reptile=runs/minatar/reptile/init/encoder.pt

For each initialization (and ``random``: the config's seeded θ⁰ before meta-training): the RMS
of every weight tensor, and on observations from uniformly random play of each game: the mean
norm of the 128/256-d feature vector, the share of its units that are dead (zero on every
observation) and the share active on an average observation. Read-only: trains nothing.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from leap_rl.agent import build_actor_critic, load_encoder
from leap_rl.config import load_config
from leap_rl.distributed.driver import initial_init
from leap_rl.envs import make_vector_env
from leap_rl.io.artifacts import load_init


def frames(game: str, cfg, steps: int, seed: int) -> torch.Tensor:
    env = make_vector_env(game, 8, seed=seed, **cfg.env.settings_for(game))
    rng, (obs, _) = np.random.default_rng(seed), env.reset()
    batch = [obs]
    for _ in range(steps):
        obs, *_ = env.step(rng.integers(0, env.single_action_space.n, env.num_envs))
        batch.append(obs)
    env.close()
    return torch.from_numpy(np.concatenate(batch))


def describe(name: str, params: dict, cfg, shape, observations: dict) -> list[str]:
    model = build_actor_critic(cfg.inner.encoder, shape, num_actions=1,
                               layer_norm=cfg.inner.layer_norm)
    load_encoder(model, params)
    rms = "  ".join(f"{k.removeprefix('encoder.')} {float(v.pow(2).mean().sqrt()):.3f}"
                    for k, v in params.items())
    lines = [f"{name:8s} weight RMS: {rms}"]
    with torch.no_grad():
        for game, obs in observations.items():
            features = model.encoder(obs)
            active = features > 0
            lines.append(f"{'':8s} {game:22s} feature norm {float(features.norm(dim=1).mean()):7.2f}"
                         f"  dead units {float((~active.any(0)).float().mean()):5.1%}"
                         f"  active per obs {float(active.float().mean()):5.1%}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--games", required=True, help="comma-separated")
    parser.add_argument("--steps", type=int, default=250, help="random-play steps per env (8 envs)")
    parser.add_argument("inits", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()
    cfg = load_config(args.config)
    random_init, shape = initial_init(cfg)
    observations = {g: frames(g, cfg, args.steps, cfg.seed) for g in args.games.split(",")}
    inits = {"random": random_init}
    inits.update({n: load_init(p)["parameters"] for n, p in (s.split("=", 1) for s in args.inits)})
    for name, params in inits.items():
        print("\n".join(describe(name, params, cfg, shape, observations)))


if __name__ == "__main__":
    main()
