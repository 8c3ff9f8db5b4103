"""Shared fixtures, and each test's tier marker from its folder. Markers are declared in setup.cfg
([tool:pytest])."""

from __future__ import annotations

from pathlib import Path

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


# Test tiers: the folder a test lives in is its tier, and its marker (setup.cfg lists them), so
# `-m unit` and `tests/unit` select the same tests. A tier marker written on a test in another
# tier's folder is a contradiction and stops the collection. tests/unit/test_cluster_configs.py
# is a lint (it checks cluster and Docker files and documented commands, not leap_rl's code) and
# is marked so as well.
TIERS = ("unit", "component", "integration", "reliability")
LINTS = ("unit/test_cluster_configs.py",)


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).parent
    for item in items:
        relative = Path(item.fspath).relative_to(tests)
        tier = relative.parts[0]
        if tier not in TIERS:
            continue
        others = {m.name for m in item.iter_markers() if m.name in TIERS and m.name != tier}
        if others:
            raise pytest.UsageError(f"{item.nodeid} is in tests/{tier}/ but marked "
                                    f"{', '.join(sorted(others))}: move it or drop the marker")
        item.add_marker(getattr(pytest.mark, tier))
        if relative.as_posix() in LINTS:
            item.add_marker(pytest.mark.lint)
