"""The vector env contract's common wrapper (contract: the docstring of ``leap_rl.envs.atari``).

Every vector env the learners see is a :class:`ContractWrapper`: factory seed on the first reset,
checked int64 actions, float32 rewards, batched ``info["final_obs"]``, and the split-phase
``step_async``/``step_wait`` the A2C learner steps with (native send/recv underneath where the
backend has it, a plain ``step`` in ``step_wait`` elsewhere).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Discrete
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

__all__ = ["ContractWrapper"]


class ContractWrapper(VectorWrapper):
    """Applies the factory seed on the first reset and normalises actions and rewards."""

    def __init__(self, env: VectorEnv, seed: int) -> None:
        super().__init__(env)
        self._pending_seed: int | None = seed
        self._pending_actions: np.ndarray | None = None
        self._split_phase = hasattr(env, "send")  # ale-py's AtariVectorEnv: send + recv
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.SAME_STEP}
        self.action_space.seed(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset all sub-environments (with the factory seed if none was ever given)."""
        if self._pending_actions is not None:  # a step in flight finishes first
            self.step_wait()
        if seed is None:
            seed = self._pending_seed
        self._pending_seed = None
        obs, info = self.env.reset(seed=seed, options=options)
        return self._obs(obs), info

    def step(self, actions):
        """Step all sub-environments; rewards come back as raw float32."""
        self.step_async(actions)
        return self.step_wait()

    def step_async(self, actions) -> None:
        """Start stepping with ``actions``; :meth:`step_wait` returns what :meth:`step` would.

        The native backend emulates in its own threads meanwhile, so the caller can compute
        (act on other environments) before it waits. Other backends step in ``step_wait``.
        """
        if self._pending_actions is not None:
            raise RuntimeError("step_async() called twice without step_wait()")
        if isinstance(self.single_action_space, Discrete):
            actions = self._checked_actions(actions)
        if self._split_phase:
            self.env.send(actions)
        self._pending_actions = actions

    def step_wait(self):
        """Finish the step started by :meth:`step_async`; same return value as :meth:`step`."""
        actions, self._pending_actions = self._pending_actions, None
        if actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        if self._split_phase:
            obs, rewards, terminated, truncated, info = self.env.recv()
        else:
            obs, rewards, terminated, truncated, info = self.env.step(actions)
        done = np.logical_or(terminated, truncated)
        if done.any() and "final_obs" in info:
            info["final_obs"] = self._final_obs(info["final_obs"], obs, done)
            info["_final_obs"] = done
        return self._obs(obs), np.asarray(rewards, np.float32), terminated, truncated, info

    def _checked_actions(self, actions) -> np.ndarray:
        """Discrete actions as an int64 array of shape (num_envs,), each in range."""
        # The native backend only accepts int32/int64 arrays of that shape, and it hangs
        # (ale-py 0.12.1) on an out-of-range action instead of raising.
        actions = np.asarray(actions).astype(np.int64, copy=False).reshape(self.num_envs)
        n = self.single_action_space.n
        if actions.min() < 0 or actions.max() >= n:
            raise ValueError(f"actions must lie in [0, {n}), got {actions.tolist()}")
        return actions

    def _obs(self, obs):
        """Convert a batch of backend observations to the contract layout."""
        return obs

    def _final_obs(self, final_obs, obs, done):
        """Batch ``final_obs`` into one array; rows of unfinished envs hold the current obs."""
        if final_obs.dtype != object:  # native backend: already a full batch
            return self._obs(final_obs)
        batch = np.array(obs, copy=True)
        for i in np.flatnonzero(done):
            batch[i] = final_obs[i]
        return self._obs(batch)
