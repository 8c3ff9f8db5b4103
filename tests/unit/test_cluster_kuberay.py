"""Lint: cluster/kuberay.yaml, a RayJob (ray.io/v1) that cleans up, runs with token
authentication behind a ClusterIP Service, has a GPU worker group and a head without GPUs, and
whose entrypoint is a real `leap-rl` command on a config of this repository.
"""

from __future__ import annotations

import shlex

import yaml
from cluster_files import (
    ROOT,
    _dockerfile_instructions,
    _kuberay_documents,
    _kuberay_images,
    _paper_config,
    _parse_leap_rl,
    _ray_pin,
    _rayjob,
    _tasks_that_fit,
)
from packaging.version import Version


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
