#!/usr/bin/env bash
# Scale out (#17) on writes: the same build, two routings, in alternating pairs in one sitting (the only
# fair comparison on a shared, noisy machine), each on a fresh proxy process:
#   keymap  today's 2-backend keymap (cpu → sink 1, temperature → sink 2, the rest → both), 2 sinks
#   hash    4 backends in 2 hash groups ({"_default_": {"hash": ["g1", "g2"]}}, g1 = sinks 1+3,
#           g2 = sinks 2+4): each measurement to both replicas of its group, 4 sinks
#   pinned  (with KINDS) the same 4 backends, every measurement pinned by `_default_` to sinks 1+3: the
#           hash run's fan-out (2 deliveries a line) without hashing, to tell the two costs apart
# Per run: the proxy's CPU per request (utime + stime over the run / requests answered — the figure to
# trust when other work shares the CPUs), requests/s, p50 / p99 and the deliveries the sinks counted
# against the acknowledged lines (keymap: 12/7 deliveries a line; hash: 2 a line). Then what the proxy
# shares the 2 CPUs with: the sinks' CPU per request (all 4 sinks) and the share of the run the proxy's
# main thread spent runnable but waiting for a CPU (/proc/PID/schedstat).
#
#   bench/scale-ab.sh [pairs=3]      env: LINES (5000: points per request)  CONN (8)  DUR (10 s per run)
#                                         KINDS ("keymap hash"; "keymap hash pinned" adds the control)
#
# Needs a build (npm run build), node, wrk, curl; go for the Go sink (else bench/sink.js). Everything it
# starts is stopped on exit, by PID.
set -euo pipefail

PAIRS=${1:-3}
LINES=${LINES:-5000}
CONN=${CONN:-8}
DUR=${DUR:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_SINK=${SHARED_SINK:-$ROOT/../shared/bench/sink}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_init scale-ab

[ -f "$ROOT/dist/apps/proxy/apps/proxy/src/main.js" ] || { echo "not built: npm run build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }

if command -v go >/dev/null && [ -f "$SHARED_SINK/main.go" ]; then
  (cd "$SHARED_SINK" && GO111MODULE=off go build -o "$WORK/sink" .)
  start_sink() { "$WORK/sink" -addr "127.0.0.1:$1" >"$WORK/sink-$1.log" 2>&1 & PIDS+=($!); SINK_PIDS+=($!); }
else
  start_sink() { node "$ROOT/bench/sink.js" "127.0.0.1:$1" >"$WORK/sink-$1.log" 2>&1 & PIDS+=($!); SINK_PIDS+=($!); }
fi
SINK_PIDS=()
sinks_ticks() { local t=0 p; for p in "${SINK_PIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
# the main thread's time waiting on a run queue, in ns (the second field of schedstat)
runq_wait_ns() { awk '{ print $2 }' "/proc/$1/schedstat"; }
SINKS=()
for _ in 1 2 3 4; do
  port=$(free_port); start_sink "$port"; SINKS+=("http://127.0.0.1:$port"); wait_ping "http://127.0.0.1:$port"
done
count() { curl -s "$1/count" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).points))'; }
total() { local t=0 s; for s in "${SINKS[@]}"; do t=$((t + $(count "$s"))); done; echo "$t"; }
reset() { local s; for s in "${SINKS[@]}"; do curl -s -XPOST "$s/reset" >/dev/null; done; }

# the body of bench/run.sh: LINES points over 7 measurements
node -e '
  const n = Number(process.argv[1]); const ms = ["cpu","mem","disk","net","temperature","station_data","http_requests"];
  let out = ""; const t0 = 1700000000000000000n;
  for (let i = 0; i < n; i++) {
    const host = "server" + String(i % 100).padStart(3, "0");
    out += `${ms[i % 7]},host=${host},region=us-west-${i % 4},dc=dc${i % 3} usage_user=${(i * 7919 % 10000) / 100},usage_system=${(i * 104729 % 1000) / 100},count=${i}i,ok=true ${t0 + BigInt(i) * 1000n}\n`;
  }
  require("fs").writeFileSync(process.argv[2], out);' "$LINES" "$WORK/body"
CPU_LINES=$(grep -c '^cpu,' "$WORK/body" || true)
TEMP_LINES=$(grep -c '^temperature,' "$WORK/body" || true)

config() { # kind port
  if [ "$1" = pinned ]; then
    printf '{"backends":{"node1":{"url":"%s","db":"bench"},"node2":{"url":"%s","db":"bench"},"node3":{"url":"%s","db":"bench"},"node4":{"url":"%s","db":"bench"}},
 "keymaps":{"_default_":["node1","node3"]},
 "proxies":{"p1":{"listenAddr":"127.0.0.1:%s","db":"bench"}}}' "${SINKS[0]}" "${SINKS[1]}" "${SINKS[2]}" "${SINKS[3]}" "$2"
  elif [ "$1" = keymap ]; then
    printf '{"backends":{"node1":{"url":"%s","db":"bench"},"node2":{"url":"%s","db":"bench"}},
 "keymaps":{"cpu":["node1"],"temperature":["node2"],"_default_":["node1","node2"]},
 "proxies":{"p1":{"listenAddr":"127.0.0.1:%s","db":"bench"}}}' "${SINKS[0]}" "${SINKS[1]}" "$2"
  else
    printf '{"backends":{"node1":{"url":"%s","db":"bench"},"node2":{"url":"%s","db":"bench"},"node3":{"url":"%s","db":"bench"},"node4":{"url":"%s","db":"bench"}},
 "groups":{"g1":["node1","node3"],"g2":["node2","node4"]},
 "keymaps":{"_default_":{"hash":["g1","g2"]}},
 "proxies":{"p1":{"listenAddr":"127.0.0.1:%s","db":"bench"}}}' "${SINKS[0]}" "${SINKS[1]}" "${SINKS[2]}" "${SINKS[3]}" "$2"
  fi
}


run() { # kind → one result line
  local kind=$1 port pid run
  RUNS=$((${RUNS:-0} + 1)); run=$WORK/run$RUNS
  port=$(free_port)
  mkdir -p "$run/spool"
  config "$kind" "$port" >"$run/config.json"
  "$ROOT/bin/influxdb-proxy" --config "$run/config.json" --node p1 --spool-dir "$run/spool" --workers 1 \
    --log-level warn >"$run/log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_ping "http://127.0.0.1:$port" || { tail -20 "$run/log" >&2; exit 1; }
  BODY=$WORK/body wrk -t1 -c"$CONN" -d2s -s "$ROOT/bench/wrk-report.lua" "http://127.0.0.1:$port/write?db=bench" >/dev/null 2>&1
  sleep 0.5
  reset
  local before after out reqs errs p50 p99 ok got last=-1 expected
  before=$(cpu_ticks "$pid"); sinks_before=$(sinks_ticks); wait_before=$(runq_wait_ns "$pid")
  out=$(BODY=$WORK/body wrk -t1 -c"$CONN" -d"${DUR}s" --timeout 30s -s "$ROOT/bench/wrk-report.lua" \
    "http://127.0.0.1:$port/write?db=bench" 2>&1)
  after=$(cpu_ticks "$pid"); sinks_after=$(sinks_ticks); wait_after=$(runq_wait_ns "$pid")
  reqs=$(awk '/^REQS/ { print $2 }' <<<"$out")
  read -r _ _ _ _ errs _ < <(grep '^ERRS' <<<"$out")
  read -r _ p50 _ p99 < <(grep '^LAT_US' <<<"$out")
  ok=$((reqs - errs))
  for _ in $(seq 1 40); do
    got=$(total)
    [ "$got" = "$last" ] && break
    last=$got; sleep 0.5
  done
  if [ "$kind" = keymap ]; then expected=$((ok * (2 * LINES - CPU_LINES - TEMP_LINES))); else expected=$((ok * 2 * LINES)); fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  awk -v l="$kind" -v ok="$ok" -v e="$errs" -v s="$DUR" -v t="$((after - before))" -v hz="$TICK" -v a="$p50" -v b="$p99" \
      -v got="$got" -v want="$expected" -v n="$LINES" -v st="$((sinks_after - sinks_before))" -v w="$((wait_after - wait_before))" 'BEGIN {
    printf "%-6s cpu_us_per_req %8.1f  req/s %7.1f  points/s %9.0f  p50_ms %7.2f  p99_ms %7.2f  delivered %.3f  non2xx %d  sinks_us_per_req %7.1f  runq_wait %4.1f%%\n",
      l, t * 1e6 / hz / (ok > 0 ? ok : 1), ok / s, ok * n / s, a / 1000, b / 1000, (want ? got / want : 1), e,
      st * 1e6 / hz / (ok > 0 ? ok : 1), w / 1e9 / s * 100 }'
}

echo "LINES=$LINES CONN=$CONN DUR=${DUR}s, $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$PAIRS"); do
  for kind in ${KINDS:-keymap hash}; do run "$kind"; done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
