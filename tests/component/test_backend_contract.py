"""The backend contract (leap_rl.backends.Backend), checked on every backend listed here.

A new backend adds its name (and a config it runs) to ``BACKENDS``: these tests then check what
the driver, evaluation and ``train-task`` rely on. The RLlib backend has its own, heavier
integration tests (tests/integration/test_rllib_backend.py) on real Atari games.
"""

import io
import pickle

import pytest
import torch

from leap_rl.backends import names, register
from leap_rl.backends.base import backend_for
from leap_rl.backends.contract import Assignment, Progress
from leap_rl.config import load_config
from leap_rl.distributed.driver import initial_init

MINATAR = ["meta.pool=[MinAtar/Breakout, MinAtar/Asterix]", "meta.meta_batch_size=1",
           "inner.encoder=minatar", "inner.num_envs=4", "workers.flush_every=4"]
BACKENDS = {"a2c": MINATAR}


@pytest.fixture(params=sorted(BACKENDS))
def setup(request):
    cfg = load_config(None, BACKENDS[request.param] + [f"inner.backend={request.param}"])
    return backend_for(cfg), cfg, initial_init(cfg)[0]


def test_every_registered_backend_is_covered_here_or_by_its_own_integration_tests():
    assert set(names()) == set(BACKENDS) | {"rllib"}


def test_a_backend_accepts_its_config_and_describes_itself(setup):
    backend, cfg, _ = setup
    backend.check(cfg)
    assert backend.name == cfg.inner.backend and backend.describe(cfg).strip()


def test_a_task_streams_progress_whose_sum_is_the_meta_gradient(setup):
    backend, cfg, init = setup
    runner = pickle.loads(pickle.dumps(backend.task_runner()))  # the driver ships it
    chunks = list(runner(Assignment(0, 0, "MinAtar/Breakout", 3, 200), init, cfg))
    assert len(chunks) >= 2 and all(isinstance(c, Progress) for c in chunks)
    assert [c.final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    steps = [c.agent_steps for c in chunks]
    assert steps == sorted(steps) and steps[-1] >= 200
    for c in chunks:
        assert c.gradient.keys() == init.keys()
        assert all(g.device.type == "cpu" and g.shape == init[k].shape
                   for k, g in c.gradient.items())
    total = sum(g.abs().sum() for c in chunks for g in c.gradient.values())
    assert torch.isfinite(total) and total > 0
    assert chunks[-1].stats["segments"] > 0


def test_an_evaluation_run_streams_episodes_and_ends_done(setup):
    backend, cfg, init = setup
    for start in (init, None):
        items = list(backend.evaluation_run("MinAtar/Breakout", 3, 200, start, cfg, 0.0))
        assert items[-1]["done"] and items[-1]["agent_steps"] >= 200 and items[-1]["seconds"] > 0
        assert not any(i["done"] for i in items[:-1])
        assert all(len(e) == 2 for i in items for e in i["episodes"])


def test_a_standalone_run_writes_its_outputs(setup, tmp_path):
    backend, cfg, _ = setup
    summary = backend.train_task("MinAtar/Breakout", 80, cfg, out=tmp_path, seed=1,
                                 init_path=None, leap=True, report_every=4, stream=io.StringIO())
    assert summary["agent_steps"] >= 80 and summary["leap"]["segments"] > 0
    for name in ("config.yaml", "episodes.jsonl", "summary.json", "final_encoder.pt",
                 "meta_gradient.pt"):
        assert (tmp_path / name).is_file(), name


def test_the_registry_refuses_a_taken_name_and_names_the_known_ones():
    with pytest.raises(ValueError, match="already registered"):
        register("a2c", "x:y")
    with pytest.raises(ValueError, match="registered: a2c, rllib"):
        backend_for("jax")
