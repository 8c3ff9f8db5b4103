#!/usr/bin/env bash
# GPU check for leap-rl (issue 9, item 4): one short script for a lent single-GPU box
# (H100/H200, 16 cores, NO network). Budget: under 5 minutes. Measures
#   1. inner-loop agent steps/s on CUDA (A2CTask in Ray worker actors: A2C + Leap hook on a real
#      Atari game, the paper's 32 envs × unroll 5) with 1, 2 and 4 workers sharing the GPU
#      through fractional GPUs (workers.num_gpus = 1/n);
#   1b. the same for one worker with inner.env_groups=2 (acting overlapped with emulation; on
#      the 2-core CPU machine it gained nothing, docs/benchmarks.md);
#   2. the Leap hook's overhead on CUDA (bench/leap_overhead_cuda.py);
#   3. a 2-meta-step run of configs/local_gpu.yaml (4 workers × 0.25 GPU).
# and ends with a summary table. Results go under $OUT (default ./gpu_check_out): gpu_check.log
# (everything), summary.txt, inner_gpu.json, local_gpu_tasks.jsonl, nvidia_smi.csv.
#
# WHAT IT EXPECTS ON THE GPU MACHINE (there is no network there, nothing can be pip-installed
# from an index): a python3 with CUDA torch (the lent image's /opt/torch/.venv python3 has torch
# 2.11+cu130, numpy, tensorboard, pyyaml, but NOT ray, ale-py, gymnasium or pydantic). Those
# come as wheels in .whl/ (git-ignored), prepared HERE, where pip works, once:
#     bash bench/gpu_check.sh --prepare        # fills .whl/ (cp312, manylinux x86_64)
# and carried:   run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=540)
# (expected about 4-5 min, not yet measured: step timeouts 180 + 90 + 60 + 210 s, plus the
# install and Ray starts).
# The script installs .whl/*.whl with pip --no-index --target /tmp/site and puts /tmp/site and
# the repo on PYTHONPATH. Ray's cp312 wheel is 75.6 MiB, over the 64 MiB a call may carry:
# --prepare drops its Java jars (ray/jars, 30.7 MiB; unused from Python), leaving ~45 MiB.
# Or point PYTHON at an interpreter that already has everything (PYTHON=/path/python3).
# Missing pieces are listed, and the script stops before measuring anything.
#
#     bash bench/gpu_check.sh --cpu-smoke      # the same steps, tiny and on the CPU (tests
#                                              # this script on a machine without a GPU)
# Not run on a GPU by its author (that task had no device machine).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-gpu}"
OUT="${OUT:-$ROOT/gpu_check_out}"
WORK="$(mktemp -d /tmp/gpu_check.XXXXXX)"
export RAY_USAGE_STATS_ENABLED=0 PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore

# ---- --prepare: download the wheels (run where pip can reach an index) ----------------------
if [[ "$MODE" == "--prepare" ]]; then
    PIP_PY="${PIP_PYTHON:-$ROOT/.venv/bin/python}"
    [[ -x "$PIP_PY" ]] || PIP_PY=python3
    mkdir -p .whl
    # Versions: those the tests run against (the local .venv), cp312 for the image's Python 3.12.
    PKGS=(ray==2.60.0 ale-py==0.12.1 gymnasium==1.2.2 farama-notifications==0.0.6
          pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
          typing-extensions==4.16.0 jsonschema==4.26.0 jsonschema-specifications referencing
          rpds-py)
    "$PIP_PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "${PKGS[@]}"
    "$PIP_PY" - <<'EOF'
import base64, glob, hashlib, os, zipfile
for path in glob.glob(".whl/ray-*.whl"):
    src = zipfile.ZipFile(path)
    if not any(n.startswith("ray/jars/") for n in src.namelist()):
        continue
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename.startswith("ray/jars/"):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                data = b"".join(line + b"\n" for line in data.splitlines()
                                if not line.startswith(b"ray/jars/"))
            dst.writestr(info, data)
    os.replace(tmp, path)
    print(f"stripped ray/jars from {path}: {os.path.getsize(path) / 2**20:.1f} MiB")
EOF
    du -ch .whl/*.whl | tail -1
    echo "carry .whl (the tree plus .whl must stay under 64 MiB)"
    exit 0
fi

SMOKE=0
[[ "$MODE" == "--cpu-smoke" ]] && SMOKE=1
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1

NAMES=(); STATUS=(); SECONDS_TAKEN=(); FIGURES=()
record() { NAMES+=("$1"); STATUS+=("$2"); SECONDS_TAKEN+=("$3"); FIGURES+=("$4"); }

summary() {
    {
        echo
        echo "== gpu_check summary ($(date -u +%F\ %T) UTC, $(hostname), mode $MODE)"
        printf '%-14s %-8s %7s  %s\n' step status seconds figure
        for i in "${!NAMES[@]}"; do
            printf '%-14s %-8s %7s  %s\n' "${NAMES[$i]}" "${STATUS[$i]}" \
                "${SECONDS_TAKEN[$i]}" "${FIGURES[$i]}"
        done
    } | tee "$OUT/summary.txt"
}
cleanup() {
    [[ -n "${SMI_PID:-}" ]] && kill "$SMI_PID" 2>/dev/null || true
    summary
    rm -rf "$WORK"
}
trap cleanup EXIT

# run_step NAME TIMEOUT_S CMD...: runs with a timeout, never stops the script; the FIGURE: lines
# the command prints become the summary's figure.
run_step() {
    local name="$1" limit="$2" start rc status figure
    shift 2
    echo; echo "== $name (timeout ${limit} s): $*"
    start=$(date +%s)
    set +e
    timeout -k 15 "$limit" "$@" 2>&1 | tee "$WORK/$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    case $rc in 0) status=OK ;; 124|137) status=TIMEOUT ;; *) status="FAIL($rc)" ;; esac
    figure=$(grep -h '^FIGURE:' "$WORK/$name.log" | sed 's/^FIGURE: *//' | paste -sd';' - || true)
    record "$name" "$status" "$(( $(date +%s) - start ))" "${figure:--}"
}

# ---- 0. environment ---------------------------------------------------------------------------
echo "== environment: $(uname -srm), $(nproc) cores, mode $MODE, repo $ROOT"
if [[ $SMOKE == 0 ]]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || \
        echo "MISSING: nvidia-smi / a GPU"
fi
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    if [[ $SMOKE == 1 && -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"
    else PY="$(command -v python3)"; fi
fi
if compgen -G ".whl/*.whl" > /dev/null; then
    echo "installing $(ls .whl/*.whl | wc -l) carried wheels into /tmp/site (no index)"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
start=$(date +%s)
set +e
"$PY" - "$SMOKE" <<'EOF'
import importlib, sys
smoke = sys.argv[1] == "1"
missing, seen = [], []
for mod in ("torch", "numpy", "yaml", "pydantic", "ray", "gymnasium", "ale_py", "tensorboard",
            "leap_rl"):
    try:
        m = importlib.import_module(mod)
        seen.append(f"{mod} {getattr(m, '__version__', '?')}")
    except Exception as err:  # noqa: BLE001 - report every problem at once
        missing.append(f"{mod} ({type(err).__name__}: {err})")
print(f"python {sys.version.split()[0]} at {sys.executable}: " + ", ".join(seen))
if "torch" not in " ".join(missing):
    import torch
    if torch.cuda.is_available():
        print(f"CUDA: {torch.cuda.get_device_name(0)}, torch CUDA {torch.version.cuda}")
    elif not smoke:
        missing.append(f"CUDA (torch {torch.__version__} sees no GPU)")
if not missing:
    import ale_py, gymnasium
    gymnasium.register_envs(ale_py)
    try:
        gymnasium.make("ALE/Pong-v5").close()
    except Exception as err:  # noqa: BLE001
        missing.append(f"Atari ROMs ({err})")
if missing:
    print("MISSING: " + "; ".join(missing))
    print("see the header of bench/gpu_check.sh: prepare .whl/ here with --prepare and carry it")
    sys.exit(3)
print("FIGURE: all imports and CUDA present" if not smoke else "FIGURE: imports present (CPU)")
EOF
rc=$?
set -e
if [[ $rc != 0 ]]; then
    record environment "MISSING" "$(( $(date +%s) - start ))" "see MISSING above"
    exit 3
fi
record environment OK "$(( $(date +%s) - start ))" "$("$PY" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU")')"

if [[ $SMOKE == 0 ]]; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 1 \
        > "$OUT/nvidia_smi.csv" 2>/dev/null &
    SMI_PID=$!
fi

# ---- 1. inner-loop steps/s with 1, 2, 4 workers sharing the GPU ------------------------------
cat > "$WORK/inner_gpu.py" <<'EOF'
"""Agent steps/s of A2CTask (A2C + Leap) in n Ray workers sharing one GPU (num_gpus = 1/n).

Each worker trains its own game from the same θ⁰ for --steps agent steps, streaming a chunk every
--flush-every updates; a task's rate is measured between its first and last chunk (so actor
start, CUDA context and env creation are left out). Aggregate = sum of the tasks' rates.
"""
import argparse, json, os, statistics, time

import ray

from leap_rl.config import load_config
from leap_rl.distributed.driver import initial_init
from leap_rl.distributed.protocol import Assignment
from leap_rl.backends.a2c import A2CTask
from leap_rl.distributed.worker import start_worker

p = argparse.ArgumentParser()
p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
p.add_argument("--steps", type=int, default=32_000)
p.add_argument("--flush-every", type=int, default=50)
p.add_argument("--gpus", type=float, default=1.0, help="0 = CPU run (smoke)")
p.add_argument("--num-envs", type=int, default=32)
p.add_argument("--env-groups", type=int, default=1, help="inner.env_groups")
p.add_argument("--json", default=None)
args = p.parse_args()
games = ["Pong", "Freeway", "Asterix", "Enduro"]
cores = os.cpu_count()
ray.init(address="local", num_cpus=cores, num_gpus=args.gpus, include_dashboard=False,
         log_to_driver=False)


@ray.remote
def device_of_actor_slot():
    import torch
    return (os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.is_available())


results = []
try:
    for n in args.workers:
        cpus = max(1, min(4, cores // n))
        gpus = args.gpus / n if args.gpus else 0.0
        cfg = load_config("configs/local_gpu.yaml", [
            f"meta.pool=[{', '.join(games)}]", f"inner.num_envs={args.num_envs}",
            f"workers.num_gpus={gpus}", f"workers.num_cpus={cpus}",
            f"workers.flush_every={args.flush_every}", f"inner.env_groups={args.env_groups}",
            "inner.device=" + ("cuda" if args.gpus else "cpu")])
        init, _ = initial_init(cfg)
        init_ref = ray.put(init)
        seen = ray.get([device_of_actor_slot.options(num_gpus=gpus, num_cpus=0).remote()
                        for _ in range(n)])
        workers = [start_worker(cfg, A2CTask()) for _ in range(n)]
        ray.get([w.where.remote() for w in workers], timeout=300)
        t0 = time.perf_counter()
        streams = {w.run.options(num_returns="streaming").remote(
            Assignment(0, i, games[i % len(games)], 1000 + i, args.steps), init_ref): i
            for i, w in enumerate(workers)}
        arrivals = {i: [] for i in range(n)}
        while streams:
            ready, _ = ray.wait(list(streams), num_returns=1, timeout=300)
            if not ready:
                raise TimeoutError("no chunk in 300 s")
            for s in ready:
                try:
                    chunk = ray.get(next(s), timeout=300)
                except StopIteration:
                    del streams[s]
                    continue
                arrivals[streams[s]].append((time.perf_counter(), chunk.progress.agent_steps))
        wall = time.perf_counter() - t0
        for w in workers:
            ray.kill(w, no_restart=True)
        rates = []
        for i, a in arrivals.items():
            if len(a) < 2:
                raise RuntimeError(f"task {i}: {len(a)} chunk(s); raise --steps")
            (t_a, s_a), (t_b, s_b) = a[0], a[-1]
            rates.append((s_b - s_a) / (t_b - t_a))
        row = {"workers": n, "num_gpus_each": gpus, "num_cpus_each": cpus,
               "cuda_visible_devices": [d for d, _ in seen], "cuda_in_worker": [c for _, c in seen],
               "steps_per_task": args.steps, "chunks_per_task": [len(a) for a in arrivals.values()],
               "per_task_steps_per_s": [round(r) for r in rates],
               "aggregate_steps_per_s": round(sum(rates)), "wall_s": round(wall, 1)}
        results.append(row)
        print(f"  n={n}: {gpus:.2f} GPU + {cpus} CPU each, CUDA in worker {row['cuda_in_worker']}: "
              f"per task {statistics.fmean(rates):,.0f} steps/s (min {min(rates):,.0f}), "
              f"aggregate {sum(rates):,.0f} steps/s, wall {wall:.1f} s", flush=True)
finally:
    ray.shutdown()
if args.json:
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)
base = results[0]["aggregate_steps_per_s"] / results[0]["workers"]
print(f"FIGURE: env groups {args.env_groups}: agent steps/s aggregate " + ", ".join(
    f"n={r['workers']} {r['aggregate_steps_per_s']:,}" for r in results)
    + " (per task " + ", ".join(f"{r['aggregate_steps_per_s'] / r['workers']:,.0f}"
                                 for r in results) + f"; ×{results[-1]['aggregate_steps_per_s'] / base:.2f} at n={results[-1]['workers']})")
EOF

if [[ $SMOKE == 1 ]]; then
    run_step inner_steps 300 "$PY" "$WORK/inner_gpu.py" --workers 1 2 --steps 2400 \
        --flush-every 5 --gpus 0 --num-envs 8 --json "$OUT/inner_gpu.json"
    run_step env_groups 200 "$PY" "$WORK/inner_gpu.py" --workers 1 --steps 2400 \
        --flush-every 5 --gpus 0 --num-envs 8 --env-groups 2 --json "$OUT/inner_gpu_groups.json"
    run_step leap_hook 120 "$PY" bench/leap_overhead_cuda.py --device cpu --reps 5 --warmup 1
    run_step local_gpu 300 "$PY" -m leap_rl.cli train configs/local_gpu.yaml \
        --out "$WORK/local_gpu" --set workers.num_gpus=0 --set workers.num_cpus=1 \
        --set workers.num_workers=2 --set meta.meta_batch_size=2 --set inner.num_envs=8 \
        --set meta.steps_per_task=800 --set workers.flush_every=5 --set inner.device=cpu
else
    run_step inner_steps 180 "$PY" "$WORK/inner_gpu.py" --workers 1 2 4 --steps 32000 \
        --flush-every 50 --gpus 1 --json "$OUT/inner_gpu.json"
    run_step env_groups 90 "$PY" "$WORK/inner_gpu.py" --workers 1 --steps 16000 \
        --flush-every 50 --gpus 1 --env-groups 2 --json "$OUT/inner_gpu_groups.json"
    run_step leap_hook 60 "$PY" bench/leap_overhead_cuda.py --device cuda --reps 200
    run_step local_gpu 210 "$PY" -m leap_rl.cli train configs/local_gpu.yaml \
        --out "$WORK/local_gpu"
fi
# The run's per-meta-step lines, and its task records, into the summary and $OUT.
if [[ -f "$WORK/local_gpu/tasks.jsonl" ]]; then
    cp "$WORK/local_gpu/tasks.jsonl" "$OUT/local_gpu_tasks.jsonl"
fi
steps_line=$(grep -ho 'meta-step [0-9]*/[0-9]* \[[^]]*\] *[0-9.]* s' "$WORK/local_gpu.log" 2>/dev/null \
    | sed 's/ \[[^]]*\] */ /' | paste -sd',' - || true)
if [[ -n "$steps_line" ]]; then
    FIGURES[${#FIGURES[@]}-1]="$steps_line"
fi
