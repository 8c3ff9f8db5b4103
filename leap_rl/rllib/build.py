"""Builds RLlib's PPO, APPO or IMPALA (``rllib.algorithm``) for one game on the new API stack,
starting from θ⁰.

Everything runs in the calling process by default — one local EnvRunner (``num_env_runners=0``)
stepping ``inner.num_envs`` environments and one local Learner (``num_learners=0``) — so a Ray
worker actor of meta-training holds a whole RLlib task, as it holds an A2C one.

Settings taken from the ``inner`` section, before ``rllib.training`` (passed to
``config.training(**rllib.training)``, so RLlib's own names and defaults apply) overrides any of
them:

    discount → gamma, learning_rate → lr (RLlib's optimizer is Adam), entropy_cost →
    entropy_coeff, value_loss_coef → vf_loss_coeff, max_grad_norm → grad_clip (global norm),
    num_envs × unroll_length → train_batch_size_per_learner.

``inner.num_envs`` and ``inner.unroll_length`` also set ``num_envs_per_env_runner`` and
``rollout_fragment_length``. Rewards are not clipped (RLlib's new stack has no such option).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from leap_rl.rllib.env import make_rllib_atari_env
from leap_rl.rllib.settings import config_class, derived_settings

if TYPE_CHECKING:
    from leap_rl.config import ExperimentConfig

EPISODES_ATTR = "_leap_rl_episodes"  # finished (return, length) pairs kept on each EnvRunner
ENV_ID = "leap_rl_rllib_atari"      # the env creator's name in RLlib's (Tune's) registry


def record_episode(*, episode, env_runner=None, prev_episode_chunks=(), **kwargs) -> None:
    """``on_episode_end`` callback: keeps the finished episode's full return and length."""
    chunks = [episode, *(prev_episode_chunks or [])]
    ret = float(sum(c.get_return() for c in chunks))
    # Not the chunks' lengths: with a local EnvRunner, PPO's learner connector appends a
    # bootstrap step (reward 0) to the very chunk objects kept for metrics. The last chunk's
    # env timestep counts from the reset.
    length = int(episode.t)
    if env_runner is not None:
        if not hasattr(env_runner, EPISODES_ATTR):
            setattr(env_runner, EPISODES_ATTR, [])
        getattr(env_runner, EPISODES_ATTR).append((ret, length))


def algorithm_config(game: str, cfg: ExperimentConfig, *, seed: int, leap: bool = True):
    """The RLlib AlgorithmConfig of one task (not yet validated or built)."""
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.tune.registry import register_env

    from leap_rl.rllib.learner import LEAP_KEY, LEARNERS
    from leap_rl.rllib.module import LeapActorCriticModule

    inner = cfg.inner
    if inner.encoder != "nature2013":
        raise ValueError("the RLlib backend builds the nature2013 encoder (inner.encoder)")
    register_env(ENV_ID, make_rllib_atari_env)
    gpu = inner.device == "cuda" or (inner.device == "auto" and torch.cuda.is_available())
    config = (
        config_class(cfg.rllib.algorithm)()
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .framework("torch")
        .environment(env=ENV_ID,
                     env_config={"game": game, **cfg.env.settings_for(game)})
        .env_runners(num_env_runners=0, num_envs_per_env_runner=inner.num_envs,
                     rollout_fragment_length=inner.unroll_length)
        .learners(num_learners=0, num_gpus_per_learner=1 if gpu else 0,
                  learner_class=LEARNERS[cfg.rllib.algorithm])
        .rl_module(rl_module_spec=RLModuleSpec(module_class=LeapActorCriticModule,
                                               model_config={"head_seed": seed}))
        .callbacks(on_episode_end=record_episode)
        .debugging(seed=seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=1)
    )
    config.training(**derived_settings(inner))
    config.training(**cfg.rllib.training)
    if leap:
        config.learners(learner_config_dict={LEAP_KEY: {
            "metric": cfg.leap.metric, "loss_in_manifold": cfg.leap.loss_in_manifold,
            "stabilizer": cfg.leap.stabilizer, "prefixes": list(inner.meta_parameters)}})
    return config


def build_algorithm(game: str, cfg: ExperimentConfig, *, seed: int,
                    init: Mapping[str, torch.Tensor] | None = None, leap: bool = True):
    """The built Algorithm, its encoder ← ``init`` (else a fresh seeded one), heads re-initialized
    (seeded), and every EnvRunner holding those weights before its first sample."""
    ensure_ray()
    torch.manual_seed(seed)  # a random encoder, when no init is given, is seeded too
    algo = algorithm_config(game, cfg, seed=seed, leap=leap).build_algo()
    try:
        set_initial_weights(algo, init, seed)
    except BaseException:
        algo.stop()
        raise
    return algo


def ensure_ray() -> bool:
    """Starts a private local Ray instance when none is running (RLlib would otherwise call a
    bare ``ray.init()``, which may join another cluster on the machine); True if it did."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(address="local", include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    return True


def set_initial_weights(algo, init: Mapping[str, torch.Tensor] | None, seed: int) -> None:
    """θ⁰ (or a fresh seeded encoder) and seeded heads into every Learner, then into every
    EnvRunner, synchronously."""
    from ray.rllib.core import COMPONENT_RL_MODULE, DEFAULT_MODULE_ID

    from leap_rl.agent.network import Nature2013Encoder
    from leap_rl.rllib.module import encoder_parameters, load_init

    if init is None:  # a fresh encoder drawn from the seed, the same on every replica
        torch.manual_seed(seed)
        probe = algo.learner_group.foreach_learner(
            lambda learner: {k: tuple(v.shape) for k, v in encoder_parameters(
                _module(learner.module[DEFAULT_MODULE_ID])).items()})
        shapes = next(iter(probe)).get()
        c, h, w = shapes["encoder.conv1.weight"][1], 84, 84
        fresh = Nature2013Encoder(c, input_hw=(h, w))
        init = {f"encoder.{k}": v.detach() for k, v in fresh.named_parameters()}
        if {k: tuple(v.shape) for k, v in init.items()} != shapes:
            raise ValueError(f"unexpected encoder shapes {shapes}")
    init = {k: v.detach().cpu() for k, v in init.items()}

    def load(learner):
        load_init(_module(learner.module[DEFAULT_MODULE_ID]), init, seed)
        return True

    for result in algo.learner_group.foreach_learner(load):
        result.get()
    state = algo.learner_group.get_state(components="learner/" + COMPONENT_RL_MODULE,
                                         inference_only=True)["learner"][COMPONENT_RL_MODULE]

    def receive(env_runner):  # weights seq no 0: a forced update
        if getattr(env_runner, "module", None) is not None:
            env_runner.set_state({COMPONENT_RL_MODULE: state})
        return True

    algo.env_runner_group.foreach_env_runner(receive, local_env_runner=True)


def _module(module):
    return module.unwrapped() if hasattr(module, "unwrapped") else module


def take_episodes(algo) -> list[tuple[float, int]]:
    """Episodes finished since the last call, on every EnvRunner: (return, length)."""

    def pop(env_runner):
        done = list(getattr(env_runner, EPISODES_ATTR, []))
        setattr(env_runner, EPISODES_ATTR, [])
        return done

    out = []
    for done in algo.env_runner_group.foreach_env_runner(pop, local_env_runner=True):
        out.extend(done)
    return out


def leap_flush(algo) -> dict[str, Any] | None:
    """The contributing Learner's flush (see ``LeapLearnerMixin.leap_flush``)."""
    results = [r.get() for r in algo.learner_group.foreach_learner(lambda l: l.leap_flush())]
    return next((r for r in results if r is not None), None)


def leap_pending(algo) -> int:
    """Optimizer steps observed since the last flush (0 when no Learner keeps Leap)."""
    results = [r.get() for r in algo.learner_group.foreach_learner(
        lambda l: l.leap_updates if getattr(l, "leap_accumulator", None) is not None else None)]
    return next((r for r in results if r is not None), 0)


def leap_total(algo) -> int:
    """Optimizer steps observed in all (0 when no Learner keeps Leap)."""
    results = [r.get() for r in algo.learner_group.foreach_learner(
        lambda l: l.leap_steps if getattr(l, "leap_accumulator", None) is not None else None)]
    return next((r for r in results if r is not None), 0)


def encoder_state(algo) -> dict[str, torch.Tensor]:
    """The Learner's current encoder parameters, as CPU copies named ``encoder.*``."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    from leap_rl.rllib.module import encoder_parameters

    def read(learner):
        module = _module(learner.module[DEFAULT_MODULE_ID])
        return {k: v.detach().cpu().clone() for k, v in encoder_parameters(module).items()}

    return next(iter(algo.learner_group.foreach_learner(read))).get()
