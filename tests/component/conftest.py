"""Component tests train small models in-process, or run a command up to the start of Ray."""

import pytest
import torch


class RayStarted(Exception):
    """ray.init was called: the command passed every check a run makes before starting."""


@pytest.fixture
def no_ray(monkeypatch):
    """Makes ray.init raise :class:`RayStarted`; returns that class for ``pytest.raises``."""
    import ray

    def trap(*args, **kwargs):
        raise RayStarted

    monkeypatch.setattr(ray, "init", trap)
    return RayStarted


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small models: intra-op threads only add contention (50× slower on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
