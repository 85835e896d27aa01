#!/usr/bin/env bash
# Start-up time and memory as a newcomer sees them: `npm start` with embedded storage (no
# DATABASE_URL, no REDIS_URL), first with a new DATA_DIR, then restarting on the last one.
#   bash bench/startup-time.sh [runs]    (default 3 first starts, then 3 restarts; medians at the end)
# Per run:
#   - ms from `npm start` to health SERVING (the build step included, as `npm start` runs it);
#   - CPU s to SERVING: user + system time of npm and everything below it until then (the build,
#     the child that creates the embedded cluster, the server and its threads). On a shared machine
#     the wall time mostly measures the others' load; the CPU time does not;
#   - SETTLE_S seconds later (default 10), the server process's resident memory (VmRSS) and its
#     peak so far (VmHWM), from /proc/PID/status, in MB of 10^6 bytes.
# The server listens on a port of the system's choosing (PORT=0, read from its log), so nothing
# else on the machine can collide with it. Each server is stopped with SIGTERM after its run
# (SIGKILL if it has not exited 15 s later); every failure says why and shows the server's log.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
settle="${SETTLE_S:-10}"
# Longest wait for SERVING before the run counts as failed.
serving_timeout_s="${SERVING_TIMEOUT_S:-300}"
work="$(mktemp -d)"
npm_pid=""
clk_tck=$(getconf CLK_TCK)

fail() { # $1 message: says why, shows the server's log, stops
  echo "$1" >&2
  if [ -s "$work/server.log" ]; then
    echo "--- server log (last 40 lines) ---" >&2
    tail -n 40 "$work/server.log" >&2
  fi
  exit 1
}

descendants() { # every process below $1
  local child
  for child in $(pgrep -P "$1" || true); do
    echo "$child"
    descendants "$child"
  done
}

stop_server() {
  # Only what this script started: npm, the shell it runs the command in, and the server.
  [ -n "$npm_pid" ] || return 0
  local pids
  pids="$npm_pid $(descendants "$npm_pid")"
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 $pids 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL $pids 2>/dev/null || true
  wait "$npm_pid" 2>/dev/null || true
  npm_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

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

cpu_seconds() { # CPU time so far of $1 and everything below it, exited-and-reaped children included
  local pid ticks=0 fields
  for pid in "$1" $(descendants "$1"); do
    # Fields after the command name (which may hold spaces): utime stime cutime cstime are 12-15 there.
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    ticks=$((ticks + $(echo "$fields" | awk '{ print $12 + $13 + $14 + $15 }')))
  done
  awk -v t="$ticks" -v hz="$clk_tck" 'BEGIN { printf "%.1f", t / hz }'
}

listening_port() { # the public port from the server's "listening" log line, once it is there
  grep '"msg":"listening"' "$work/server.log" 2>/dev/null | grep -v '"listener":"internal"' | sed -n 's/.*"port":\([0-9]*\).*/\1/p' | head -n 1
}

status_mb() { # $1 pid, $2 field (VmRSS, VmHWM): megabytes (10^6 bytes)
  awk -v field="$2:" '$1 == field { printf "%d", $2 * 1024 / 1000000 }' "/proc/$1/status"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

one() { # $1 data dir, $2 kind (first|restart), $3 label
  local started ms cpu pid rss hwm port=""
  : >"$work/server.log"
  started=$(date +%s%N)
  DATA_DIR="$1" PORT=0 GRPC_PORT=off METRICS_PORT=off npm start >"$work/server.log" 2>&1 &
  npm_pid=$!
  ms=""
  while [ $(( ($(date +%s%N) - started) / 1000000000 )) -lt "$serving_timeout_s" ]; do
    kill -0 "$npm_pid" 2>/dev/null || fail "$3: npm start exited before SERVING"
    [ -n "$port" ] || port=$(listening_port || true)
    # Quoted: "NOT_SERVING" must not count.
    if [ -n "$port" ] && curl -s -m 2 -H 'content-type: application/json' -H 'connect-protocol-version: 1' -d '{}' \
      "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>/dev/null | grep -q '"SERVING"'; then
      ms=$((($(date +%s%N) - started) / 1000000))
      cpu=$(cpu_seconds "$npm_pid")
      break
    fi
    sleep 0.05
  done
  [ -n "$ms" ] || fail "$3: no SERVING within ${serving_timeout_s} s (SERVING_TIMEOUT_S)"
  sleep "$settle"
  pid=$(server_pid) || fail "$3: the server process (node dist/server/main.js) is gone"
  rss=$(status_mb "$pid" VmRSS)
  hwm=$(status_mb "$pid" VmHWM)
  printf '%-10s %6d ms to SERVING (CPU %5s s)   idle RSS %4d MB   peak RSS (VmHWM) %4d MB\n' "$3" "$ms" "$cpu" "$rss" "$hwm"
  echo "$ms $cpu $rss $hwm" >>"$work/$2"
  stop_server
}

summary() { # $1 kind
  printf 'median of %d %-8s %6s ms to SERVING (CPU %5s s)   idle RSS %4s MB   peak RSS (VmHWM) %4s MB\n' \
    "$(wc -l <"$work/$1")" "$1" \
    "$(cut -d' ' -f1 "$work/$1" | median)" "$(cut -d' ' -f2 "$work/$1" | median)" \
    "$(cut -d' ' -f3 "$work/$1" | median)" "$(cut -d' ' -f4 "$work/$1" | median)"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; node $(node --version); idle figures ${settle} s after SERVING"
for i in $(seq 1 "$runs"); do one "$work/data-$i" first "first $i"; done
for i in $(seq 1 "$runs"); do one "$work/data-$runs" restart "restart $i"; done
summary first
summary restart
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "goals: idle RSS <= 250 MB, peak RSS <= 320 MB, start-up < 5000 ms (first start and restart)"
