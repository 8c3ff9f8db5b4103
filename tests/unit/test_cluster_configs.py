"""Launching on a Ray cluster (issue 5), checked offline and without cloud credentials.

- cluster/aws.yaml, cluster/gcp.yaml: Ray's own schema, after the same preparation `ray up` runs.
- cluster/kuberay.yaml: a RayJob (ray.io/v1) with a GPU worker group whose entrypoint is a real
  `leap-rl` command on a config in this repository.
- Who can run code (issue 14): token authentication on every node, the dashboard on the head's
  loopback (launcher) or behind a ClusterIP Service (KubeRay), no port but SSH opened to the world.
- GPU workers get `--gpus all`, the CPU head does not; AWS workers' `resolve:ssm` image id comes
  with an instance profile allowed to resolve it, created by commands in docs/cluster.md.
- docker/Dockerfile: its base image matches the Ray pin in setup.cfg and our Python (3.11); every
  install is constrained by the base image's own versions and docker/constraints.txt.
- README.md, docs/cluster.md: each `leap-rl` line parses with the real CLI parser, each `ray`
  line names a real subcommand with real options (Ray's click command group, no subprocess); the
  paths the cluster files' comments cite exist.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import importlib.util
import json
import math
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER_CONFIGS = ["cluster/aws.yaml", "cluster/gcp.yaml"]
KUBERAY = ROOT / "cluster" / "kuberay.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCS = [ROOT / "README.md", ROOT / "docs" / "cluster.md"]
TOKEN_FILE = {"/home/ray/.ray/auth_token": "~/.ray/auth_token"}  # local → Ray's default path
PAPER_CONFIG = ROOT / "configs" / "paper.yaml"
PYTHON_TAG = "py311"  # the Python we test with (3.11), as Ray's image tags spell it


def _setup_cfg():
    from setuptools.config.setupcfg import read_configuration

    with warnings.catch_warnings():  # e.g. README.md (long_description) not written yet
        warnings.simplefilter("ignore")
        return read_configuration(ROOT / "setup.cfg", ignore_option_errors=True)


def _ray_pin() -> SpecifierSet:
    for line in _setup_cfg()["options"]["install_requires"]:
        req = Requirement(line)
        if req.name == "ray":
            return req.specifier
    raise AssertionError("setup.cfg install_requires has no ray requirement")


@functools.lru_cache(maxsize=None)
def _paper_config():
    from leap_rl.config import load_config

    return load_config(PAPER_CONFIG)


def _tasks_that_fit(nodes: int, cpus_per_node: float, gpus_per_node: float, workers) -> float:
    """Worker actors of the experiment config that `nodes` nodes place at once."""
    per_node = math.inf
    if workers.num_cpus > 0:
        per_node = min(per_node, math.floor(cpus_per_node / workers.num_cpus + 1e-9))
    if workers.num_gpus > 0:
        per_node = min(per_node, math.floor(gpus_per_node / workers.num_gpus + 1e-9))
    return nodes * per_node


def _parse_leap_rl(argv: list[str], where: str):
    """Parses a `leap-rl ...` command line with the package's real parser (leap_rl/cli.py)."""
    from leap_rl.cli import build_parser

    assert argv and argv[0] == "leap-rl", f"{where}: not a leap-rl command: {argv}"
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as err:  # argparse reports on stderr and exits 2
        if err.code == 0:  # --version, --help: printed what was asked and exited
            return None
        pytest.fail(f"{where}: `{shlex.join(argv)}` does not parse with leap_rl.cli.build_parser() "
                    f"(exit {err.code}); is the subcommand or an option missing from the CLI?")


# ---------------------------------------------------------------- 1. Ray cluster-launcher configs


def _prepared(config: dict) -> dict:
    """What `ray up` checks before it touches a cloud, on a copy of ``config``.

    `ray up` (ray.autoscaler._private.commands.create_or_update_cluster → _bootstrap_config) runs:
      1. prepare_config: merges the provider's defaults.yaml, checks the docker section, fills each
         node type's min/max workers. Local files only: run here.
      2. provider.fillout_available_node_types_resources: on AWS asks EC2 (boto3, credentials) for
         the instance types' CPUs/GPUs. Not run: our configs declare `resources` explicitly, which
         this step leaves as they are (and which GCP requires anyway).
      3. validate_config: ray-schema.json (jsonschema, no extra keys anywhere) plus cross-field
         checks (head_node_type exists, Σ min_workers ≤ max_workers). Run here.
      4. provider.bootstrap_config: IAM roles, key pairs, subnets, security groups / service
         accounts through the cloud API. Needs credentials and boto3 / google-api-python-client,
         neither installed here: not run.
    """
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def _load(path: str) -> dict:
    with open(ROOT / path) as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS)
def test_launcher_config_passes_rays_validation(path):
    prepared = _prepared(_load(path))
    assert prepared["provider"]["type"] in {"aws", "gcp"}
    assert prepared["cluster_name"] == "leap-rl"


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS)
def test_launcher_config_has_a_cpu_head_and_autoscaling_spot_gpu_workers(path):
    config = _prepared(_load(path))
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"].get("GPU") == 0, "the head node must not take GPU tasks"
    assert head["resources"].get("CPU", 0) >= 1

    gpu_types = {name: t for name, t in types.items()
                 if name != config["head_node_type"] and t["resources"].get("GPU", 0) >= 1}
    assert len(gpu_types) == 1, f"expected one GPU worker type, got {sorted(gpu_types)}"
    (worker,) = gpu_types.values()
    assert worker["min_workers"] == 0, "GPU workers should scale from zero"
    node_config = worker["node_config"]
    if config["provider"]["type"] == "aws":
        assert node_config["InstanceMarketOptions"]["MarketType"] == "spot"
    else:
        scheduling = node_config["scheduling"]
        assert isinstance(scheduling, dict), "GCP's scheduling is one object, not a list"
        assert scheduling.get("provisioningModel") == "SPOT" or scheduling.get("preemptible")
        assert scheduling["onHostMaintenance"] == "TERMINATE"  # required with GPUs

    # Paper scale: the whole meta-batch of configs/paper.yaml runs at once at the maximum size.
    paper = _paper_config()
    nodes = min(worker["max_workers"], config["max_workers"])
    fit = _tasks_that_fit(nodes, worker["resources"].get("CPU", 0), worker["resources"]["GPU"],
                          paper.workers)
    assert fit >= paper.meta.meta_batch_size, (
        f"{path}: {nodes} GPU nodes place {fit} workers, the paper config runs "
        f"{paper.meta.meta_batch_size} tasks per meta-step")


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS)
def test_launcher_config_takes_everything_from_the_image(path):
    config = _prepared(_load(path))
    docker = config["docker"]
    head_image, worker_image = _kuberay_images()
    assert (docker["head_image"], docker["image"]) == (head_image, worker_image), (
        "the same images as cluster/kuberay.yaml: CPU on the head, GPU on the workers")
    assert docker["container_name"]
    # The image provides leap-rl and its dependencies: nothing to install at start-up, and the only
    # file copied is the token.
    assert config["setup_commands"] == [] and config["head_setup_commands"] == []
    assert config["worker_setup_commands"] == [] and config["file_mounts"] == TOKEN_FILE


def _run_options(config: dict, node_type: str) -> list[str]:
    """`docker run` options of a node type, merged as Ray merges them (command_runner.run_init,
    StandardAutoscaler._get_node_specific_docker_config): run_options, then head_run_options on the
    head, else the worker_run_options of the node type's docker section, or the global ones."""
    docker = config["docker"]
    if node_type == config["head_node_type"]:
        return docker.get("run_options", []) + docker.get("head_run_options", [])
    merged = {**docker, **config["available_node_types"][node_type].get("docker", {})}
    return merged.get("run_options", []) + merged.get("worker_run_options", [])


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS)
def test_gpu_workers_get_all_gpus_and_the_cpu_head_none(path):
    config = _prepared(_load(path))
    for name, node_type in config["available_node_types"].items():
        options = " ".join(_run_options(config, name)).split()
        gpus = [options[i + 1] for i, o in enumerate(options) if o == "--gpus"]
        if node_type["resources"].get("GPU", 0) > 0:
            assert gpus == ["all"], f"{path}: {name} has GPUs, its container must get them"
        else:
            assert gpus == [], f"{path}: {name} has no GPU; --gpus fails there"


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS)
def test_launcher_cluster_runs_with_token_auth_and_no_public_ray_port(path):
    config = _prepared(_load(path))
    for name in config["available_node_types"]:
        assert "--env RAY_AUTH_MODE=token" in _run_options(config, name), (
            f"{path}: {name}'s container runs without RAY_AUTH_MODE=token")
    # The token reaches Ray's default path in the container (the head passes it on to workers).
    assert config["file_mounts"] == TOKEN_FILE
    (head_start,) = [c for c in config["head_start_ray_commands"] if "ray start --head" in c]
    assert "--dashboard-host=127.0.0.1" in head_start.split(), "the dashboard must stay on loopback"
    for command in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        assert "0.0.0.0" not in command
    # No rule added to the launcher's security group (Ray's default: SSH from anywhere, all ports
    # within the group) and no firewall rule of ours on GCP.
    assert "security_group" not in config["provider"] and "firewall" not in json.dumps(config)


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS)
def test_launcher_start_commands_are_real_ray_commands(path):
    config = _load(path)
    for command in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        for part in command.split(";"):
            argv = shlex.split(part)
            if argv[:1] == ["ray"]:
                _check_ray_command(argv, f"{path}: {part.strip()}")


def _iam_policies(doc: Path) -> list[dict]:
    """The JSON policy documents that docs' shell lines pass to `aws iam ... --policy-document`."""
    policies = []
    for line in _shell_lines(doc):
        argv = shlex.split(line)
        if argv[:2] == ["aws", "iam"] and "--policy-document" in argv:
            policies.append(json.loads(argv[argv.index("--policy-document") + 1]))
    return policies


def test_aws_ssm_image_ids_come_with_a_profile_that_may_resolve_them():
    """EC2 resolves `resolve:ssm:` with the launcher's permissions; for workers that is the head's
    instance profile, and Ray's default one has no SSM permission."""
    config = _prepared(_load("cluster/aws.yaml"))
    region = config["provider"]["region"]
    parameters = {t["node_config"]["ImageId"].removeprefix("resolve:ssm:")
                  for t in config["available_node_types"].values()
                  if t["node_config"].get("ImageId", "").startswith("resolve:ssm:")}
    if not parameters:
        return  # pinned AMI ids: nothing to resolve
    head = config["available_node_types"][config["head_node_type"]]["node_config"]
    profile = head.get("IamInstanceProfile", {}).get("Name")
    assert profile, "workers with resolve:ssm need a head instance profile with ssm:GetParameters"
    docs = (ROOT / "docs" / "cluster.md").read_text()
    assert f"--instance-profile-name {profile}" in docs, f"docs/cluster.md must create {profile}"
    granted = [s for p in _iam_policies(ROOT / "docs" / "cluster.md") for s in p["Statement"]
               if s["Effect"] == "Allow" and "ssm:GetParameters" in s["Action"]]
    for parameter in parameters:
        arn = f"arn:aws:ssm:{region}::parameter{parameter}"
        assert any(fnmatch.fnmatchcase(arn, r) for s in granted for r in [s["Resource"]]), (
            f"no policy in docs/cluster.md allows ssm:GetParameters on {arn}")


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS + ["cluster/kuberay.yaml", "docker/Dockerfile"])
def test_paths_cited_in_comments_exist(path):
    comments = [ln for ln in (ROOT / path).read_text().splitlines() if ln.lstrip().startswith("#")]
    cited = re.findall(r"(?<![\w/.~-])((?:docs|cluster|docker|configs)/[\w./-]*\w)", "\n".join(comments))
    assert cited, f"{path} cites no documentation"
    for target in cited:
        assert (ROOT / target).exists(), f"{path} cites {target}, which does not exist"


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS)
@pytest.mark.parametrize("mutation", ["top-level key", "node-type key", "docker key"])
def test_a_misspelled_key_fails_validation(path, mutation):
    import jsonschema

    config = _load(path)
    if mutation == "top-level key":
        config["max_wrokers"] = config.pop("max_workers")
    elif mutation == "node-type key":
        worker = next(t for t in config["available_node_types"].values() if "max_workers" in t)
        worker["max_wrokers"] = worker.pop("max_workers")
    else:
        config["docker"]["pull_befor_run"] = config["docker"].pop("pull_before_run")
    with pytest.raises(jsonschema.ValidationError, match="wrokers|befor_run"):
        _prepared(config)


# ---------------------------------------------------------------- 2. KubeRay RayJob


def _kuberay_documents() -> list[dict]:
    with open(KUBERAY) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def _rayjob() -> dict:
    jobs = [d for d in _kuberay_documents() if d.get("kind") == "RayJob"]
    assert len(jobs) == 1, "cluster/kuberay.yaml must hold exactly one RayJob"
    return jobs[0]


def _kuberay_images() -> list[str]:
    spec = _rayjob()["spec"]["rayClusterSpec"]
    templates = [spec["headGroupSpec"]["template"]] + [g["template"] for g in
                                                       spec["workerGroupSpecs"]]
    return [c["image"] for t in templates for c in t["spec"]["containers"]]  # head's first


def test_kuberay_manifest_is_a_rayjob_that_cleans_up():
    job = _rayjob()
    assert job["apiVersion"] == "ray.io/v1"
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["ttlSecondsAfterFinished"] >= 0
    assert Version(spec["rayClusterSpec"]["rayVersion"]) in _ray_pin()
    head_image, worker_image = _kuberay_images()
    assert head_image == worker_image.replace("-gpu", "-cpu") != worker_image, (
        "one build of docker/Dockerfile: its CPU variant on the head, its GPU variant on workers")


def test_kuberay_runs_with_token_auth_behind_a_cluster_ip_service():
    spec = _rayjob()["spec"]["rayClusterSpec"]
    assert spec["authOptions"]["mode"] == "token"  # KubeRay >= 1.5.1 with Ray >= 2.52
    assert Version(spec["rayVersion"]) >= Version("2.52")
    assert spec["headGroupSpec"].get("serviceType", "ClusterIP") == "ClusterIP"
    assert not spec["headGroupSpec"].get("enableIngress", False)
    for document in _kuberay_documents():
        assert document["kind"] not in {"Service", "Ingress"}, "no extra way in to the head"


def test_kuberay_has_a_gpu_worker_group_and_a_head_without_gpus():
    spec = _rayjob()["spec"]["rayClusterSpec"]
    head = spec["headGroupSpec"]
    assert head["rayStartParams"].get("num-gpus") == "0"
    for container in head["template"]["spec"]["containers"]:
        assert "nvidia.com/gpu" not in container.get("resources", {}).get("limits", {})

    gpu_groups = []
    for group in spec["workerGroupSpecs"]:
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        if int(limits.get("nvidia.com/gpu", 0)) >= 1:
            gpu_groups.append((group, limits))
    assert len(gpu_groups) == 1, "expected one worker group with nvidia.com/gpu limits"
    group, limits = gpu_groups[0]
    tolerations = group["template"]["spec"].get("tolerations", [])
    assert any(t.get("key") == "nvidia.com/gpu" for t in tolerations)
    assert group["minReplicas"] == 0 and spec["enableInTreeAutoscaling"] is True

    paper = _paper_config()
    fit = _tasks_that_fit(group["maxReplicas"], float(limits["cpu"]),
                          float(limits["nvidia.com/gpu"]), paper.workers)
    assert fit >= paper.meta.meta_batch_size


def test_kuberay_entrypoint_is_a_real_leap_rl_command_on_a_repo_config():
    entrypoint = _rayjob()["spec"]["entrypoint"]
    argv = shlex.split(entrypoint)
    args = _parse_leap_rl(argv, "cluster/kuberay.yaml entrypoint")
    assert args.command == "train"
    assert (ROOT / args.config).is_file(), f"{args.config} is not in the repository"
    # The config it names is valid, not merely present.
    from leap_rl.config import load_config

    load_config(ROOT / args.config, getattr(args, "overrides", []))
    assert "--address" in argv
    # It runs in the image's copy of the repository, where that config path resolves.
    runtime_env = yaml.safe_load(_rayjob()["spec"]["runtimeEnvYAML"])
    workdirs = [ln.split()[1] for ln in _dockerfile_instructions() if ln.startswith("WORKDIR")]
    assert runtime_env["working_dir"] == workdirs[-1]
    copies = [ln.split() for ln in _dockerfile_instructions() if ln.startswith("COPY")]
    assert any(c[-2] == "configs" and c[-1].rstrip("/") in {".", "./configs"} for c in copies)


def test_kuberay_run_directory_is_on_the_claimed_volume():
    documents = _kuberay_documents()
    claims = {d["metadata"]["name"] for d in documents if d.get("kind") == "PersistentVolumeClaim"}
    head = _rayjob()["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    volumes = {v["name"]: v for v in head["volumes"]}
    argv = shlex.split(_rayjob()["spec"]["entrypoint"])
    out = argv[argv.index("--out") + 1]
    mounts = [m for c in head["containers"] for m in c.get("volumeMounts", [])
              if out.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mounts, f"--out {out} is not on a mounted volume: it would vanish with the cluster"
    claim = volumes[mounts[0]["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim in claims


# ---------------------------------------------------------------- 3. Dockerfile


def _dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, one per item: comments dropped, continuations joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instructions.append(pending + line)
        pending = ""
    return instructions


def _dockerfile_base_image() -> tuple[str, dict[str, str]]:
    args: dict[str, str] = {}
    for line in _dockerfile_instructions():
        if m := re.match(r"ARG\s+(\w+)(?:=(\S*))?$", line):
            args[m.group(1)] = m.group(2) or ""
        elif line.startswith("FROM "):
            image = line.split()[1]
            resolved = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                              lambda m: args[m.group(1) or m.group(2)], image)
            return resolved, args
    raise AssertionError("docker/Dockerfile has no FROM line")


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


def _docker_requirements():
    spec = importlib.util.spec_from_file_location("docker_requirements",
                                                  ROOT / "docker" / "requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def _makefile_torch() -> str:
    return re.search(r"^TORCH_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)


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


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, enough for our patterns: the last pattern matching the path or a parent."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            ignored = not negate
    return ignored


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


# ---------------------------------------------------------------- 4. docs: README


SHELL_FENCES = {"bash", "sh", "shell", "console", "zsh"}


def _shell_lines(path: Path) -> list[str]:
    """Command lines of the shell code blocks (```bash etc.; continuations joined, prompts and
    comments off). Other blocks (unlabelled file trees, output, Python) are not commands."""
    lines, block, pending = [], None, ""  # block: None outside a fence, else its language
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("```"):
            block = stripped[3:].strip().lower() if block is None else None
            continue
        if block not in SHELL_FENCES:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = re.sub(r"^\$\s+", "", (pending + stripped).strip())
        line = re.sub(r"(^|\s)#.*$", "", line).strip()  # a trailing `# comment`, as bash reads it
        pending = ""
        if line:
            lines.append(line)
    return lines


def _ray_cli():
    from ray.scripts.scripts import cli

    return cli


def _check_ray_command(argv: list[str], where: str):
    """`ray ...` must name subcommands that `ray --help` lists, with options they accept."""
    import click

    command, path, rest = _ray_cli(), ["ray"], argv[1:]
    while isinstance(command, click.Group):
        assert rest and not rest[0].startswith("-"), f"{where}: `{' '.join(path)}` needs a command"
        sub = command.commands.get(rest[0])
        assert sub is not None and not sub.hidden, (
            f"{where}: `{' '.join(path)} {rest[0]}` is not a command of Ray {_ray_version()}")
        command, path, rest = sub, path + [rest[0]], rest[1:]
    try:
        command.make_context(" ".join(path), list(rest))
    except click.ClickException as err:
        pytest.fail(f"{where}: `{shlex.join(argv)}`: {err.format_message()}")


def _ray_version() -> str:
    import ray

    return ray.__version__


def _doc_commands():
    cases = []
    for doc in DOCS:
        if doc.exists():
            for line in _shell_lines(doc):
                cases.append(pytest.param(doc.name, line, id=f"{doc.name}: {line[:60]}"))
    return cases


def test_cluster_docs_exist_and_cover_the_whole_workflow():
    text = "\n".join(doc.read_text() for doc in DOCS)
    for needed in ["ray up cluster/aws.yaml", "ray job submit", "--port-forward 6006",
                   "ray rsync-down cluster/aws.yaml", "init/encoder.pt",
                   "ray down cluster/aws.yaml", "kubectl apply -f cluster/kuberay.yaml",
                   "kubectl get rayjob", "kubectl logs", "kubectl port-forward", "kubectl cp",
                   "ray get-auth-token", "RAY_AUTH_MODE=token", "ray dashboard cluster/aws.yaml",
                   "pip install -e '.[cluster]'", "ray start --head"]:
        assert needed in text, f"README.md and docs/cluster.md lack {needed!r}"


@pytest.mark.parametrize("doc,line", _doc_commands())
def test_doc_command_is_real(doc, line):
    where = f"{doc}: {line}"
    try:
        argv = shlex.split(line)
    except ValueError as err:
        pytest.fail(f"{where}: not a valid shell line ({err})")
    argv[0] = re.sub(r"^(\S*/)?(\.venv/bin/)", "", argv[0])  # .venv/bin/leap-rl → leap-rl
    if argv[0] == "leap-rl":
        _parse_leap_rl(argv, where)
    elif argv[0] == "ray":
        _check_ray_command(argv, where)
        if "--" in argv and argv[argv.index("--") + 1:][:1] == ["leap-rl"]:  # job entrypoint
            args = _parse_leap_rl(argv[argv.index("--") + 1:], where)
            assert (ROOT / args.config).is_file()
    # Repository paths a command names must exist (cluster/…, configs/…, docker/…).
    for token in argv:
        if re.fullmatch(r"(cluster|configs|docker)/[\w./-]+", token):
            assert (ROOT / token).exists(), f"{where}: {token} is not in the repository"
