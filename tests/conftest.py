"""Shared fixtures. Markers are declared in setup.cfg ([tool:pytest])."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """One private local Ray instance for the whole test session.

    ``address="local"`` starts a new instance even when another Ray cluster runs on the machine,
    so tests never attach to (or stop) someone else's cluster.
    """
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()
