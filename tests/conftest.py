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
    boto3 = pytest.importorskip("boto3")
    for key, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    name = _bucket_name(request)
    boto3.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture(scope="session")
def gcs_server():
    """A local GCS emulator (gcp-storage-emulator, in the [test] extra) on the loopback, in memory:
    its endpoint URL. Never skipped: a missing emulator is an error, so gs:// stays tested."""
    import socket

    from gcp_storage_emulator.server import create_server

    with socket.socket() as probe:  # a free port: the emulator takes a number, not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def gs_bucket(gcs_server, monkeypatch, request):
    """A new, empty bucket on :func:`gcs_server` as ``gs://NAME``; STORAGE_EMULATOR_HOST points
    leap_rl's storage layer at the emulator for this test only."""
    import json
    import urllib.request

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server)
    name = _bucket_name(request)
    create = urllib.request.Request(f"{gcs_server}/storage/v1/b?project=test", method="POST",
                                    data=json.dumps({"name": name}).encode(),
                                    headers={"Content-Type": "application/json"})
    urllib.request.urlopen(create, timeout=10).close()
    return f"gs://{name}"


@pytest.fixture(params=["s3", pytest.param("gs", marks=pytest.mark.gcs)])
def bucket(request):
    """An empty bucket URI, once on the S3 server and once on the GCS emulator: the run-directory
    tests run against both object stores."""
    return request.getfixturevalue(f"{request.param}_bucket")


@pytest.fixture
def bucket_keys():
    """``keys(uri)``: every object under ``uri`` (relative to it, sorted) as the server itself
    lists them (boto3 for s3://, the emulator's JSON API for gs://), not through leap_rl's
    storage layer; the empty "directory" markers (keys ending in /) left out."""
    def keys(uri: str) -> list[str]:
        scheme, _, rest = uri.partition("://")
        bucket, _, prefix = rest.partition("/")
        if scheme == "s3":
            import boto3

            listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
            names = [o["Key"] for o in listing.get("Contents", [])]
        else:
            import json
            import os
            import urllib.parse
            import urllib.request

            query = urllib.parse.urlencode({"prefix": prefix})
            url = f"{os.environ['STORAGE_EMULATOR_HOST']}/storage/v1/b/{bucket}/o?{query}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                names = [o["name"] for o in json.load(answer).get("items", [])]
        return sorted(n[len(prefix):].lstrip("/") for n in names if not n.endswith("/"))

    return keys


def _bucket_name(request) -> str:
    """The test's name (to find it in the server's log) and a random suffix: never shared."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    return f"{name}-{uuid.uuid4().hex[:8]}"


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
