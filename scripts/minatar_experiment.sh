#!/usr/bin/env bash
# The MinAtar experiment of docs/results.md, stage by stage: meta-train Leap and Reptile,
# pretrain the joint baseline, evaluate all three against random init on the held-out games,
# render the reports. Every stage resumes: after an interruption, run the same command again
# and it continues where it stopped (meta-training from its last checkpoint, joint pretraining
# from its checkpoint, evaluation run by run). Needs: pip install 'leap-rl[minatar]'.
#
#   make minatar-experiment                 # or: bash scripts/minatar_experiment.sh
#   OUT=runs/other SEEDS=3 bash scripts/minatar_experiment.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/minatar}
BIN=${BIN:-.venv/bin}
SEEDS=${SEEDS:-10}
EVAL_STEPS=${EVAL_STEPS:-300000}
CONFIG=configs/minatar.yaml
HELD_OUT=MinAtar/Breakout,MinAtar/SpaceInvaders
# Reptile is Leap's accumulator with the energy metric, no loss term and no stabilizer.
REPTILE=(--set name=minatar_reptile --set leap.loss_in_manifold=false --set leap.stabilizer=false)

stage() { echo; echo "== $(date -u '+%F %T') $*"; }

meta_done() {  # a meta-training run whose init/encoder.pt holds the config's last meta-step
  "$BIN/python" - "$1" "$CONFIG" <<'PY'
import sys
from pathlib import Path

from leap_rl.io.artifacts import load_init
from leap_rl.config import load_config

path = Path(sys.argv[1]) / "init" / "encoder.pt"
steps = load_config(sys.argv[2]).meta.meta_steps
sys.exit(0 if path.is_file() and load_init(path)["meta_step"] >= steps else 1)
PY
}

meta_train() {  # DIR [--set ...]: resume the run DIR holds (checkpoint or not yet), else start it
  local dir=$1; shift
  if meta_done "$dir"; then echo "$dir: complete"; return; fi
  "$BIN/leap-rl" train "$CONFIG" --out "$dir" --resume-if-exists "$@"
}

START=$SECONDS
stage "meta-training Leap → $OUT/leap"
meta_train "$OUT/leap"
stage "meta-training Reptile → $OUT/reptile"
meta_train "$OUT/reptile" "${REPTILE[@]}"
stage "joint pretraining → $OUT/joint"
if [ -f "$OUT/joint/summary.json" ]; then echo "$OUT/joint: complete"
else "$BIN/leap-rl" pretrain-joint "$CONFIG" --out "$OUT/joint" --resume; fi
stage "evaluation on $HELD_OUT → $OUT/eval"
"$BIN/leap-rl" evaluate --config "$CONFIG" --games "$HELD_OUT" --seeds "$SEEDS" \
    --steps "$EVAL_STEPS" --init "leap=$OUT/leap/init/encoder.pt" \
    --init "reptile=$OUT/reptile/init/encoder.pt" --init "joint=$OUT/joint/init/encoder.pt" \
    --out "$OUT/eval" --resume
stage "reports"
"$BIN/leap-rl" report "$OUT/leap"
"$BIN/leap-rl" report "$OUT/reptile"
"$BIN/leap-rl" report "$OUT/eval"
stage "done in $(( (SECONDS - START) / 60 )) min"
