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


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible server (moto's server mode) on the loopback: its endpoint URL."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch, request):
    """A new, empty bucket on :func:`s3_server` as ``s3://NAME``; the AWS_* variables that both
    pyarrow and boto3 (TensorBoard's S3 reader) read point at the server for this test only."""
    import re
    import uuid

    boto3 = pytest.importorskip("boto3")
    for key, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    # The test's name (to find it in the server's log) and a random suffix: never shared.
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"{name}-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}"


# Test tiers: the folder a test lives in is its tier, and its marker (setup.cfg lists them), so
# `-m unit` and `tests/unit` select the same tests. A tier marker written on a test in another
# tier's folder is a contradiction and stops the collection. The cluster lints (they check
# cluster and Docker files and documented commands, not leap_rl's code) are marked so as well.
TIERS = ("unit", "component", "integration", "reliability")
LINTS = ("unit/test_cluster_launcher.py", "unit/test_cluster_kuberay.py",
         "unit/test_docker_image.py", "unit/test_cluster_docs.py")


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).parent
    for item in items:
        relative = item.path.relative_to(tests)
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
