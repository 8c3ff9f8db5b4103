"""The RLlib backend (issue 7): Leap's hook in RLlib's torch Learners, θ⁰ in the RLModule and in
every EnvRunner, and meta-training end to end with RLlib's PPO on real ALE games.

The hook must see each optimizer step once — counted against RLlib's own number of trained
samples (PPO: ``num_module_steps_trained_lifetime`` / ``minibatch_size``, every minibatch has
exactly that many) and against a hook on the optimizers themselves — and its meta-gradient must
equal eq. 8 recomputed by hand from the recorded path (θⁱ, fⁱ, gⁱ), gⁱ the raw gradient even
when RLlib's clip rescales every step, on PPO, APPO and IMPALA.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from leap_rl.agent.network import Nature2013Encoder, build_actor_critic, load_encoder, reset_heads
from leap_rl.config import load_config
from leap_rl.io.artifacts import load_init

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
SMOKE_RLLIB = ROOT / "configs" / "smoke_rllib.yaml"
TINY = ["inner.num_envs=2", "inner.unroll_length=8", "env.max_episode_frames=400"]
CLIP = 1e-3  # inner.max_grad_norm → grad_clip: so small that every step is clipped

rllib_learner = pytest.importorskip("leap_rl.rllib.learner")


def theta0(seed: int = 123) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {f"encoder.{k}": v.detach().clone()
            for k, v in Nature2013Encoder(3).named_parameters()}


class RecordingLearner:
    """Mixed in before a Leap learner: the real hook, recording the path as observed (θⁱ, fⁱ),
    the raw gradients ∇f(θⁱ) as ``backward`` left them (before RLlib's clip), and the global
    norm of the gradients each optimizer step actually used."""

    def build(self) -> None:
        super().build()
        self.records: list[tuple[dict, float]] = []
        self.raw_grads: list[dict] = []
        self.used_norms: list[float] = []
        for optimizer in self._named_optimizers.values():
            optimizer.register_step_pre_hook(self._count)

    def _count(self, optimizer, *args) -> None:
        grads = [p.grad.flatten() for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        self.used_norms.append(float(torch.linalg.vector_norm(torch.cat(grads))))

    def compute_gradients(self, loss_per_module, **kwargs):
        grads = super().compute_gradients(loss_per_module, **kwargs)
        if grads:  # cloned now: the clip rescales these very tensors in place
            self.raw_grads.append({k: grads[self.get_param_ref(p)].detach().double().clone()
                                   for k, p in self._leap_params.items()})
        return grads

    def observe(self, loss, params, grads) -> None:
        self.records.append(({k: v.detach().double().clone() for k, v in params.items()},
                             float(loss)))
        super().observe(loss, params, grads)

    def path(self) -> list[tuple[dict, float, dict]]:
        """(θⁱ, fⁱ, raw gⁱ) of every observed step."""
        assert len(self.raw_grads) == len(self.records)
        return [(theta, f, g) for (theta, f), g in zip(self.records, self.raw_grads)]


class RecordingPPOLearner(RecordingLearner, rllib_learner.LeapPPOTorchLearner):
    """PPO's Leap learner, recording."""


class RecordingAPPOLearner(RecordingLearner, rllib_learner.LeapAPPOTorchLearner):
    """APPO's Leap learner, recording."""


class RecordingIMPALALearner(RecordingLearner, rllib_learner.LeapIMPALATorchLearner):
    """IMPALA's Leap learner, recording."""


RECORDING = {"APPO": RecordingAPPOLearner, "IMPALA": RecordingIMPALALearner}


def eq8(records, p: int, stabilizer: bool = True) -> dict[str, torch.Tensor]:
    """Σᵢ cⁱ over consecutive points (θⁱ, fⁱ, gⁱ), written out per parameter in float64."""
    total = {k: torch.zeros_like(v) for k, v in records[0][0].items()}
    for (theta, f, g), (theta_next, f_next, _) in zip(records, records[1:]):
        d_theta = {k: theta_next[k] - theta[k] for k in theta}
        d_f = f_next - f
        if stabilizer:
            d_f = -abs(d_f)
        length = (sum(float(d.square().sum()) for d in d_theta.values()) + d_f ** 2) ** 0.5
        scale = -2.0 if p == 2 else (-1.0 / length if length > 0 else 0.0)
        for k in total:
            total[k] += scale * (d_theta[k] + d_f * g[k])
    return total


def assert_eq8(flushed, learner, p: int) -> None:
    """The hook's meta-gradient equals eq. 8 summed by hand from the recorded path, with gⁱ the
    raw gradient although the clip (``CLIP``) rescaled the gradients of most steps."""
    clipped = [n == pytest.approx(CLIP, rel=1e-3) for n in learner.used_norms]
    assert max(learner.used_norms) <= CLIP * (1 + 1e-3) and 2 * sum(clipped) > len(clipped)
    expected = eq8(learner.path(), p)
    scale = max(float(v.abs().max()) for v in expected.values())
    assert scale > 0
    for k, v in expected.items():
        torch.testing.assert_close(flushed["gradient"][k].double(), v, rtol=1e-4,
                                   atol=1e-5 * scale, msg=k)


@pytest.mark.parametrize("metric,p", [("length", 1)])
def test_ppo_hook_sees_every_optimizer_step_and_sums_eq8(ray_local, metric, p):
    from ray.rllib.utils.metrics import ALL_MODULES, LEARNER_RESULTS

    from leap_rl.rllib.build import algorithm_config, leap_flush, set_initial_weights

    minibatch = 8
    cfg = load_config(SMOKE_RLLIB, [
        *TINY, f"leap.metric={metric}", f"inner.max_grad_norm={CLIP}",
        f"rllib.training={{num_epochs: 2, minibatch_size: {minibatch}}}"])
    init = theta0()
    algo = algorithm_config("Pong", cfg, seed=3).learners(
        learner_class=RecordingPPOLearner).build_algo()
    try:
        set_initial_weights(algo, init, 3)
        for _ in range(3):
            result = algo.train()
        learner = algo.learner_group._learner
        flushed = leap_flush(algo)
    finally:
        algo.stop()
    trained = result[LEARNER_RESULTS][ALL_MODULES]["num_module_steps_trained_lifetime"]
    steps = len(learner.records)
    assert steps > 6 and steps == len(learner.used_norms) == int(trained) // minibatch
    assert int(trained) % minibatch == 0
    assert flushed["updates"] == flushed["steps"] == steps
    assert flushed["stats"]["segments"] == steps - 1 and flushed["stats"]["skipped_segments"] == 0
    for k, v in init.items():  # point 0 of the path is θ⁰ itself
        assert torch.equal(learner.records[0][0][k], v.double()), k
    assert_eq8(flushed, learner, p)


@pytest.mark.parametrize("algorithm", ["APPO", "IMPALA"])
def test_hook_on_appo_and_impala_one_observation_per_optimizer_step(ray_local, algorithm):
    from leap_rl.rllib.build import algorithm_config, leap_flush, set_initial_weights

    cfg = load_config(SMOKE_RLLIB, [*TINY, f"rllib.algorithm={algorithm}", "rllib.training={}",
                                    f"inner.max_grad_norm={CLIP}"])
    algo = (algorithm_config("Pong", cfg, seed=5).learners(learner_class=RECORDING[algorithm])
            .reporting(min_time_s_per_iteration=0)).build_algo()
    try:
        set_initial_weights(algo, theta0(), 5)
        learner = algo.learner_group._learner
        while learner.leap_steps < 5:
            algo.train()
        # Updates run on IMPALA's learner thread: stop it between two steps before counting.
        learner._learner_thread.request_stop()
        learner._learner_thread.join(timeout=30)
        flushed = leap_flush(algo)
    finally:
        algo.stop()
    assert flushed["steps"] == len(learner.used_norms) == len(learner.records) >= 5
    assert flushed["stats"]["segments"] == flushed["steps"] - 1
    assert set(flushed["gradient"]) == set(theta0())
    assert_eq8(flushed, learner, p=2)  # smoke_rllib.yaml: leap.metric energy


def test_env_runners_act_with_theta0_before_the_first_sample(ray_local):
    """θ⁰ and the seeded heads reach a remote EnvRunner before it samples: its forward pass equals
    the A2C backend's network with the same θ⁰ and heads, on the same real frame."""
    from ray.rllib.core.columns import Columns

    from leap_rl.rllib.build import algorithm_config, set_initial_weights
    from leap_rl.rllib.env import make_rllib_atari_env

    cfg = load_config(SMOKE_RLLIB, [*TINY, "rllib.training.minibatch_size=8"])
    init, seed = theta0(7), 11
    env = make_rllib_atari_env({"game": "Pong", **cfg.env.model_dump()})
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        obs, *_ = env.step(env.action_space.sample())
    env.close()
    frame = torch.from_numpy(np.asarray(obs))[None]  # (1, 84, 84, 3) in [-1, 1]
    reference = build_actor_critic("nature2013", (3, 84, 84), 6)
    load_encoder(reference, init)
    reset_heads(reference, seed)
    pixels = ((frame + 1) * 128).round().to(torch.uint8).permute(0, 3, 1, 2)
    with torch.no_grad():
        want_logits, want_value = reference(pixels)

    algo = (algorithm_config("Pong", cfg, seed=seed)
            .env_runners(num_env_runners=1)).build_algo()
    try:
        set_initial_weights(algo, init, seed)

        def forward(env_runner):
            with torch.no_grad():
                out = env_runner.module.forward_exploration({Columns.OBS: frame})
                return out[Columns.ACTION_DIST_INPUTS], env_runner.module.compute_values(
                    {Columns.OBS: frame})

        remote = algo.env_runner_group.foreach_env_runner(forward, local_env_runner=False)
        learner_module = algo.learner_group._learner.module["default_policy"]
        with torch.no_grad():
            learner_logits = learner_module.forward_train({Columns.OBS: frame})[
                Columns.ACTION_DIST_INPUTS]
    finally:
        algo.stop()
    assert len(remote) == 1
    logits, value = remote[0]
    torch.testing.assert_close(logits, want_logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(value, want_value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(learner_logits, want_logits, rtol=1e-5, atol=1e-6)


def test_smoke_rllib_config_meta_trains_end_to_end(ray_local, tmp_path):
    from leap_rl.distributed.checkpoint import list_checkpoints
    from leap_rl.distributed.driver import MetaTrainer, initial_init
    from leap_rl.rllib import RLlibTask

    cfg = load_config(SMOKE_RLLIB, ["meta.steps_per_task=400", "env.max_episode_frames=160",
                                    "workers.flush_every=5", "workers.num_cpus=0.5"])
    trainer = MetaTrainer(cfg, tmp_path, stream=open(os.devnull, "w"))
    assert isinstance(trainer.runner, RLlibTask)
    summary = trainer.run()
    rows = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["meta_step"] for r in rows} == {0, 1}
    for r in rows:
        assert r["status"] == "completed" and r["steps"] == 400 and r["chunks_received"] >= 2
        assert r["d1"] > 0 and r["final_return"] is not None
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == [
        "ckpt-000001.pt", "ckpt-000002.pt"]
    learned = load_init(summary["init"])
    start, shape = initial_init(cfg)  # the A2C backend's θ⁰: same names, shapes and format
    assert learned["meta_step"] == 2 and learned["architecture"] == "nature2013"
    assert tuple(learned["observation_shape"]) == shape == (3, 84, 84)
    assert {k: v.shape for k, v in learned["parameters"].items()} == {
        k: v.shape for k, v in start.items()}
    moved = sum(float((learned["parameters"][k] - v).abs().sum()) for k, v in start.items())
    assert moved > 0


def test_evaluation_runs_use_rllib_for_leap_and_random_encoders(ray_local):
    """``evaluate --backend rllib``: both methods train with RLlib; the random run's encoder is
    the one the A2C backend draws from the same seed, the Leap run's is θ⁰."""
    from leap_rl.evaluation.runner import RunSpec, train_run
    from leap_rl.rllib.build import build_algorithm, encoder_state

    cfg = load_config(SMOKE_RLLIB, [*TINY, "rllib.training.minibatch_size=8"])
    for method in ("leap", "random"):
        items = list(train_run(RunSpec("Pong", method, 4, 32), theta0(), cfg.model_dump(), 1))
        assert items[-1]["done"] and items[-1]["agent_steps"] >= 32
    for init, seed in ((theta0(), 4), (None, 4)):
        algo = build_algorithm("Pong", cfg, seed=seed, init=init, leap=False)
        try:
            got = encoder_state(algo)
            assert algo.learner_group._learner.leap_accumulator is None
        finally:
            algo.stop()
        if init is None:
            torch.manual_seed(seed)
            a2c = build_actor_critic("nature2013", (3, 84, 84), 6)
            init = {f"encoder.{k}": v for k, v in a2c.encoder.named_parameters()}
        assert all(torch.equal(got[k], v) for k, v in init.items())
