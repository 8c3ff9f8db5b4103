"""Agent layer: the actor-critic network and the A2C inner learner with the Leap hook."""

from leap_rl.agent.a2c import A2CLearner, TrainReport, resolve_device
from leap_rl.agent.config import A2CConfig
from leap_rl.agent.losses import A2CMetrics, a2c_loss, nstep_returns
from leap_rl.agent.network import (
    ActorCritic,
    MinAtarEncoder,
    MLPEncoder,
    Nature2013Encoder,
    build_actor_critic,
    encoder_state,
    load_encoder,
    meta_parameters,
    reset_heads,
)

__all__ = [
    "A2CConfig",
    "A2CLearner",
    "A2CMetrics",
    "ActorCritic",
    "MinAtarEncoder",
    "MLPEncoder",
    "Nature2013Encoder",
    "TrainReport",
    "a2c_loss",
    "build_actor_critic",
    "encoder_state",
    "load_encoder",
    "meta_parameters",
    "nstep_returns",
    "reset_heads",
    "resolve_device",
]
