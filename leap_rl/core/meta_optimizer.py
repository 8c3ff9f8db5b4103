"""The outer loop's optimizer: holds the initialization θ⁰ and steps it with Adam.

Algorithm 1, line 13 of the paper takes a plain gradient step θ⁰ ← θ⁰ − β/|B| · ∇F̄. The paper
names Adam for the meta update only in its Multi-CV experiment (appendix E, constant learning
rate 0.01); appendix F (Atari) names no meta-optimizer. Adam here, on the same mean
meta-gradient (1/|B|) Σ_τ Gτ, is this project's choice (``meta.learning_rate``, ``meta.betas``).
Pure torch: no Ray, no gym.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from leap_rl.core.remedies import reset_entries


class MetaOptimizer:
    """θ⁰ (named tensors) plus the Adam state that moves it."""

    def __init__(self, init: Mapping[str, torch.Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if not init:
            raise ValueError("MetaOptimizer needs at least one parameter in the initialization")
        self._params = {k: torch.nn.Parameter(v.detach().clone()) for k, v in init.items()}
        self._adam = torch.optim.Adam(self._params.values(), lr=lr, betas=betas, eps=eps)
        self.steps_taken = 0

    @property
    def init(self) -> dict[str, torch.Tensor]:
        """A copy of θ⁰, detached, as named tensors."""
        return {k: p.detach().clone() for k, p in self._params.items()}

    def step(self, grad_sum: Mapping[str, torch.Tensor], num_tasks: int) -> dict[str, float]:
        """One Adam step of θ⁰ on ∇F̄ = grad_sum / num_tasks.

        A meta-gradient with a non-finite entry is refused: θ⁰ and the Adam state stay as they
        were and the result says ``skipped``. Returns the norms of ∇F̄ and of the update.
        """
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be ≥ 1, got {num_tasks}")
        if set(grad_sum) != set(self._params):
            raise KeyError(f"meta-gradient names {sorted(grad_sum)} differ from θ⁰'s "
                           f"{sorted(self._params)}")
        grads = {k: g.detach().to(self._params[k]).div(num_tasks) for k, g in grad_sum.items()}
        grad_norm = math.sqrt(sum(float(g.double().square().sum()) for g in grads.values()))
        if not math.isfinite(grad_norm):
            return {"grad_norm": grad_norm, "update_norm": 0.0, "skipped": True}
        before = self.init
        for k, p in self._params.items():
            p.grad = grads[k]
        threads = torch.get_num_threads()
        # One thread: a resumed run once differed from an uninterrupted one by ≤ 3e-7 in one
        # half of one tensor after a 2-thread step under load (docs/reliability.md); the step
        # is tiny next to a meta-step, so no parallel kernel is worth that risk.
        torch.set_num_threads(1)
        try:
            self._adam.step()
        finally:
            torch.set_num_threads(threads)
        self._adam.zero_grad(set_to_none=True)
        self.steps_taken += 1
        update_norm = math.sqrt(sum(float((p.detach() - before[k]).double().square().sum())
                                    for k, p in self._params.items()))
        return {"grad_norm": grad_norm, "update_norm": update_norm, "skipped": False}

    def moments(self) -> dict[str, list[torch.Tensor]]:
        """Adam's first and second moments per θ⁰ key (copies; zeros before the first step)."""
        out = {}
        for k, p in self._params.items():
            state = self._adam.state.get(p, {})
            out[k] = [state[m].detach().clone() if m in state else torch.zeros_like(p.detach())
                      for m in ("exp_avg", "exp_avg_sq")]
        return out

    def replace(self, init: Mapping[str, torch.Tensor],
                moments: Mapping[str, list[torch.Tensor]] | None = None) -> None:
        """Sets θ⁰ (and, where given and Adam has state, its moments) to new values, e.g. a
        remedy's (:mod:`leap_rl.core.remedies`); the step count stays."""
        with torch.no_grad():
            for k, p in self._params.items():
                p.copy_(init[k])
                state = self._adam.state.get(p)
                if moments is not None and state:
                    state["exp_avg"].copy_(moments[k][0])
                    state["exp_avg_sq"].copy_(moments[k][1])

    def reset_moments(self, changed: Mapping[str, torch.Tensor]) -> None:
        """Adam's moments set to 0 at the entries ``changed[key]`` marks (ReDo, Sokar et al.
        2023: a recycled weight starts without the history of the weight it replaces)."""
        self.replace(self.init, reset_entries(self.moments(), changed))

    def state_dict(self) -> dict:
        """θ⁰, Adam state and step count: everything needed to continue bit for bit."""
        return {"init": self.init, "adam": self._adam.state_dict(), "steps_taken": self.steps_taken}

    def load_state_dict(self, state: Mapping) -> None:
        """Restores what :meth:`state_dict` returned."""
        if set(state["init"]) != set(self._params):
            raise KeyError(f"checkpoint θ⁰ names {sorted(state['init'])} differ from "
                           f"{sorted(self._params)}")
        with torch.no_grad():
            for k, p in self._params.items():
                p.copy_(state["init"][k])
        self._adam.load_state_dict(state["adam"])
        self.steps_taken = int(state["steps_taken"])
