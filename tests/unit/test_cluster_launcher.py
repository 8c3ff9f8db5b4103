"""Lint: the Ray cluster-launcher configs (cluster/aws.yaml, cluster/gcp.yaml), offline.

Ray's own schema after the preparation `ray up` runs; a CPU head and autoscaling spot GPU
workers; everything from the image; `--gpus all` on GPU workers only; token authentication and no
public Ray port; real `ray` commands; AWS `resolve:ssm` image ids with a profile allowed to
resolve them (docs/cluster.md); the paths the files' comments cite exist.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex

import pytest
from cluster_files import (
    LAUNCHER_CONFIGS,
    ROOT,
    TOKEN_FILE,
    _check_ray_command,
    _iam_policies,
    _kuberay_images,
    _load,
    _paper_config,
    _prepared,
    _run_options,
    _tasks_that_fit,
)


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
