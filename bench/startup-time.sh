#!/usr/bin/env bash
# Start-up time and memory as a newcomer sees them: `npm start` with embedded storage (no
# DATABASE_URL, no REDIS_URL), first with a new DATA_DIR, then restarting on the last one.
#   bash bench/startup-time.sh [runs]    (default 3 first starts, then 3 restarts; medians at the end)
# Per run: milliseconds from `npm start` to health SERVING; then, SETTLE_S seconds later (default 10),
# the server process's resident memory (VmRSS) and its peak so far (VmHWM), from /proc/PID/status,
# in MB of 10^6 bytes.
# PORT (default 18090) must be free. Each server is stopped with SIGTERM after its run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
port="${PORT:-18090}"
settle="${SETTLE_S:-10}"
work="$(mktemp -d)"
npm_pid=""
stop_server() {
  # Only what this script started: npm, the shell it runs the command in, and the server.
  [ -n "$npm_pid" ] || return 0
  local pids
  pids="$npm_pid $(descendants "$npm_pid")"
  kill -TERM $pids 2>/dev/null || true
  wait "$npm_pid" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 $pids 2>/dev/null || break
    sleep 0.05
  done
  npm_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

descendants() { # every process below $1
  local child
  for child in $(pgrep -P "$1" || true); do
    echo "$child"
    descendants "$child"
  done
}

server_pid() { # the `node … dist/server/main.js` process below npm (not the shell that runs it)
  local pid
  for pid in $(descendants "$npm_pid"); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = node ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'dist/server/main.js'; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

status_mb() { # $1 pid, $2 field (VmRSS, VmHWM): megabytes (10^6 bytes)
  awk -v field="$2:" '$1 == field { printf "%d", $2 * 1024 / 1000000 }' "/proc/$1/status"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

one() { # $1 data dir, $2 kind (first|restart), $3 label
  local started ended ms pid rss hwm
  if curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
    echo "port $port is taken: set PORT" >&2
    exit 1
  fi
  started=$(date +%s%N)
  DATA_DIR="$1" PORT=$port GRPC_PORT=off METRICS_PORT=off timeout 240 npm start >"$work/server.log" 2>&1 &
  npm_pid=$!
  ms=""
  while [ $(( ($(date +%s%N) - started) / 1000000000 )) -lt 180 ]; do
    # Quoted: "NOT_SERVING" must not count.
    if curl -s -m 1 -H 'content-type: application/json' -H 'connect-protocol-version: 1' -d '{}' \
      "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>/dev/null | grep -q '"SERVING"'; then
      ended=$(date +%s%N)
      ms=$(((ended - started) / 1000000))
      break
    fi
    kill -0 "$npm_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$ms" ]; then
    echo "$3: the server never answered SERVING; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep "$settle"
  pid=$(server_pid)
  rss=$(status_mb "$pid" VmRSS)
  hwm=$(status_mb "$pid" VmHWM)
  printf '%-10s %6d ms to SERVING   idle RSS %4d MB   peak RSS (VmHWM) %4d MB\n' "$3" "$ms" "$rss" "$hwm"
  echo "$ms $rss $hwm" >>"$work/$2"
  stop_server
}

summary() { # $1 kind
  printf 'median of %d %-8s %6d ms to SERVING   idle RSS %4d MB   peak RSS (VmHWM) %4d MB\n' \
    "$(wc -l <"$work/$1")" "$1" \
    "$(cut -d' ' -f1 "$work/$1" | median)" "$(cut -d' ' -f2 "$work/$1" | median)" "$(cut -d' ' -f3 "$work/$1" | median)"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; node $(node --version); idle figures ${settle} s after SERVING"
for i in $(seq 1 "$runs"); do one "$work/data-$i" first "first $i"; done
for i in $(seq 1 "$runs"); do one "$work/data-$runs" restart "restart $i"; done
summary first
summary restart
echo "goals: idle RSS <= 250 MB, peak RSS <= 320 MB, start-up < 5000 ms (first start and restart)"
