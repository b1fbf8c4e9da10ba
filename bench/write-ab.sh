#!/usr/bin/env bash
# Two builds of the proxy compared on writes, in alternating pairs in one sitting (the only fair
# comparison on a shared, noisy machine): for each pair, build A then build B each run on a fresh
# proxy process against the same two counting sinks. Per run: the proxy's CPU per request (utime +
# stime from /proc/<pid>/stat of the proxy and its workers over the run, divided by the requests
# answered — the figure to trust when other work shares the CPUs), requests/s, p50 / p99 latency and
# the proxy's peak RSS (its processes' peaks, summed).
#
#   bench/write-ab.sh CHECKOUT_A CHECKOUT_B [pairs=3]
#   env: LINES (1: points per request)  CONN (32)  DUR (10: seconds per run)  ACK (durable|buffered)
#        WORKERS (the proxy's --workers; default: its own, one per core)
#        A_BACKEND / B_BACKEND  more backend settings for A's / B's runs, as JSON members
#                               (e.g. B_BACKEND='"concurrency":1': one build, two settings)
#
# Both checkouts must be built (npm run build). Routing as bench/run.sh: cpu → sink 1, temperature →
# sink 2, the rest → both; every run checks the sinks got what was acknowledged. Everything it starts
# is stopped on exit, by PID. Needs node, wrk, curl; go for the Go sink (else bench/sink.js).
set -euo pipefail

A=$(cd "${1:?usage: write-ab.sh CHECKOUT_A CHECKOUT_B [pairs]}" && pwd)
B=$(cd "${2:?usage: write-ab.sh CHECKOUT_A CHECKOUT_B [pairs]}" && pwd)
PAIRS=${3:-3}
LINES=${LINES:-1}
CONN=${CONN:-32}
DUR=${DUR:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_SINK=${SHARED_SINK:-$ROOT/../shared/bench/sink}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_init write-ab

for c in "$A" "$B"; do [ -f "$c/dist/apps/proxy/apps/proxy/src/main.js" ] || { echo "$c is not built" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }

if command -v go >/dev/null && [ -f "$SHARED_SINK/main.go" ]; then
  (cd "$SHARED_SINK" && GO111MODULE=off go build -o "$WORK/sink" .)
  start_sink() { "$WORK/sink" -addr "127.0.0.1:$1" >"$WORK/sink-$1.log" 2>&1 & PIDS+=($!); }
else
  start_sink() { node "$ROOT/bench/sink.js" "127.0.0.1:$1" >"$WORK/sink-$1.log" 2>&1 & PIDS+=($!); }
fi
S1_PORT=$(free_port); start_sink "$S1_PORT"
S2_PORT=$(free_port); start_sink "$S2_PORT"
S1=http://127.0.0.1:$S1_PORT; S2=http://127.0.0.1:$S2_PORT
wait_ping "$S1"; wait_ping "$S2"
count() { curl -s "$1/count" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).points))'; }
batches() { curl -s "$1/count" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).requests))'; }

node -e '
  const n = Number(process.argv[1]); const ms = ["cpu","mem","disk","net","temperature","station_data","http_requests"];
  let out = ""; const t0 = 1700000000000000000n;
  for (let i = 0; i < n; i++) {
    const host = "server" + String(i % 100).padStart(3, "0");
    out += `${ms[i % 7]},host=${host},region=us-west-${i % 4},dc=dc${i % 3} usage_user=${(i * 7919 % 10000) / 100},count=${i}i,ok=true ${t0 + BigInt(i) * 1000n}\n`;
  }
  require("fs").writeFileSync(process.argv[2], out);' "$LINES" "$WORK/body"
EXP1=$(grep -vc '^temperature,' "$WORK/body" || true)
EXP2=$(grep -vc '^cpu,' "$WORK/body" || true)

run() { # label checkout → one result line
  local label=$1 dir=$2 port pid run extra
  extra=$([ "$label" = A ] && printf '%s' "${A_BACKEND:-}" || printf '%s' "${B_BACKEND:-}")
  extra=${extra:+,$extra}
  RUNS=$((${RUNS:-0} + 1)); run=$WORK/run$RUNS
  port=$(free_port)
  mkdir -p "$run/spool"
  printf '{"backends":{"node1":{"url":"%s","db":"bench"%s},"node2":{"url":"%s","db":"bench"%s}},
 "keymaps":{"cpu":["node1"],"temperature":["node2"],"_default_":["node1","node2"]},
 "proxies":{"p1":{"listenAddr":"127.0.0.1:%s","db":"bench"%s}}}' "$S1" "$extra" "$S2" "$extra" "$port" \
    "$([ -n "${ACK:-}" ] && printf ',"ackMode":"%s"' "$ACK")" >"$run/config.json"
  "$dir/bin/influxdb-proxy" --config "$run/config.json" --node p1 --spool-dir "$run/spool" \
    ${WORKERS:+--workers "$WORKERS"} --log-level warn >"$run/log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_ping "http://127.0.0.1:$port" || { tail -20 "$run/log" >&2; exit 1; }
  # JIT warm-up, not measured
  BODY=$WORK/body wrk -t1 -c"$CONN" -d2s -s "$ROOT/bench/wrk-report.lua" "http://127.0.0.1:$port/write?db=bench" >/dev/null 2>&1
  sleep 0.5
  curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
  peak_reset "$pid"
  local before out reqs errs p50 p99 ok after c1 c2 last=-1 rss
  before=$(cpu_ticks "$pid")
  out=$(BODY=$WORK/body wrk -t1 -c"$CONN" -d"${DUR}s" --timeout 30s -s "$ROOT/bench/wrk-report.lua" \
    "http://127.0.0.1:$port/write?db=bench" 2>&1)
  after=$(cpu_ticks "$pid")
  rss=$(peak_mb "$pid")
  reqs=$(awk '/^REQS/ { print $2 }' <<<"$out")
  read -r _ _ _ _ errs _ < <(grep '^ERRS' <<<"$out")
  read -r _ p50 _ p99 < <(grep '^LAT_US' <<<"$out")
  ok=$((reqs - errs))
  for _ in $(seq 1 40); do
    c1=$(count "$S1"); c2=$(count "$S2")
    [ "$c1:$c2" = "$last" ] && break
    last="$c1:$c2"; sleep 0.5
  done
  local b1
  b1=$(batches "$S1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  awk -v l="$label" -v ok="$ok" -v e="$errs" -v s="$DUR" -v t="$((after - before))" -v hz="$TICK" -v a="$p50" -v b="$p99" \
      -v m="$rss" -v c1="$c1" -v c2="$c2" -v w1="$((ok * EXP1))" -v w2="$((ok * EXP2))" -v b1="$b1" 'BEGIN {
    printf "%-2s cpu_us_per_req %6.1f  req/s %7.0f  p50_ms %6.2f  p99_ms %6.2f  peak_rss_mb %4s  delivered %.3f/%.3f  non2xx %d  sink1_points_per_batch %.1f\n",
      l, t * 1e6 / hz / (ok > 0 ? ok : 1), ok / s, a / 1000, b / 1000, m, (w1 ? c1 / w1 : 1), (w2 ? c2 / w2 : 1), e, c1 / (b1 > 0 ? b1 : 1) }'
}

echo "A=$A ${A_BACKEND:-}"
echo "B=$B ${B_BACKEND:-}"
echo "LINES=$LINES CONN=$CONN DUR=${DUR}s, $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$PAIRS"); do
  run A "$A"
  run B "$B"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
