"""Lint: docker/Dockerfile. Its base image matches the Ray pin in setup.cfg and our Python;
every install is pinned (the base image's own versions, then docker/constraints.txt) and leaves
no build output; .dockerignore sends what the Dockerfile copies and nothing heavy.
"""

from __future__ import annotations

import re
import subprocess
import sys

from cluster_files import (
    PYTHON_TAG,
    ROOT,
    _docker_requirements,
    _dockerfile_base_image,
    _dockerfile_instructions,
    _dockerignored,
    _makefile_torch,
    _ray_pin,
    _setup_cfg,
)
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version


def test_dockerfile_base_image_matches_the_ray_pin_and_python():
    image, _ = _dockerfile_base_image()
    m = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-(py\d+)-(gpu|cpu|cu\d+)", image)
    assert m, f"base image {image!r} is not rayproject/ray:<version>-py<xy>-<gpu|cpu|cuXYZ>"
    version, python, _variant = m.groups()
    assert Version(version) in _ray_pin(), f"Ray {version} does not satisfy setup.cfg's pin"
    assert python == PYTHON_TAG
    assert Version("3.11") in SpecifierSet(_setup_cfg()["options"]["python_requires"])



def test_dockerfile_runs_as_ray_without_healthcheck_and_caches_dependencies():
    lines = _dockerfile_instructions()
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] == "ray", "the image must end as the base image's non-root user"
    assert not any(ln.startswith("HEALTHCHECK") for ln in lines)

    def first(predicate) -> int:
        return next(i for i, ln in enumerate(lines) if predicate(ln))

    setup_cfg_copied = first(lambda ln: ln.startswith("COPY") and "setup.cfg" in ln)
    deps_installed = first(lambda ln: ln.startswith("RUN") and "requirements.py requirements" in ln)
    source_copied = first(lambda ln: ln.startswith("COPY") and "leap_rl" in ln)
    assert setup_cfg_copied < deps_installed < source_copied, (
        "copy setup.cfg, install the dependencies, then copy the source (layer cache)")



def test_dockerfile_installs_exactly_setup_cfgs_requirements():
    """docker/requirements.py reads setup.cfg itself; it must read what setuptools reads."""
    out = subprocess.run([sys.executable, "docker/requirements.py", "requirements"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    options = _setup_cfg()["options"]
    assert out == list(options["install_requires"]) + list(options["extras_require"]["cluster"])



def test_image_versions_come_from_the_base_image_then_the_lock():
    pins = _docker_requirements().constraints(
        base_freeze=["numpy==1.26.4", "ray @ file:///home/ray/ray-2.60.0-cp311.whl", "-e /x",
                     "Pydantic==2.11.0"],
        lock=["# comment", "numpy==2.4.6", "pydantic==2.12.0", "torch==2.13.0"],
        ray_version="2.60.0")
    # The base image's versions win, Ray is pinned to its own, the lock adds what the base lacks.
    assert pins == ["Pydantic==2.11.0", "numpy==1.26.4", "ray==2.60.0", "torch==2.13.0"]



def test_the_lock_pins_every_requirement_within_setup_cfgs_ranges():
    lock = {}
    for line in (ROOT / "docker" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert canonicalize_name(name) not in lock, f"{name} pinned twice"
            lock[canonicalize_name(name)] = Version(version)
    for text in _docker_requirements().requirements():
        req = Requirement(text)
        version = lock.get(canonicalize_name(req.name))
        assert version is not None, f"docker/constraints.txt does not pin {req.name}"
        assert req.specifier.contains(version, prereleases=True), f"{req.name}=={version}: {req}"
    _, args = _dockerfile_base_image()
    torch_arg = next(ln.split("=", 1)[1] for ln in _dockerfile_instructions()
                     if ln.startswith("ARG TORCH_VERSION="))
    assert str(lock["torch"]) == torch_arg == _makefile_torch(), "one torch for tests and images"
    assert Version(args["RAY_VERSION"]) == lock["ray"]



def test_every_install_in_the_image_is_pinned_and_leaves_no_build_output():
    lines = _dockerfile_instructions()
    installs = [i for i, ln in enumerate(lines) if ln.startswith("RUN") and "pip install" in ln]
    pins = next(i for i, ln in enumerate(lines) if ln.startswith("RUN") and "pip freeze" in ln)
    assert installs and pins < installs[0], "the base image's versions are read before any install"
    for i in installs:
        assert lines[i].count("pip install") == lines[i].count("-c /home/ray/leap-rl-build/pins.txt"), (
            f"an install without the pins: {lines[i]}")
    package = next(ln for ln in lines if ln.startswith("RUN") and "pip install --no-deps" in ln)
    assert "rm -rf build ./*.egg-info" in package, "the job's working_dir would carry build output"



def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_heavy():
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.strip().startswith("#")]
    sources = []
    for line in _dockerfile_instructions():
        if line.startswith("COPY"):
            tokens = [t for t in line.split()[1:] if not t.startswith("--")]
            sources += tokens[:-1]
    for source in sources:
        if not any(ch in source for ch in "*?["):  # wildcards may match nothing (README.m[d])
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not _dockerignored(source, patterns), f"COPY {source}: .dockerignore drops it"
    for heavy in [".venv", ".git", "runs", "tests", "leap_rl/__pycache__"]:
        assert _dockerignored(heavy, patterns), f".dockerignore lets {heavy} into the context"
