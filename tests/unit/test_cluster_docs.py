"""Lint: the cluster commands of README.md and docs/cluster.md. Each `leap-rl` line parses with
the real CLI parser; each `ray` line names a real subcommand with real options (Ray's click
command group, no subprocess).
"""

from __future__ import annotations

import re
import shlex

import pytest
from cluster_files import (
    DOCS,
    ROOT,
    _check_ray_command,
    _doc_commands,
    _parse_leap_rl,
)


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
