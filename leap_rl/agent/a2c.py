"""Synchronous advantage actor-critic learner with the Leap hook on every optimizer step.

Inner learner of Flennerhag et al. (ICLR 2019), appendix F: batches of `num_envs`
environments unrolled `unroll_length` steps, RMSProp, n-step bootstrapped returns. When a
`LeapAccumulator` is attached, every optimizer step is shown to it (loss f(θⁱ), θⁱ and the raw
gradient gⁱ, before the norm clip) before the step is applied, with no extra forward/backward
pass and no per-update host sync.

The environments may come in several groups (vector envs) that are stepped in turn: while one
group emulates (``step_async``), the actor computes the next group's actions, so acting
overlaps emulation. The algorithm is unchanged: the same batch, acted on by the same policy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from leap_rl.agent.config import A2CConfig
from leap_rl.agent.losses import a2c_loss, nstep_returns
from leap_rl.agent.network import meta_parameters
from leap_rl.core.leap import LeapAccumulator

__all__ = ["A2CLearner", "EpisodeTracker", "TrainReport", "resolve_device", "truncated_values"]


@dataclass(frozen=True)
class TrainReport:
    """Progress since the previous report (losses are means over the updates in between)."""

    agent_steps: int
    updates: int
    episodes: list[tuple[float, int]]  # (raw, unclipped return, length) of finished episodes
    policy_loss: float
    value_loss: float
    entropy: float
    steps_per_second: float


def resolve_device(name: str) -> torch.device:
    """Map "auto" to cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _torch_dtype(np_dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=np_dtype)).dtype


class EpisodeTracker:
    """Per-env raw episode returns/lengths on the host (SAME_STEP autoreset semantics)."""

    def __init__(self, num_envs: int) -> None:
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.finished: list[tuple[float, int]] = []

    def step(self, rewards: np.ndarray, dones: np.ndarray, envs: slice) -> None:
        """Record one step of the environments ``envs`` (a slice of all of them)."""
        returns, lengths = self.returns[envs], self.lengths[envs]  # views
        returns += rewards
        lengths += 1
        for i in np.flatnonzero(dones):
            self.finished.append((float(returns[i]), int(lengths[i])))
        returns[dones] = 0.0
        lengths[dones] = 0

    def pop(self) -> list[tuple[float, int]]:
        finished, self.finished = self.finished, []
        return finished


class A2CLearner:
    """A2C on gymnasium VectorEnvs (autoreset SAME_STEP) with an optional Leap accumulator.

    ``env`` is one vector env or a sequence of them (groups, stepped in turn so that acting on
    one overlaps the others' emulation); together they hold ``cfg.num_envs`` environments. They
    need the split-phase ``step_async``/``step_wait`` that ``make_vector_env``'s envs have.
    Environment ``j`` of the batch is seeded ``seed + j`` however the batch is grouped.
    """

    def __init__(
        self,
        env,
        model: nn.Module,
        cfg: A2CConfig,
        *,
        seed: int,
        accumulator: LeapAccumulator | None = None,
    ) -> None:
        self.envs = tuple(env) if isinstance(env, (list, tuple)) else (env,)
        if not all(hasattr(e, "step_async") and hasattr(e, "step_wait") for e in self.envs):
            raise TypeError("A2CLearner steps its envs with step_async/step_wait: make them with "
                            "leap_rl.envs.make_vector_env (or use gymnasium's AsyncVectorEnv)")
        total = sum(e.num_envs for e in self.envs)
        if total != cfg.num_envs:
            raise ValueError(f"the envs hold {total} environments but cfg.num_envs={cfg.num_envs}")
        self.cfg, self.accumulator = cfg, accumulator
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        # torch RMSprop adds eps outside the sqrt (v / (sqrt(s) + eps)); TF's RMSProp adds it
        # inside (sqrt(s + eps)). We keep torch's form with the paper's eps = 1e-4.
        self.optimizer = torch.optim.RMSprop(
            self.model.parameters(), lr=cfg.learning_rate, alpha=cfg.rmsprop_alpha,
            eps=cfg.rmsprop_eps,
        )
        self._init_meta_views()
        self._generator = torch.Generator(device=self.device).manual_seed(seed)
        self._init_buffers()
        self._groups = _column_slices(self.envs)
        for group, cols in zip(self.envs, self._groups):
            obs, _ = group.reset(seed=seed + cols.start)
            self._obs[0, cols].copy_(torch.from_numpy(np.asarray(obs)))
        self._episodes = EpisodeTracker(cfg.num_envs)
        self._metric_sum = torch.zeros(3, device=self.device)
        self._metric_updates = 0
        self.updates = 0
        self.agent_steps = 0

    def _init_meta_views(self) -> None:
        """Build the name->tensor views passed to the accumulator once (live storage)."""
        named = meta_parameters(self.model, self.cfg.meta_parameters)
        for p in self.model.parameters():
            # Persistent grad tensors (zeroed, never set to None) so the grads dict stays valid.
            p.grad = torch.zeros_like(p)
        self._meta_params = {n: p.detach() for n, p in named.items()}
        self._meta_grads = {n: p.grad for n, p in named.items()}

    def _init_buffers(self) -> None:
        cfg, space = self.cfg, self.envs[0].single_observation_space
        t, n = cfg.unroll_length, cfg.num_envs
        # Slot t holds the obs acted on at step t; slot T is the bootstrap obs.
        self._obs = torch.zeros(
            (t + 1, n, *space.shape), dtype=_torch_dtype(space.dtype), device=self.device
        )
        self._actions = torch.zeros((t, n), dtype=torch.long, device=self.device)
        self._rewards = np.zeros((t, n), dtype=np.float32)
        self._dones = np.zeros((t, n), dtype=np.float32)
        # γ·V(last obs) of the episodes truncated at step t (zero elsewhere), on the device.
        self._truncation_bootstrap = torch.zeros((t, n), device=self.device)

    @torch.no_grad()
    def _act(self, obs: Tensor) -> Tensor:
        logits, _ = self.model(obs)
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=self._generator).squeeze(-1)

    def _unroll(self) -> None:
        """Step all envs `unroll_length` times, filling the rollout buffers.

        Groups take turns: each receives its step, then is sent its next actions at once, so
        it emulates while the following groups' actions are computed.
        """
        steps = self.cfg.unroll_length
        self._truncation_bootstrap.zero_()
        for group, cols in zip(self.envs, self._groups):
            self._send(group, 0, cols)
        for t in range(steps):
            for group, cols in zip(self.envs, self._groups):
                self._receive(group, t, cols)
                if t + 1 < steps:
                    self._send(group, t + 1, cols)
        self.agent_steps += steps * self.cfg.num_envs

    def _send(self, group, t: int, cols: slice) -> None:
        """Act on the observations of step ``t`` of the environments ``cols``; start stepping."""
        actions = self._act(self._obs[t, cols])
        self._actions[t, cols] = actions
        # The one host transfer per env step: the env needs numpy actions.
        group.step_async(actions.cpu().numpy())

    def _receive(self, group, t: int, cols: slice) -> None:
        """Wait for the step of the environments ``cols`` and store its transition."""
        obs, rewards, terminated, truncated, info = group.step_wait()
        dones = np.logical_or(terminated, truncated)
        self._episodes.step(np.asarray(rewards, dtype=np.float64), dones, cols)
        clip = self.cfg.reward_clip
        self._rewards[t, cols] = np.clip(rewards, -clip, clip)  # paper app. F: clip to +-5
        self._dones[t, cols] = dones
        cut_short = np.logical_and(truncated, np.logical_not(terminated))
        if cut_short.any():  # rare: once per time limit reached
            self._bootstrap_truncated(t, cols, np.flatnonzero(cut_short), info)
        self._obs[t + 1, cols].copy_(torch.from_numpy(np.asarray(obs)))

    def _bootstrap_truncated(self, t: int, cols: slice, envs: np.ndarray, info: dict) -> None:
        """Store γ·V(last obs) for the environments ``envs`` of ``cols`` truncated at step t.

        The parameters do not change during an unroll, so V here is the V of the update.
        """
        rows = torch.from_numpy(envs + cols.start).to(self.device)
        self._truncation_bootstrap[t, rows] = self.cfg.discount * truncated_values(
            self.model, info, envs, self.device)

    def _compute_returns(self) -> Tensor:
        with torch.no_grad():
            _, bootstrap = self.model(self._obs[-1])
        rewards = torch.from_numpy(self._rewards).to(self.device, non_blocking=True)
        # Every episode end cuts the recursion (the next obs is the new episode's first); a
        # truncated one bootstraps from its own last obs instead: r_t + γ·V(final obs).
        rewards = rewards + self._truncation_bootstrap
        dones = torch.from_numpy(self._dones).to(self.device, non_blocking=True)
        return nstep_returns(rewards, dones, bootstrap, self.cfg.discount)

    def update(self) -> None:
        """One unroll and one optimizer step (the hook sees it before it is applied)."""
        self._unroll()
        returns = self._compute_returns()
        t = self.cfg.unroll_length
        logits, values = self.model(self._obs[:t].flatten(0, 1))
        loss, metrics = a2c_loss(
            logits, values, self._actions.flatten(), returns.flatten(),
            self.cfg.entropy_cost, self.cfg.value_loss_coef,
        )
        self.optimizer.zero_grad(set_to_none=False)
        loss.backward()
        if self.accumulator is not None:
            # Eq. 8 takes gⁱ = ∇f(θⁱ) as it is: observe copies it before the clip rescales it
            # in place (the clip only shapes the step Δθⁱ the path then takes).
            self.accumulator.observe(loss.detach(), self._meta_params, self._meta_grads)
        if self.cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        self._obs[0].copy_(self._obs[t])  # next unroll starts from the bootstrap obs
        self._metric_sum += torch.stack(tuple(metrics))
        self._metric_updates += 1
        self.updates += 1

    def close(self) -> None:
        """Close the environments."""
        for group in self.envs:
            group.close()

    def _report(self, since_steps: int, since_time: float) -> TrainReport:
        """Convert accumulated metrics to floats (the only host sync, once per report)."""
        means = (self._metric_sum / max(self._metric_updates, 1)).tolist()
        self._metric_sum.zero_()
        self._metric_updates = 0
        elapsed = max(time.perf_counter() - since_time, 1e-9)
        return TrainReport(
            agent_steps=self.agent_steps, updates=self.updates, episodes=self._episodes.pop(),
            policy_loss=means[0], value_loss=means[1], entropy=means[2],
            steps_per_second=(self.agent_steps - since_steps) / elapsed,
        )

    def train(self, total_agent_steps: int, report_every_updates: int) -> Iterator[TrainReport]:
        """Train until `agent_steps >= total_agent_steps` (a total, so calls can be chained).

        Yields a report every `report_every_updates` updates and a final partial one if updates
        remain unreported. The caller may stop consuming at any yield; state stays consistent.
        """
        if report_every_updates < 1:
            raise ValueError("report_every_updates must be >= 1")
        since_steps, since_time, pending = self.agent_steps, time.perf_counter(), 0
        while self.agent_steps < total_agent_steps:
            self.update()
            pending += 1
            if pending == report_every_updates:
                yield self._report(since_steps, since_time)
                since_steps, since_time, pending = self.agent_steps, time.perf_counter(), 0
        if pending:
            yield self._report(since_steps, since_time)


@torch.no_grad()
def truncated_values(model: nn.Module, info: dict, envs: np.ndarray,
                     device: torch.device) -> Tensor:
    """V of the last observation of the environments ``envs`` that a time limit just cut.

    A time limit ends the episode but not its MDP, so its return bootstraps from its last
    observation, ``info["final_obs"]`` (the env contract; SAME_STEP autoreset has already
    replaced the observation returned).
    """
    if "final_obs" not in info:
        raise KeyError("a truncated episode needs info['final_obs'] to bootstrap from (the "
                       "env contract, leap_rl/envs/atari.py)")
    final = np.stack([np.asarray(info["final_obs"][i]) for i in envs])
    _, values = model(torch.from_numpy(final).to(device))
    return values.float()


def _column_slices(envs) -> list[slice]:
    """The batch columns (environments) each vector env of ``envs`` holds, in order."""
    slices, start = [], 0
    for env in envs:
        slices.append(slice(start, start + env.num_envs))
        start += env.num_envs
    return slices

