"""Shared by the cluster lints (tests/unit/test_cluster_*.py, test_docker_image.py): paths,
the pins of setup.cfg, and parsers of the files they check. Not a test module."""

from __future__ import annotations

import copy
import fnmatch
import functools
import importlib.util
import json
import math
import re
import shlex
import warnings
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

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
    """Parses a `leap-rl ...` command line with the package's real parser (leap_rl/cli/)."""
    from leap_rl.cli import build_parser

    assert argv and argv[0] == "leap-rl", f"{where}: not a leap-rl command: {argv}"
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as err:  # argparse reports on stderr and exits 2
        if err.code == 0:  # --version, --help: printed what was asked and exited
            return None
        pytest.fail(f"{where}: `{shlex.join(argv)}` does not parse with leap_rl.cli.build_parser() "
                    f"(exit {err.code}); is the subcommand or an option missing from the CLI?")


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


def _run_options(config: dict, node_type: str) -> list[str]:
    """`docker run` options of a node type, merged as Ray merges them (command_runner.run_init,
    StandardAutoscaler._get_node_specific_docker_config): run_options, then head_run_options on the
    head, else the worker_run_options of the node type's docker section, or the global ones."""
    docker = config["docker"]
    if node_type == config["head_node_type"]:
        return docker.get("run_options", []) + docker.get("head_run_options", [])
    merged = {**docker, **config["available_node_types"][node_type].get("docker", {})}
    return merged.get("run_options", []) + merged.get("worker_run_options", [])


def _iam_policies(doc: Path) -> list[dict]:
    """The JSON policy documents that docs' shell lines pass to `aws iam ... --policy-document`."""
    policies = []
    for line in _shell_lines(doc):
        argv = shlex.split(line)
        if argv[:2] == ["aws", "iam"] and "--policy-document" in argv:
            policies.append(json.loads(argv[argv.index("--policy-document") + 1]))
    return policies


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


def _docker_requirements():
    spec = importlib.util.spec_from_file_location("docker_requirements",
                                                  ROOT / "docker" / "requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _makefile_torch() -> str:
    return re.search(r"^TORCH_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)


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
