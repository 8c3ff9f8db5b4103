"""RLlib's judgement of the RLlib backend's settings, before anything is built.

Which ``AlgorithmConfig`` class ``rllib.algorithm`` names, the training settings derived from
the ``inner`` section (the learner's batch, learning rate, discount, ...), and
:func:`check_settings`, which lets RLlib validate ``rllib.training``. Imports nothing of leap-rl
(``inner`` and ``rllib`` are any objects with the fields of the config's ``inner`` and ``rllib``
sections); RLlib itself is imported only when a function runs.
"""

from __future__ import annotations

from typing import Any


def config_class(algorithm: str):
    if algorithm == "PPO":
        from ray.rllib.algorithms.ppo import PPOConfig as cls
    elif algorithm == "APPO":
        from ray.rllib.algorithms.appo import APPOConfig as cls
    elif algorithm == "IMPALA":
        from ray.rllib.algorithms.impala import IMPALAConfig as cls
    else:
        raise ValueError(f"unknown RLlib algorithm {algorithm!r}; expected PPO, APPO or IMPALA")
    return cls


def derived_settings(inner) -> dict[str, Any]:
    """RLlib training settings derived from the ``inner`` section (before ``rllib.training``)."""
    return dict(gamma=inner.discount, lr=inner.learning_rate, entropy_coeff=inner.entropy_cost,
                vf_loss_coeff=inner.value_loss_coef, grad_clip=inner.max_grad_norm,
                grad_clip_by="global_norm",
                train_batch_size_per_learner=inner.num_envs * inner.unroll_length)


def check_settings(inner, rllib) -> None:
    """Lets RLlib judge ``rllib.training`` (with the settings derived from ``inner``): an unknown
    name, or a value RLlib's own validation refuses, raises ValueError with RLlib's message."""
    import logging

    config = config_class(rllib.algorithm)().api_stack(
        enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
    config.training(**derived_settings(inner))
    try:
        config.training(**rllib.training)
    except TypeError as err:  # an unknown keyword: RLlib's message names it
        raise ValueError(f"{rllib.algorithm}Config.training() refuses it: {err}") from None
    quiet = logging.getLogger("ray.rllib")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # RLlib warns about defaults here; errors are what matter
    try:
        config.validate()
    except Exception as err:  # noqa: BLE001 - RLlib raises ValueError, TypeError, KeyError …
        text = " ".join(str(err).split())
        raise ValueError(f"RLlib's {rllib.algorithm} validation refuses it: "
                         f"{text or type(err).__name__}") from None
    finally:
        quiet.setLevel(level)
