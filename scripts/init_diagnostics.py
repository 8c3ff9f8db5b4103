"""What an initialization's encoder looks like, next to a random one, on given games' frames.

    .venv/bin/python scripts/init_diagnostics.py --config configs/minatar.yaml \
        --games MinAtar/Breakout,MinAtar/SpaceInvaders \
        leap=runs/minatar/leap/init/encoder.pt reptile=runs/minatar/reptile/init/encoder.pt

For each initialization (and ``random``: the config's seeded θ⁰ before meta-training): the RMS
of every weight tensor, and on observations from uniformly random play of each game: the mean
norm of the 128/256-d feature vector, the share of its units that are dead (zero on every
observation) and the share active on an average observation; and per layer (conv and fc) the τ-dormant share at τ = 0 and 0.025 (Sokar et al.
2023: :mod:`leap_rl.agent.health`). ``--csv PATH`` writes those per (init, game, layer).
Read-only: trains nothing.
"""

from __future__ import annotations

import argparse
import csv

import numpy as np
import torch

from leap_rl.agent import build_actor_critic, load_encoder
from leap_rl.agent.health import dormant_share, encoder_layers, layer_scores, weight_rms
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


TAUS = (0.0, 0.025)


def model_for(params: dict, cfg, shape):
    """The actor-critic holding θ⁰ ``params`` (with LayerNorm when θ⁰ has norm parameters)."""
    layer_norm = any("norm" in key for key in params)
    model = build_actor_critic(cfg.inner.encoder, shape, num_actions=1, layer_norm=layer_norm)
    load_encoder(model, params)
    return model


def health_rows(name: str, params: dict, cfg, shape, observations: dict) -> list[dict]:
    """Per (game, layer): θ⁰'s τ-dormant shares on the game's frames and the layer's weight RMS."""
    model = model_for(params, cfg, shape)
    layers = encoder_layers(model.encoder)
    rms = weight_rms(params, layers)
    rows = []
    for game, obs in observations.items():
        scores = layer_scores(model.encoder, obs)
        shares = {tau: dormant_share(scores, tau) for tau in TAUS}
        rows += [{"init": name, "game": game, "layer": layer, "weight_rms": rms.get(layer),
                  **{f"dormant_{tau:g}": shares[tau][layer] for tau in TAUS}}
                 for layer in layers]
    return rows


def describe(name: str, params: dict, cfg, shape, observations: dict) -> list[str]:
    model = model_for(params, cfg, shape)
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
    parser.add_argument("--csv", help="write the per-layer dormant shares and weight RMS here")
    parser.add_argument("inits", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()
    cfg = load_config(args.config)
    random_init, shape = initial_init(cfg)
    observations = {g: frames(g, cfg, args.steps, cfg.seed) for g in args.games.split(",")}
    inits = {"random": random_init}
    inits.update({n: load_init(p)["parameters"] for n, p in (s.split("=", 1) for s in args.inits)})
    rows = []
    for name, params in inits.items():
        print("\n".join(describe(name, params, cfg, shape, observations)))
        rows += health_rows(name, params, cfg, shape, observations)
    for row in rows:
        print(f"{row['init']:8s} {row['game']:22s} {row['layer']:8s} " + "  ".join(
            f"τ={tau:g}-dormant {row[f'dormant_{tau:g}']:5.1%}" for tau in TAUS))
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
