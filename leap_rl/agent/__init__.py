"""Agent layer: the actor-critic network and the A2C inner learner with the Leap hook.

Names are imported from their modules on first use (PEP 562), so that the config loader's
``from leap_rl.agent.config import A2CConfig`` does not import torch.
"""

from __future__ import annotations

from leap_rl.core.lazy import lazy_exports

# Public name -> the module of leap_rl.agent that defines it.
_HOMES = {
    "a2c": ("A2CLearner", "TrainReport", "resolve_device"),
    "config": ("A2CConfig",),
    "losses": ("A2CMetrics", "a2c_loss", "nstep_returns"),
    "network": ("ActorCritic", "MinAtarEncoder", "MLPEncoder", "Nature2013Encoder",
                "build_actor_critic", "encoder_state", "load_encoder", "meta_parameters",
                "reset_heads"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())  # noqa: PLE0605

