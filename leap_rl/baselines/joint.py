"""Joint pretraining, a baseline for Leap's θ⁰: one encoder trained by A2C on all pool games.

The encoder has the architecture and parameter names of every θ⁰ (``inner.encoder``); each game
of ``cfg.meta.pool`` has its own envs and its own policy and value heads (sized to its action
set). An update unrolls every game ``inner.unroll_length`` steps with its own head, takes each
game's n-step A2C loss as the A2C learner does (a termination cuts the return, a truncation
bootstraps from γ·V(final obs)), averages them and takes ONE RMSProp step (``inner``'s lr, ε,
α, clip) on the encoder and all heads. Seeds: game k's env j ``seed + k·num_envs + j``, its heads
and sampler ``seed + k``; the encoder's init is ``train-task --seed seed``'s.
"""

from __future__ import annotations

import os
import pickle
from collections import deque

import numpy as np
import torch
from torch import Tensor, nn

from leap_rl.agent import (
    A2CConfig,
    a2c_loss,
    build_actor_critic,
    nstep_returns,
    reset_heads,
    resolve_device,
)
from leap_rl.agent.a2c import EpisodeTracker, truncated_values
from leap_rl.config import ExperimentConfig
from leap_rl.envs import is_atari_game, is_minatar_name, make_vector_env

STATE_FORMAT = "leap-rl/joint-pretrainer"
RECENT = 20  # episodes in a game's recent mean return


class _Game:
    """One pool game: its envs, its actor-critic (shared encoder, own heads), sampler, buffers."""

    def __init__(self, name: str, envs, model: nn.Module, seed: int, env_seed: int,
                 cfg: A2CConfig, device: torch.device) -> None:
        t, n, space = cfg.unroll_length, cfg.num_envs, envs.single_observation_space
        self.name, self.envs, self.model, self.cfg, self.device = name, envs, model, cfg, device
        self.generator = torch.Generator(device=device).manual_seed(seed)
        dtype = torch.from_numpy(np.zeros(0, space.dtype)).dtype
        self.obs = torch.zeros((t + 1, n, *space.shape), dtype=dtype, device=device)
        self.actions = torch.zeros((t, n), dtype=torch.long, device=device)
        self.rewards, self.dones = np.zeros((t, n), np.float32), np.zeros((t, n), np.float32)
        self.truncation_bootstrap = torch.zeros((t, n), device=device)  # γ·V(final obs)
        self.episodes = EpisodeTracker(n)  # its ``finished``: (return, length) not yet popped
        self.recent: deque = deque(maxlen=RECENT)
        self.reset(env_seed)

    def reset(self, seed: int) -> None:
        obs, _ = self.envs.reset(seed=seed)  # env j: seed + j
        self.obs[0].copy_(torch.from_numpy(np.asarray(obs)))
        self.episodes.returns[:], self.episodes.lengths[:] = 0.0, 0

    @property
    def finished(self) -> list[tuple[float, int]]:
        """(return, length) of the episodes finished since the caller last cleared the list."""
        return self.episodes.finished

    def act(self, t: int, logits: Tensor) -> None:
        """Sample actions for step ``t`` from ``logits`` and start the envs stepping."""
        probs = torch.softmax(logits, dim=-1)
        self.actions[t] = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)
        self.envs.step_async(self.actions[t].cpu().numpy())

    def receive(self, t: int) -> None:
        """Wait for step ``t`` and store its transition (SAME_STEP autoreset)."""
        obs, rewards, terminated, truncated, info = self.envs.step_wait()
        dones = np.logical_or(terminated, truncated)
        known = len(self.finished)
        self.episodes.step(np.asarray(rewards, dtype=np.float64), dones, slice(None))
        self.recent.extend(ret for ret, _ in self.finished[known:])
        self.rewards[t] = np.clip(rewards, -self.cfg.reward_clip, self.cfg.reward_clip)
        self.dones[t] = dones
        self.truncation_bootstrap[t] = 0.0  # γ·V(final obs) where a time limit cut an episode
        cut = np.flatnonzero(np.logical_and(truncated, np.logical_not(terminated)))
        if cut.size:  # it ends the episode, not the MDP
            self.truncation_bootstrap[t, torch.from_numpy(cut).to(self.device)] = \
                self.cfg.discount * truncated_values(self.model, info, cut, self.device)
        self.obs[t + 1].copy_(torch.from_numpy(np.asarray(obs)))

    def returns(self, bootstrap_value: Tensor) -> Tensor:
        rewards = torch.from_numpy(self.rewards).to(self.device) + self.truncation_bootstrap
        dones = torch.from_numpy(self.dones).to(self.device)
        return nstep_returns(rewards, dones, bootstrap_value, self.cfg.discount)

    def state(self) -> dict:
        # MinAtar's envs are plain Python: pickled, they resume exactly; emulators restart.
        envs = pickle.dumps(self.envs) if is_minatar_name(self.name) else None
        episode = np.stack([self.episodes.returns, self.episodes.lengths])  # running, per env
        return {"name": self.name, "obs": self.obs[0].cpu(), "episode": torch.from_numpy(
            episode), "finished": list(self.finished), "recent": list(self.recent),
            "generator": self.generator.get_state(), "envs": envs}

    def load_state(self, state: dict, reseed: int) -> None:
        if state["envs"] is not None:
            self.envs.close()
            self.envs = pickle.loads(state["envs"])  # our own checkpoint: trusted like torch.load
            self.obs[0].copy_(state["obs"])
            self.episodes.returns[:], self.episodes.lengths[:] = state["episode"].numpy()
        else:
            self.reset(reseed)  # the episodes in flight are lost
        self.episodes.finished = list(state["finished"])
        self.recent = deque(state["recent"], maxlen=RECENT)
        self.generator.set_state(state["generator"])


class JointPretrainer:
    """A2C on every pool game at once: one shared encoder, one head pair per game."""

    def __init__(self, cfg: ExperimentConfig, seed: int) -> None:
        self.cfg, self.seed, self.updates = cfg, seed, 0
        inner, pool = cfg.inner, cfg.meta.pool
        self.device = resolve_device(inner.device)
        envs = [_make_envs(cfg, game, seed + k * inner.num_envs) for k, game in enumerate(pool)]
        self.observation_shape = tuple(envs[0].single_observation_space.shape)  # all games'
        with torch.random.fork_rng(devices=[]):  # the encoder init of train-task --seed seed
            torch.manual_seed(seed)
            models = [build_actor_critic(inner.encoder, self.observation_shape,
                                         int(e.single_action_space.n),
                                         layer_norm=inner.layer_norm) for e in envs]
        self.encoder = models[0].encoder
        for k, model in enumerate(models):
            model.encoder = self.encoder
            reset_heads(model, seed + k)
        self.net = nn.ModuleList(models).to(self.device)  # parameters(): the encoder once
        self.optimizer = torch.optim.RMSprop(self.net.parameters(), lr=inner.learning_rate,
                                             alpha=inner.rmsprop_alpha, eps=inner.rmsprop_eps)
        self.games = [_Game(game, e, m, seed + k, seed + k * inner.num_envs, inner, self.device)
                      for k, (game, e, m) in enumerate(zip(pool, envs, models))]
        self.metrics, self._popped_at = torch.zeros((len(pool), 3), device=self.device), 0

    @property
    def steps_per_game(self) -> int:
        return self.updates * self.cfg.inner.unroll_length * self.cfg.inner.num_envs

    def _forward(self, obs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Every game's (logits, values) for its observations: one encoder pass for all."""
        features = self.encoder(torch.cat(obs)).split([len(o) for o in obs])
        return ([g.model.policy(f) for g, f in zip(self.games, features)],
                [g.model.value(f).squeeze(-1) for g, f in zip(self.games, features)])

    def update(self) -> None:
        """Unroll every game, then one optimizer step on the mean of the games' A2C losses."""
        cfg, t_max = self.cfg.inner, self.cfg.inner.unroll_length
        for t in range(t_max):
            with torch.no_grad():
                logits, _ = self._forward([g.obs[t] for g in self.games])
            for game, game_logits in zip(self.games, logits):
                game.act(t, game_logits)  # (Atari's emulators start at once, in threads)
            for game in self.games:
                game.receive(t)
        with torch.no_grad():
            _, bootstrap = self._forward([g.obs[t_max] for g in self.games])
        logits, values = self._forward([g.obs[:t_max].flatten(0, 1) for g in self.games])
        losses = []
        for k, (game, boot) in enumerate(zip(self.games, bootstrap)):
            loss, parts = a2c_loss(logits[k], values[k], game.actions.flatten(),
                                   game.returns(boot).flatten(), cfg.entropy_cost,
                                   cfg.value_loss_coef)
            losses.append(loss)
            self.metrics[k] += torch.stack(tuple(parts)).detach()
        self.optimizer.zero_grad(set_to_none=False)
        torch.stack(losses).mean().backward()  # the games' A2C losses, averaged
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        for game in self.games:
            game.obs[0].copy_(game.obs[t_max])  # the next unroll starts from the bootstrap obs
        self.updates += 1

    def pop_metrics(self) -> Tensor:
        """(games, 3) mean policy loss, value loss and entropy since the last pop (host sync)."""
        means = self.metrics.cpu() / max(self.updates - self._popped_at, 1)
        self.metrics.zero_()
        self._popped_at = self.updates
        return means

    def state_dict(self) -> dict:
        """Everything to continue exactly: parameters, optimizer, samplers, MinAtar's envs."""
        return {"format": STATE_FORMAT, "updates": self.updates, "net": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(), "games": [g.state() for g in self.games]}

    def load_state_dict(self, state: dict) -> None:
        names = [g["name"] for g in state["games"]]
        if state.get("format") != STATE_FORMAT or names != [g.name for g in self.games]:
            raise ValueError(f"not a joint pretrainer's state for {[g.name for g in self.games]}")
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = self._popped_at = state["updates"]
        n = self.cfg.inner.num_envs
        for k, (game, game_state) in enumerate(zip(self.games, state["games"])):
            game.load_state(game_state, self.seed + (k + len(self.games) * self.updates) * n)

    def close(self) -> None:
        for game in self.games:
            game.envs.close()


def _make_envs(cfg: ExperimentConfig, game: str, seed: int):
    settings = cfg.env.settings_for(game)
    if is_atari_game(game):  # the emulators' threads, shared out among the games
        settings["num_threads"] = max(1, (os.cpu_count() or 1) // len(cfg.meta.pool))
    return make_vector_env(game, cfg.inner.num_envs, seed=seed, **settings)
