#!/usr/bin/env bash
# Start-up time as a newcomer sees it: from `npm start` to health SERVING, embedded storage.
#   bash bench/startup-time.sh [runs]    (default 3 fresh starts, then 3 restarts of the last one)
# Each run uses PORT=18090 and a temporary DATA_DIR; the server is stopped with SIGTERM after.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
port=18090
work="$(mktemp -d)"
trap 'pkill -TERM -f "dist/server/main.js" 2>/dev/null || true; rm -rf "$work"' EXIT

one() { # $1 data dir, $2 label
  local started ended
  started=$(date +%s%N)
  DATA_DIR="$1" PORT=$port GRPC_PORT=off METRICS_PORT=0 timeout 60 npm start >"$work/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do
    # Quoted: "NOT_SERVING" must not count.
    curl -s -m 1 -H 'content-type: application/json' -H 'connect-protocol-version: 1' -d '{}' \
      "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>/dev/null | grep -q '"SERVING"' && break
    sleep 0.05
  done
  ended=$(date +%s%N)
  printf '%-10s %6d ms to SERVING\n' "$2" $(( (ended - started) / 1000000 ))
  pkill -TERM -f "dist/server/main.js" || true
  wait "$pid" 2>/dev/null || true
  # npm may exit before the server has; the next run must not find this one still answering.
  for _ in $(seq 1 200); do
    curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null || break
    sleep 0.05
  done
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; node $(node --version)"
for i in $(seq 1 "$runs"); do one "$work/fresh-$i" "fresh $i"; done
for i in $(seq 1 "$runs"); do one "$work/fresh-$runs" "restart $i"; done
