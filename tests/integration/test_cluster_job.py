"""The README's cluster path on one machine ("0. Try it on one machine"; issue 14).

One token-protected head on the loopback for the module, made with the README's commands:
`ray get-auth-token --generate`, then `ray start --head` with RAY_AUTH_MODE=token. It gets its own
temp dir, ports and HOME (so its ~/.ray/auth_token is not the user's), so that it never meets
another Ray instance on this machine. Two kinds of submission: without the token or with a wrong
one (refused, nothing runs) and with it (the README's job runs and writes its run directory).
Teardown stops exactly the processes this head started, by pid: never `ray stop`, which would
stop every Ray instance of this user on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds its processes in /proc"),
]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the environment's bin: ray and leap-rl, as after `make install`
RAY = str(BIN / "ray")
AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
# The README's smoke job, with budgets small enough for a test (one task of 80 agent steps).
SMALL = ["meta.meta_steps=1", "meta.meta_batch_size=1", "workers.num_workers=1",
         "meta.steps_per_task=80", "env.max_episode_frames=160", "workers.flush_every=1"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _env(home: Path, token_mode: bool, token: str | None = None) -> dict[str, str]:
    """A shell as the README's: the package's bin first on PATH (`source .venv/bin/activate`),
    HOME (where Ray keeps ~/.ray/auth_token), `export RAY_AUTH_MODE=token` if ``token_mode``, and
    RAY_AUTH_TOKEN, which takes precedence over the file, only if ``token`` is given."""
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS and k != "RAY_ADDRESS"}
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    if token_mode:
        env["RAY_AUTH_MODE"] = "token"
    if token is not None:
        env["RAY_AUTH_TOKEN"] = token
    return env


def _ray(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([RAY, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


# ---------------------------------------------------------------- the head's processes, by pid


def _process_table() -> dict[int, tuple[int, str, str]]:
    """pid → (parent pid, start time, command line) of every live process (zombies left out)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:  # it ended meanwhile
            continue
        if stat[0] != "Z":
            table[int(entry)] = (int(stat[1]), stat[19], cmdline)
    return table


def _head_processes(mark: str) -> dict[int, str]:
    """pid → start time of the processes whose command line names ``mark`` (this head's unique
    temp dir: GCS server, raylet, dashboard, monitors) and of all their descendants (workers,
    agents, the job's driver: their titles no longer name it)."""
    table = _process_table()
    found = {pid for pid, (_, _, cmd) in table.items() if mark in cmd and pid != os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _, _) in table.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return {pid: table[pid][1] for pid in found}


def _alive(processes: dict[int, str]) -> dict[int, str]:
    """Those of ``processes`` still running (same pid and start time: not a reused pid)."""
    table = _process_table()
    return {pid: t for pid, t in processes.items() if pid in table and table[pid][1] == t}


def _stop(mark: str, grace_s: float = 2.0) -> dict[int, str]:
    """SIGTERM to this head's processes, SIGKILL to those left after ``grace_s``; returns any
    still running after that."""
    processes = _head_processes(mark)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _alive(processes):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 5.0)
        while _alive(processes) and time.monotonic() < deadline:
            time.sleep(0.2)
    # A process the head started while it was being stopped: its parent was one of ours.
    return {**_alive(processes), **_head_processes(mark)}


# ---------------------------------------------------------------- the head


@pytest.fixture(scope="module")
def head():
    # Short and unique: Ray's socket paths under it must stay below the 107-byte limit, and the
    # path is how teardown finds this head's processes.
    temp = Path(tempfile.mkdtemp(prefix="leap-rl-head-", dir="/tmp"))
    home, stranger = temp / "home", temp / "stranger"  # the user's HOME, and one with no token
    home.mkdir()
    stranger.mkdir()
    env = _env(home, token_mode=True)
    generated = _ray(["get-auth-token", "--generate"], env=env)
    assert generated.returncode == 0, generated.stderr[-2000:]
    token = generated.stdout.strip()
    assert token and (home / ".ray" / "auth_token").read_text().strip() == token
    gcs, dashboard, client, agent, agent_grpc, metrics = _free_ports(6)
    started = _ray(["start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(gcs),
                    "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
                    "--ray-client-server-port", str(client),
                    "--dashboard-agent-listen-port", str(agent),
                    "--dashboard-agent-grpc-port", str(agent_grpc),
                    "--metrics-export-port", str(metrics), "--num-cpus", "2", "--num-gpus", "0",
                    "--include-dashboard=true", "--temp-dir", str(temp / "ray"),
                    "--disable-usage-stats"],
                   env=env)
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        yield SimpleNamespace(address=f"http://127.0.0.1:{dashboard}", home=home,
                              stranger=stranger, env=env)
    finally:
        left = _stop(str(temp))
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"processes of the test's Ray head still running: {sorted(left)}"


# ---------------------------------------------------------------- the tests


def _submit(env: dict[str, str], head, submission_id: str, entrypoint: list[str]):
    return _ray(["job", "submit", "--address", head.address, "--working-dir", ".",
                 "--submission-id", submission_id, "--no-wait", "--", *entrypoint], env=env)


def _job_list(head) -> str:
    listed = _ray(["job", "list", "--address", head.address], env=head.env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    return listed.stdout


def test_a_submission_without_the_token_or_with_a_wrong_one_is_refused(head, tmp_path):
    marker = tmp_path / "ran"
    cases = {"no-token": (_env(head.stranger, token_mode=False), "Unauthorized"),
             "wrong-token": (_env(head.stranger, token_mode=True, token="0" * 32), "Forbidden")}
    for submission_id, (env, refusal) in cases.items():
        result = _submit(env, head, submission_id, ["touch", str(marker)])
        output = result.stdout + result.stderr
        assert result.returncode != 0, f"{submission_id}: the head accepted the job:\n{output}"
        assert refusal in output, output[-2000:]
    listed = _job_list(head)
    assert "no-token" not in listed and "wrong-token" not in listed
    assert not marker.exists(), "a refused submission ran its entrypoint"


def test_the_readmes_job_runs_on_the_head_and_writes_its_run_directory(head, tmp_path):
    out = tmp_path / "run"
    env = head.env  # the README's shell: RAY_AUTH_MODE=token, the token in ~/.ray/auth_token
    entrypoint = ["leap-rl", "train", "configs/smoke.yaml", "--address", "auto", "--out", str(out)]
    for override in SMALL:
        entrypoint += ["--set", override]
    submitted = _submit(env, head, "leap-rl-smoke", entrypoint)
    assert submitted.returncode == 0, submitted.stdout[-2000:] + submitted.stderr[-2000:]

    # The README's next two commands: follow the logs until the job ends, then its status.
    logs = _ray(["job", "logs", "leap-rl-smoke", "--address", head.address, "--follow"], env=env,
                timeout=300)
    status = _ray(["job", "status", "leap-rl-smoke", "--address", head.address], env=env)
    assert "job 'leap-rl-smoke' succeeded" in status.stdout.lower(), (
        logs.stdout[-4000:] + status.stdout + status.stderr)
    assert "meta-step 1/1" in logs.stdout, logs.stdout[-4000:]  # progress, readable in the logs
    assert f"done: learned initialization in {out}/init/encoder.pt" in logs.stdout

    assert (out / "config.yaml").is_file()
    assert (out / "init" / "encoder.pt").stat().st_size > 0
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["ckpt-000001.pt"]
    rows = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["completed"]
