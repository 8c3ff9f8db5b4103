"""θ⁰ between meta-steps: its health, measured every meta-step, and the plasticity remedies.

The driver calls :meth:`InitCare.gradient` on the mean meta-gradient's sum before Adam's step
(the L2-to-init pull) and :meth:`InitCare.after_update` after it (decoupled weight decay, the
health measures, ReDo, shrink and perturb, in that order). The maths is in
:mod:`leap_rl.agent.health` and :mod:`leap_rl.core.remedies`; this module holds the run's fixed
frames (``health_frames.pt`` in the run directory), the starting θ⁰ and the schedule. With every
remedy off, θ⁰ is never written here: the health measures only read it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from leap_rl.agent import build_actor_critic
from leap_rl.agent.frames import FrameSets, frame_seed, gather_frames, load_frames, save_frames
from leap_rl.agent.health import dormant_share, drift, encoder_layers, layer_scores, weight_rms
from leap_rl.config import ExperimentConfig
from leap_rl.core import remedies
from leap_rl.core.meta_optimizer import MetaOptimizer
from leap_rl.io.storage import RunPath

FRAMES_FILE = "health_frames.pt"
PREFIX = "encoder."
FINAL_KEY = "final_dormant/"  # the keys of a task's last Progress.stats that carry its measure


def fresh_init(cfg: ExperimentConfig, shape: Sequence[int], keys: Sequence[str],
               seed: int) -> dict[str, Tensor]:
    """A new initialization of θ⁰'s parameters, seeded, without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        params = dict(build_actor_critic(cfg.inner.encoder, shape, 1,
                                         layer_norm=cfg.inner.layer_norm).named_parameters())
    return {k: params[k].detach().clone() for k in keys}


class InitCare:
    """The run's θ⁰ health measures and remedies (``health:`` and ``remedies:`` sections).

    ``frame_games``: the frame sets as {name: games}; the pool's by default, and ReDo reads the
    pool's only (validation frames would leak the validation games into θ⁰)."""

    def __init__(self, cfg: ExperimentConfig, out: RunPath, shape: Sequence[int],
                 start: Mapping[str, Tensor],
                 frame_games: Mapping[str, Sequence[str]] | None = None) -> None:
        self.cfg, self.out, self.shape = cfg, out, tuple(shape)
        self.start = {k: v.detach().clone() for k, v in start.items()}
        self.encoder = build_actor_critic(cfg.inner.encoder, self.shape, 1,
                                          layer_norm=cfg.inner.layer_norm).encoder
        self.layers = encoder_layers(self.encoder)
        self.frame_games = dict(frame_games or {"pool": list(cfg.meta.pool)})
        self._frames: FrameSets | None = None

    @property
    def frames(self) -> FrameSets:
        """The frame sets, read from the run directory or gathered (then saved) on first use."""
        if self._frames is None:
            h = self.cfg.health
            meta = {"games": {k: list(v) for k, v in self.frame_games.items()},
                    "count": h.frames_per_game, "seed": self.cfg.seed,
                    "env": self.cfg.env.model_dump(mode="json")}
            path = self.out / FRAMES_FILE
            self._frames = load_frames(path, meta) if path.exists() else None
            if self._frames is None:
                self._frames = {name: {g: gather_frames(g, self.cfg.env.settings_for(g),
                                                        h.frames_per_game,
                                                        frame_seed(self.cfg.seed, g))
                                       for g in games}
                                for name, games in self.frame_games.items()}
                save_frames(path, self._frames, meta)
        return self._frames

    def gradient(self, grad_sum: Mapping[str, Tensor], num_tasks: int,
                 init: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """The sum of meta-gradients Adam is to step on: with the L2-to-init pull added (as
        ``num_tasks`` times its gradient, since Adam divides the sum by ``num_tasks``)."""
        c = self.cfg.remedies.l2_init
        if c <= 0 or num_tasks < 1:
            return grad_sum
        pull = remedies.l2_init_gradient(init, self.start, c)
        return {k: g + num_tasks * pull[k].to(g) for k, g in grad_sum.items()}

    def after_update(self, m: int, meta: MetaOptimizer, before: Mapping[str, Tensor],
                     skipped: bool) -> tuple[dict[str, float], dict[str, Tensor]]:
        """After meta-step ``m``'s Adam step (θ⁰ was ``before``): decay, health, ReDo, shrink and
        perturb as scheduled. Returns (scalars, histograms) for the run's log."""
        r, h, done = self.cfg.remedies, self.cfg.health, m + 1
        scalars: dict[str, float] = {}
        if r.weight_decay > 0 and not skipped:
            meta.replace(remedies.decoupled_decay(before, meta.init, self.cfg.meta.learning_rate,
                                                  r.weight_decay))
        init, histograms = meta.init, {}
        due = lambda every: every > 0 and done % every == 0  # noqa: E731
        pool_scores = None
        if due(h.every):
            started = time.perf_counter()
            scores = {name: self.scores(init, frames) for name, frames in self.frames.items()}
            pool_scores = scores.get("pool")
            scalars.update(self.health_scalars(init, scores))
            histograms = {f"init/params/{k.removeprefix(PREFIX)}": v for k, v in init.items()}
            # Its own cost, frames gathered on the first call included (docs/benchmarks.md).
            scalars["init/health_seconds"] = time.perf_counter() - started
        if due(r.redo_every):
            if pool_scores is None:
                pool_scores = self.scores(init, self.frames["pool"])
            scalars.update(self._redo(m, meta, init, pool_scores))
        if due(r.shrink_perturb_every):
            fresh = fresh_init(self.cfg, self.shape, list(init), self._seed(m, 2))
            meta.replace(remedies.shrink_perturb(meta.init, fresh, r.shrink, r.perturb))
        return scalars, histograms

    def scores(self, init: Mapping[str, Tensor], games: Mapping[str, Tensor]) -> dict:
        """Per layer, the units' scores of θ⁰'s encoder on the frames of ``games`` together."""
        with torch.no_grad():
            for name, p in self.encoder.named_parameters():
                if PREFIX + name in init:
                    p.copy_(init[PREFIX + name])
        return layer_scores(self.encoder, torch.cat(list(games.values())))

    def health_scalars(self, init: Mapping[str, Tensor],
                       scores: Mapping[str, Mapping[str, Tensor]]) -> dict[str, float]:
        """The ``init/…`` tags (docs/design.md, "θ⁰ health and plasticity remedies")."""
        out = {}
        for name, per_layer in scores.items():
            for tau in self.cfg.health.taus:
                for layer, share in dormant_share(per_layer, tau).items():
                    out[f"init/dormant_share/{name}/{layer}/tau={tau:g}"] = share
        out.update({f"init/rms/{k}": v for k, v in weight_rms(init, self.layers).items()})
        out.update({f"init/distance/{k}": v
                    for k, v in drift(init, self.start, self.layers).items()})
        return out

    def _redo(self, m: int, meta: MetaOptimizer, init: Mapping[str, Tensor],
              scores: Mapping[str, Tensor]) -> dict[str, float]:
        dormant = {PREFIX + layer: s <= self.cfg.remedies.redo_tau for layer, s in scores.items()}
        fresh = fresh_init(self.cfg, self.shape, list(init), self._seed(m, 1))
        new, changed = remedies.redo(init, fresh, dormant, [PREFIX + x for x in self.layers])
        meta.replace(new)
        meta.reset_moments(changed)
        return {f"remedies/redo_units/{k.removeprefix(PREFIX)}": float(v.sum())
                for k, v in dormant.items()}

    def _seed(self, m: int, remedy: int) -> int:
        return int(np.random.SeedSequence([self.cfg.seed, m, remedy]).generate_state(1)[0] >> 1)


def final_dormant_scalars(tallies: Sequence[tuple[str, Mapping[str, float]]]) -> dict[str, float]:
    """``games/<game>/final_dormant_share/<layer>/tau=<τ>``: per game, the mean over its tasks
    of the measure each task's worker took of its final encoder (``FINAL_KEY`` stats)."""
    sums: dict[str, list[float]] = {}
    for game, stats in tallies:
        for key, value in stats.items():
            if key.startswith(FINAL_KEY):
                tag = f"games/{game}/final_dormant_share/{key.removeprefix(FINAL_KEY)}"
                sums.setdefault(tag, []).append(float(value))
    return {tag: sum(v) / len(v) for tag, v in sums.items()}
