#!/usr/bin/env bash
# The README's picture of TensorBoard (docs/img/tensorboard.png): a real smoke meta-training,
# `tensorboard --logdir` on it, and a headless Chromium screenshot of the Custom Scalars
# dashboard (objective/ and validation/ first, docs/tensorboard.md). Needs Chromium
# (Debian: apt-get install chromium). Stops only the TensorBoard it started, by pid.
#
#   bash scripts/tensorboard_screenshot.sh                  # trains runs/screenshot-smoke first
#   RUN=runs/smoke bash scripts/tensorboard_screenshot.sh   # an existing run directory
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUN=${RUN:-}
OUT=${OUT:-docs/img/tensorboard.png}
BROWSER=${BROWSER:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$BROWSER" ] || { echo "no Chromium found (apt-get install chromium)" >&2; exit 2; }

if [ -z "$RUN" ]; then
  RUN=runs/screenshot-smoke
  "$BIN/leap-rl" train configs/smoke.yaml --out "$RUN" --force --set meta.meta_steps=4
fi
PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/tensorboard" --logdir "$RUN" --host 127.0.0.1 --port "$PORT" > /tmp/tensorboard-screenshot.log 2>&1 &
TB=$!
trap 'kill $TB 2>/dev/null || true' EXIT
for _ in $(seq 60); do  # TensorBoard answers once it has loaded the event files
  curl -sf "http://127.0.0.1:$PORT/data/plugins_listing" > /dev/null && break
  sleep 1
done
mkdir -p "$(dirname "$OUT")"
"$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1100 \
  --virtual-time-budget=20000 --screenshot="$OUT" \
  "http://127.0.0.1:$PORT/?darkMode=false#custom_scalars" 2> /tmp/chromium-screenshot.log
echo "wrote $OUT from $RUN"
