"""Agent layer: the actor-critic network and the A2C inner learner with the Leap hook.

Names are imported from their modules on first use (PEP 562), so that the config loader's
``from leap_rl.agent.config import A2CConfig`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module of leap_rl.agent that defines it.
_HOMES = {
    "a2c": ("A2CLearner", "TrainReport", "resolve_device"),
    "config": ("A2CConfig",),
    "losses": ("A2CMetrics", "a2c_loss", "nstep_returns"),
    "network": ("ActorCritic", "MinAtarEncoder", "MLPEncoder", "Nature2013Encoder",
                "build_actor_critic", "encoder_state", "load_encoder", "meta_parameters",
                "reset_heads"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_HOME_OF)  # noqa: PLE0605 - built from _HOMES, the one list of names


def __getattr__(name: str) -> Any:
    if name not in _HOME_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME_OF[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

