#!/usr/bin/env bash
# Prometheus remote write, two builds of the proxy against influxd's own /api/v1/prom/write, in
# alternating rounds in one sitting (the only fair comparison on a shared, noisy machine). Each round
# runs build A, influxd, build B (B, influxd, A every other round): the proxy a fresh process each
# time, forwarding to two counting sinks (`_default_` → both, as bench/run.sh's prom case), influxd
# the same one throughout. The body is bench/prom-bodies.js's (PROM_SERIES × PROM_SAMPLES samples).
# Per run: samples/s, p50 / p90 / p99, the CPU time per answered request of the process under test
# (utime + stime of the process and its children from /proc, the proxy's workers included — the
# figure to trust when other work shares the CPUs), peak RSS, and for a proxy run its samples/s ÷ the
# round's influxd run and what the sinks received of the acknowledged samples.
#
#   bench/prom-ab.sh CHECKOUT_A CHECKOUT_B [rounds=3]
#   env: DUR (10: seconds per run)  CONN (8)  PROM_SERIES (100)  PROM_SAMPLES (5)  WORKERS (the proxy's
#        --workers; its default, one per core, when unset)
#
# Both checkouts must be built (npm run build). Needs node, wrk, curl, influxd; go for the Go sink
# (else bench/sink.js). Everything it starts is stopped on exit, by PID.
set -euo pipefail

A=$(cd "${1:?usage: prom-ab.sh CHECKOUT_A CHECKOUT_B [rounds]}" && pwd)
B=$(cd "${2:?usage: prom-ab.sh CHECKOUT_A CHECKOUT_B [rounds]}" && pwd)
ROUNDS=${3:-3}
DUR=${DUR:-10}
CONN=${CONN:-8}
PROM_SERIES=${PROM_SERIES:-100}
PROM_SAMPLES=${PROM_SAMPLES:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_SINK=${SHARED_SINK:-$ROOT/../shared/bench/sink}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_init prom-ab

for c in "$A" "$B"; do [ -f "$c/dist/apps/proxy/apps/proxy/src/main.js" ] || { echo "$c is not built" >&2; exit 1; }; done
for t in wrk curl influxd; do command -v "$t" >/dev/null || { echo "$t is not installed" >&2; exit 1; }; done

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

start_influxd influxd
I=http://127.0.0.1:$INFLUXD_PORT; I_PID=$INFLUXD_PID
wait_ping "$I"
curl -s -XPOST "$I/query" --data-urlencode "q=CREATE DATABASE prom" >/dev/null

N=$(node "$ROOT/bench/prom-bodies.js" "$WORK/prom.bin" "$PROM_SERIES" "$PROM_SAMPLES")


# measure label pid url → one result line; sets SPS (samples/s)
measure() {
  local label=$1 pid=$2 url=$3 before after out reqs errs p50 p90 p99 ok
  # JIT warm-up, not measured
  PROM=1 BODY=$WORK/prom.bin wrk -t1 -c2 -d2s -s "$ROOT/bench/wrk-report.lua" "$url" >/dev/null 2>&1
  sleep 0.5
  curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
  peak_reset "$pid"
  before=$(cpu_ticks "$pid")
  out=$(PROM=1 BODY=$WORK/prom.bin wrk -t1 -c"$CONN" -d"${DUR}s" --timeout 30s -s "$ROOT/bench/wrk-report.lua" "$url" 2>&1)
  after=$(cpu_ticks "$pid")
  reqs=$(awk '/^REQS/ { print $2 }' <<<"$out")
  read -r _ _ _ _ errs _ < <(grep '^ERRS' <<<"$out")
  read -r _ p50 p90 p99 < <(grep '^LAT_US' <<<"$out")
  ok=$((reqs - errs))
  SPS=$(awk -v ok="$ok" -v n="$N" -v s="$DUR" 'BEGIN { printf "%.0f", ok * n / s }')
  RESULT=$(awk -v l="$label" -v sps="$SPS" -v a="$p50" -v b="$p90" -v d="$p99" -v t="$((after - before))" -v hz="$TICK" \
    -v ok="$ok" -v e="$errs" -v m="$(peak_mb "$pid")" 'BEGIN {
    printf "%-8s samples/s %8d  p50/p90/p99 ms %6.2f %6.2f %6.2f  cpu_us/req %7.0f  peak_mb %4s  non2xx %d",
      l, sps, a / 1000, b / 1000, d / 1000, t * 1e6 / hz / (ok > 0 ? ok : 1), m, e }')
  OK=$ok
}

# proxy label checkout → a fresh proxy measured; its line printed after the round's influxd run
proxy_run() {
  local label=$1 dir=$2 port run pid c1 c2 last=-1
  RUNS=$((${RUNS:-0} + 1)); run=$WORK/run$RUNS
  port=$(free_port)
  mkdir -p "$run/spool"
  printf '{"backends":{"node1":{"url":"%s","db":"bench"},"node2":{"url":"%s","db":"bench"}},
 "keymaps":{"cpu":["node1"],"temperature":["node2"],"_default_":["node1","node2"]},
 "proxies":{"p1":{"listenAddr":"127.0.0.1:%s","db":"bench"}}}' "$S1" "$S2" "$port" >"$run/config.json"
  "$dir/bin/influxdb-proxy" --config "$run/config.json" --node p1 --spool-dir "$run/spool" \
    ${WORKERS:+--workers "$WORKERS"} --log-level warn >"$run/log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_ping "http://127.0.0.1:$port" || { tail -20 "$run/log" >&2; exit 1; }
  measure "$label" "$pid" "http://127.0.0.1:$port/api/v1/prom/write?db=bench"
  for _ in $(seq 1 40); do
    c1=$(count "$S1"); c2=$(count "$S2")
    [ "$c1:$c2" = "$last" ] && break
    last="$c1:$c2"; sleep 0.5
  done
  RESULT="$RESULT $(awk -v c1="$c1" -v c2="$c2" -v w="$((OK * N))" 'BEGIN { printf " delivered %.3f/%.3f", (w ? c1 / w : 1), (w ? c2 / w : 1) }')"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

echo "A=$A"
echo "B=$B"
echo "$N-sample requests ($PROM_SERIES series × $PROM_SAMPLES), CONN=$CONN DUR=${DUR}s, $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then first=A; second=B; else first=B; second=A; fi
  dir_of() { [ "$1" = A ] && echo "$A" || echo "$B"; }
  proxy_run "$first" "$(dir_of $first)"; R1=$RESULT; S1PS=$SPS
  measure influxd "$I_PID" "$I/api/v1/prom/write?db=prom"; RI=$RESULT; IPS=$SPS
  proxy_run "$second" "$(dir_of $second)"; R2=$RESULT; S2PS=$SPS
  echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "  $R1  ratio $(awk -v a="$S1PS" -v b="$IPS" 'BEGIN { printf "%.2f", a / b }')"
  echo "  $RI"
  echo "  $R2  ratio $(awk -v a="$S2PS" -v b="$IPS" 'BEGIN { printf "%.2f", a / b }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
