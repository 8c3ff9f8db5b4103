"""RLlib torch Learners that hand every optimizer step to a :class:`LeapAccumulator`.

RLlib's ``TorchLearner._uncompiled_update`` runs, for every minibatch of every epoch (PPO) or every
batch off the learner queue (IMPALA, APPO)::

    fwd_out = module.forward_train(batch)
    loss_per_module = compute_losses(...)
    grads = compute_gradients(loss_per_module)      # zero_grad, backward
    grads = postprocess_gradients(grads)            # clipping (grad_clip), in place
    apply_gradients(grads)                          # optimizer.step()

:class:`LeapLearnerMixin` keeps the total loss in ``compute_gradients`` and, in
``postprocess_gradients`` — before the clip, and so before the optimizer steps — observes
(fⁱ, θⁱ, gⁱ): the loss as computed, the meta-learned parameters as they are before the step, and
their raw gradients (eq. 8's gⁱ = ∇f(θⁱ), as the A2C learner passes them; the accumulator copies
them, so the clip that follows shapes only the step Δθⁱ). Every update calls
``postprocess_gradients`` once, right before ``apply_gradients``, so the accumulator sees every
optimizer step exactly once, on every algorithm.

The accumulator is made from ``config.learner_config_dict["leap"]`` (absent: plain training). With
several learner replicas (DDP), only replica 0 keeps one: they all walk the same path.
IMPALA and APPO update on a background thread; a lock makes :meth:`leap_flush` safe from the main
thread.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from ray.rllib.algorithms.appo.torch.appo_torch_learner import APPOTorchLearner
from ray.rllib.algorithms.impala.torch.impala_torch_learner import IMPALATorchLearner
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core import DEFAULT_MODULE_ID

from leap_rl.agent.network import meta_parameters
from leap_rl.core.leap import LeapAccumulator

LEAP_KEY = "leap"  # in config.learner_config_dict: {"metric", "loss_in_manifold", "stabilizer",
#                    "prefixes"}


class LeapLearnerMixin:
    """Mix in before an RLlib ``TorchLearner`` subclass (see the module docstring)."""

    def build(self) -> None:
        super().build()
        self._leap_lock = threading.Lock()
        self._leap_loss: torch.Tensor | None = None
        self.leap_updates = 0   # optimizer steps observed since the last flush
        self.leap_steps = 0     # optimizer steps observed in all
        settings = (self.config.learner_config_dict or {}).get(LEAP_KEY)
        self.leap_accumulator = None
        if settings is not None and self._learner_index == 0:
            module = self.module[DEFAULT_MODULE_ID]
            module = module.unwrapped() if hasattr(module, "unwrapped") else module
            self._leap_params = meta_parameters(module, settings.get("prefixes", ["encoder."]))
            self.leap_accumulator = self.make_accumulator(settings)

    def make_accumulator(self, settings: dict[str, Any]) -> LeapAccumulator:
        """The accumulator of this task (a seam for tests), with the config's Leap settings
        (``rllib.build.algorithm_config`` always passes all three: no second set of defaults
        here)."""
        return LeapAccumulator(metric=settings["metric"],
                               loss_in_manifold=settings["loss_in_manifold"],
                               stabilizer=settings["stabilizer"])

    def compute_gradients(self, loss_per_module, **kwargs):
        if self.leap_accumulator is not None:
            losses = list(loss_per_module.values())
            self._leap_loss = sum(losses).detach() if losses else None
        return super().compute_gradients(loss_per_module, **kwargs)

    def postprocess_gradients(self, gradients_dict):
        if self.leap_accumulator is not None and gradients_dict and self._leap_loss is not None:
            grads = {}
            for name, p in self._leap_params.items():
                g = gradients_dict.get(self.get_param_ref(p))
                grads[name] = torch.zeros_like(p) if g is None else g
            with self._leap_lock:
                self.observe(self._leap_loss, self._leap_params, grads)
                self.leap_updates += 1
                self.leap_steps += 1
            self._leap_loss = None
        return super().postprocess_gradients(gradients_dict)

    def observe(self, loss, params, grads) -> None:
        """Point i of the path: before the clip and the optimizer step (a seam for tests)."""
        self.leap_accumulator.observe(loss, params, grads)

    def leap_flush(self) -> dict[str, Any] | None:
        """Σ cⁱ since the last flush (CPU), the cumulative path statistics and the number of
        optimizer steps since the last flush; None on a replica without an accumulator."""
        if self.leap_accumulator is None:
            return None
        with self._leap_lock:
            gradient = {k: v.cpu() for k, v in self.leap_accumulator.flush().items()}
            stats, updates, self.leap_updates = self.leap_accumulator.stats(), self.leap_updates, 0
        return {"gradient": gradient, "stats": stats, "updates": updates,
                "steps": self.leap_steps}


class LeapPPOTorchLearner(LeapLearnerMixin, PPOTorchLearner):
    """PPO's torch Learner with the Leap hook."""


class LeapAPPOTorchLearner(LeapLearnerMixin, APPOTorchLearner):
    """APPO's torch Learner with the Leap hook."""


class LeapIMPALATorchLearner(LeapLearnerMixin, IMPALATorchLearner):
    """IMPALA's torch Learner with the Leap hook."""


LEARNERS = {"PPO": LeapPPOTorchLearner, "APPO": LeapAPPOTorchLearner,
            "IMPALA": LeapIMPALATorchLearner}
