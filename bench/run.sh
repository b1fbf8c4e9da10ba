#!/usr/bin/env bash
# npm run bench: the proxy's own benchmark — direct vs through the proxy, in one run, on loopback only.
#
#   npm run bench                 (bench/run.sh)        npm run bench -- --quick   (3 s runs)
#   env: DUR (10: seconds per write run)  QDUR (5: per query run)  CONN (8)  LINES (5000)  SMALL_CONN (32)
#        PROM_SERIES (100) PROM_SAMPLES (5): a remote-write request's series and samples per series
#        SKIP_BUILD=1 (use the existing build; otherwise it is rebuilt when a source is newer)
#        REF_BIN  the Go influx-proxy this project replaces (the "reference"), built: its write runs are
#                 added (the same sinks, routing from Redis in its layout; needs redis-server)
#
# Writes: two counting sinks stand in for InfluxDB, so what is measured is the proxy, not a database
# (the Go sink of ../shared/bench/sink when Go is installed, else bench/sink.js). wrk posts LINES-point
# batches on CONN connections, then one-point requests on SMALL_CONN, to sink 1 directly and to the
# proxy, which routes cpu → sink 1, temperature → sink 2, the rest → both; the proxy's deliveries are
# counted at the sinks once it has drained.
# Queries (when influxd is installed): one influxd with two databases serves as backends a and b; a
# GROUP BY SELECT (one backend, streamed back) and SHOW MEASUREMENTS (fanned out to both and merged),
# each direct vs through the proxy. bench/query-bench.sh compares queries in more detail.
# Remote write (bench/prom-bodies.js): Prometheus-sized WriteRequests (100 series × 5 samples of
# Prometheus's and node_exporter's own metrics) to the proxy (→ both sinks) and, when influxd is
# installed, to influxd's own /api/v1/prom/write; points/s is samples/s there.
# Printed per run: requests/s, points/s (writes), p50/p90/p99 latency, the CPU time the process under
# test spent per answered request (utime + stime from /proc/<pid>/stat over the run: the figure to
# compare on a busy machine, where requests/s moves with the other load), and its peak RSS — the sink or
# influxd for direct runs, the proxy through it (peak reset before each run; for the proxy, its supervisor
# and worker processes together, CPU and peak RSS summed).
# Everything it starts is stopped on exit, by PID. Needs node, wrk, curl; go and influxd are optional.
set -euo pipefail

DUR=${DUR:-10}
QDUR=${QDUR:-5}
CONN=${CONN:-8}
LINES=${LINES:-5000}
SMALL_CONN=${SMALL_CONN:-32}
if [ "${1:-}" = "--quick" ]; then DUR=3; QDUR=3; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_SINK=${SHARED_SINK:-$ROOT/../shared/bench/sink}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_init proxy-bench

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }

MAIN=$ROOT/dist/apps/proxy/apps/proxy/src/main.js
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ ! -f "$MAIN" ] || [ -n "$(find "$ROOT/apps" "$ROOT/libs" -name '*.ts' -newer "$MAIN" -print -quit)" ]; then
    echo "building (npm run build)…" >&2
    (cd "$ROOT" && npm run build >/dev/null)
  fi
fi
[ -f "$MAIN" ] || { echo "not built: npm run build" >&2; exit 1; }

count() { curl -s "$1/count" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).points))'; }

# --- sinks
if command -v go >/dev/null && [ -f "$SHARED_SINK/main.go" ]; then
  SINK_KIND="Go sink (../shared/bench/sink)"
  (cd "$SHARED_SINK" && GO111MODULE=off go build -o "$WORK/sink" .)
  start_sink() { "$WORK/sink" -addr "127.0.0.1:$1" >"$WORK/sink-$1.log" 2>&1 & PIDS+=($!); SINK_PID=$!; }
else
  SINK_KIND="Node sink (bench/sink.js)"
  start_sink() { node "$ROOT/bench/sink.js" "127.0.0.1:$1" >"$WORK/sink-$1.log" 2>&1 & PIDS+=($!); SINK_PID=$!; }
fi
S1_PORT=$(free_port); start_sink "$S1_PORT"; S1_PID=$SINK_PID
S2_PORT=$(free_port); start_sink "$S2_PORT"
S1=http://127.0.0.1:$S1_PORT; S2=http://127.0.0.1:$S2_PORT
wait_ping "$S1"; wait_ping "$S2"

start_proxy() { # name config-json → PROXY_PID, PROXY_URL
  local port=$2
  mkdir -p "$WORK/$1/spool"
  printf '%s' "$3" > "$WORK/$1/config.json"
  "$ROOT/bin/influxdb-proxy" --config "$WORK/$1/config.json" --node p1 --spool-dir "$WORK/$1/spool" \
    --log-level warn >"$WORK/$1/log" 2>&1 &
  PIDS+=($!); PROXY_PID=$!; PROXY_URL=http://127.0.0.1:$port
  wait_ping "$PROXY_URL" || { tail -20 "$WORK/$1/log" >&2; exit 1; }
}

WP_PORT=$(free_port)
mkdir -p "$WORK/wp"
start_proxy wp "$WP_PORT" "{
  \"backends\": {\"node1\": {\"url\": \"$S1\", \"db\": \"bench\"}, \"node2\": {\"url\": \"$S2\", \"db\": \"bench\"}},
  \"keymaps\": {\"cpu\": [\"node1\"], \"temperature\": [\"node2\"], \"_default_\": [\"node1\", \"node2\"]},
  \"proxies\": {\"p1\": {\"listenAddr\": \"127.0.0.1:$WP_PORT\", \"db\": \"bench\"}}}"
WP=$PROXY_URL; WP_PID=$PROXY_PID

# --- bodies: LINES points over 7 measurements (as ../shared/bench/genbody.py), and one point
node -e '
  const n = Number(process.argv[1]); const ms = ["cpu","mem","disk","net","temperature","station_data","http_requests"];
  let out = ""; const t0 = 1700000000000000000n;
  for (let i = 0; i < n; i++) {
    const host = "server" + String(i % 100).padStart(3, "0");
    out += `${ms[i % 7]},host=${host},region=us-west-${i % 4},dc=dc${i % 3} usage_user=${(i * 7919 % 10000) / 100},usage_system=${(i * 104729 % 1000) / 100},count=${i}i,ok=true ${t0 + BigInt(i) * 1000n}\n`;
  }
  require("fs").writeFileSync(process.argv[2], out);
  require("fs").writeFileSync(process.argv[3], `cpu,host=server001,region=us-west-1 usage_user=12.5,count=1i\n`);' \
  "$LINES" "$WORK/body" "$WORK/one"
EXP1=$(grep -vc '^temperature,' "$WORK/body" || true)
EXP2=$(grep -vc '^cpu,' "$WORK/body" || true)

RESULTS=$WORK/results
printf '%-37s %-7s %5s %9s %11s %8s %8s %8s %8s %8s  %s\n' run target conns 'req/s' 'points/s' 'p50 ms' 'p90 ms' 'p99 ms' 'µs CPU' 'peak MB' \
  'note' > "$RESULTS"

# wrk_run label target url conns seconds pid [body lines] → a row in RESULTS; sets OK (2xx answers)
wrk_run() {
  local label=$1 target=$2 url=$3 conns=$4 secs=$5 pid=$6 body=${7:-} lines=${8:-0} note=${9:-}
  peak_reset "$pid"
  local out ticks
  ticks=$(cpu_ticks "$pid")
  out=$(BODY=$body wrk -t1 -c"$conns" -d"${secs}s" --timeout 30s -s "$ROOT/bench/wrk-report.lua" "$url" 2>&1)
  ticks=$(($(cpu_ticks "$pid") - ticks))
  local reqs errs p50 p90 p99
  reqs=$(awk '/^REQS/ { print $2 }' <<<"$out")
  read -r _ _ _ _ errs _ < <(grep '^ERRS' <<<"$out")
  read -r _ p50 p90 p99 < <(grep '^LAT_US' <<<"$out")
  OK=$((reqs - errs))
  awk -v l="$label" -v t="$target" -v c="$conns" -v ok="$OK" -v s="$secs" -v n="$lines" -v a="$p50" -v b="$p90" -v d="$p99" \
      -v m="$(peak_mb "$pid")" -v e="$errs" -v note="$note" -v cpu="$ticks" -v hz="$TICK" 'BEGIN {
    pts = n > 0 ? sprintf("%.0f", ok * n / s) : "-";
    if (e > 0) note = note (note == "" ? "" : "; ") e " non-2xx";
    printf "%-37s %-7s %5d %9.0f %11s %8.2f %8.2f %8.2f %8.1f %8s  %s\n", l, t, c, ok / s, pts, a / 1000, b / 1000, d / 1000,
      cpu * 1e6 / hz / (ok > 0 ? ok : 1), m, note }' >> "$RESULTS"
}

# drained: waits until both sinks stop counting; prints "node1 node2" delivered fractions
delivered() { # ok-requests per-request-1 per-request-2
  local last=-1 c1=0 c2=0
  for _ in $(seq 1 60); do
    c1=$(count "$S1"); c2=$(count "$S2")
    [ "$c1:$c2" = "$last" ] && break
    last="$c1:$c2"; sleep 0.5
  done
  # requests still in flight when wrk stops are not counted by wrk but are delivered: ≥ 100 %
  awk -v c1="$c1" -v c2="$c2" -v w1="$(($1 * $2))" -v w2="$(($1 * $3))" 'BEGIN {
    printf "sinks got %.1f%%", 100 * c1 / w1; if (w2) printf " / %.1f%%", 100 * c2 / w2; printf " of the acknowledged" }'
}

# appends a note to the last row
add_note() {
  local last
  last=$(tail -n 1 "$RESULTS")
  sed -i '$d' "$RESULTS"
  case "$last" in
    *'  ') printf '%s%s\n' "$last" "$1" >> "$RESULTS" ;;
    *) printf '%s; %s\n' "$last" "$1" >> "$RESULTS" ;;
  esac
}

echo "influxdb-proxy bench: $(nproc) CPUs, $SINK_KIND, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "writes: ${DUR}s per run…" >&2
# JIT warm-up, not measured
BODY=$WORK/body wrk -t1 -c2 -d2s -s "$ROOT/bench/wrk-report.lua" "$WP/write?db=bench" >/dev/null 2>&1
sleep 1

curl -s -XPOST "$S1/reset" >/dev/null
wrk_run "write ${LINES}-point batches" direct "$S1/write?db=bench" "$CONN" "$DUR" "$S1_PID" "$WORK/body" "$LINES"
curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
wrk_run "write ${LINES}-point batches" proxy "$WP/write?db=bench" "$CONN" "$DUR" "$WP_PID" "$WORK/body" "$LINES" \
  "routed to 2 sinks"
add_note "$(delivered "$OK" "$EXP1" "$EXP2")"

# --- scale out (#17): 4 backends in 2 hash groups (g1 = sinks 1+3, g2 = sinks 2+4) against 4 sinks, the
# same body; each measurement goes to both replicas of its group (2 deliveries a line; the keymap run
# above makes 12/7). The issue's target: within 10 % of the keymap run's figure. bench/scale-ab.sh
# alternates the two (and a pinned control) on a fresh proxy each, for a noisy machine.
S3_PORT=$(free_port); start_sink "$S3_PORT"; S3=http://127.0.0.1:$S3_PORT
S4_PORT=$(free_port); start_sink "$S4_PORT"; S4=http://127.0.0.1:$S4_PORT
wait_ping "$S3"; wait_ping "$S4"
HP_PORT=$(free_port)
start_proxy hp "$HP_PORT" "{
  \"backends\": {\"node1\": {\"url\": \"$S1\", \"db\": \"bench\"}, \"node2\": {\"url\": \"$S2\", \"db\": \"bench\"},
                \"node3\": {\"url\": \"$S3\", \"db\": \"bench\"}, \"node4\": {\"url\": \"$S4\", \"db\": \"bench\"}},
  \"groups\": {\"g1\": [\"node1\", \"node3\"], \"g2\": [\"node2\", \"node4\"]},
  \"keymaps\": {\"_default_\": {\"hash\": [\"g1\", \"g2\"]}},
  \"proxies\": {\"p1\": {\"listenAddr\": \"127.0.0.1:$HP_PORT\", \"db\": \"bench\"}}}"
HP=$PROXY_URL; HP_PID=$PROXY_PID
BODY=$WORK/body wrk -t1 -c2 -d2s -s "$ROOT/bench/wrk-report.lua" "$HP/write?db=bench" >/dev/null 2>&1
sleep 1
for s in "$S1" "$S2" "$S3" "$S4"; do curl -s -XPOST "$s/reset" >/dev/null; done
wrk_run "write ${LINES}-point batches, hash" proxy "$HP/write?db=bench" "$CONN" "$DUR" "$HP_PID" "$WORK/body" "$LINES" \
  "2 hash groups × 2 replicas, 4 sinks"
HASH_OK=$OK
last=-1
for _ in $(seq 1 60); do
  got=0; for s in "$S1" "$S2" "$S3" "$S4"; do got=$((got + $(count "$s"))); done
  [ "$got" = "$last" ] && break
  last=$got; sleep 0.5
done
add_note "$(awk -v g="$got" -v w="$((HASH_OK * 2 * LINES))" 'BEGIN { printf "sinks got %.1f%% of the acknowledged × 2", 100 * g / w }')"
kill "$HP_PID" 2>/dev/null || true

curl -s -XPOST "$S1/reset" >/dev/null
wrk_run "write 1-point requests" direct "$S1/write?db=bench" "$SMALL_CONN" "$DUR" "$S1_PID" "$WORK/one" 1
curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
wrk_run "write 1-point requests" proxy "$WP/write?db=bench" "$SMALL_CONN" "$DUR" "$WP_PID" "$WORK/one" 1
add_note "$(delivered "$OK" 1 0)"

# the same load on a proxy in ackMode buffered whose backends carry the Go proxy's interval (1000 ms, as
# config.py writes it): a batch gathers for it (or 16 KiB), as the Go reference answers at once and sends
# every interval — the row to hold against the reference's one-point row
BP_PORT=$(free_port)
start_proxy bp "$BP_PORT" "{
  \"backends\": {\"node1\": {\"url\": \"$S1\", \"db\": \"bench\", \"interval\": 1000},
                \"node2\": {\"url\": \"$S2\", \"db\": \"bench\", \"interval\": 1000}},
  \"keymaps\": {\"cpu\": [\"node1\"], \"temperature\": [\"node2\"], \"_default_\": [\"node1\", \"node2\"]},
  \"proxies\": {\"p1\": {\"listenAddr\": \"127.0.0.1:$BP_PORT\", \"db\": \"bench\", \"ackMode\": \"buffered\"}}}"
BP=$PROXY_URL; BP_PID=$PROXY_PID
BODY=$WORK/one wrk -t1 -c2 -d2s -s "$ROOT/bench/wrk-report.lua" "$BP/write?db=bench" >/dev/null 2>&1
sleep 1.5
curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
wrk_run "write 1-point requests, buffered" proxy "$BP/write?db=bench" "$SMALL_CONN" "$DUR" "$BP_PID" "$WORK/one" 1 \
  "ackMode buffered, backend interval 1000"
sleep 1.5 # a batch may wait up to the interval: the sinks' counts can stand still before it leaves
add_note "$(delivered "$OK" 1 0)"
kill "$BP_PID" 2>/dev/null || true

# --- the Go reference (REF_BIN): its config from Redis, in the layout it reads: b: / m: / n: hashes of JSON
#     values, or with REF_LAYOUT=shell909090 that repository's own b:<name> / n:<node> hashes and m:<measurement>
#     lists (docs/performance-small-writes.md says how it was built); REF_ARGS: extra flags for it
if [ -n "${REF_BIN:-}" ]; then
  if [ ! -x "$REF_BIN" ] || ! command -v redis-server >/dev/null; then
    echo "REF_BIN is not an executable, or redis-server is missing: reference runs skipped" >&2
  else
    R_PORT=$(free_port); RF_PORT=$(free_port)
    redis-server --port "$R_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do redis-cli -p "$R_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    bcfg() { printf '{"url":"%s","db":"bench","zone":"local","interval":1000,"timeout":10000,"timeoutQuery":600000,"maxRowLimit":10000,"checkInterval":1000,"rewriteInterval":10000,"writeOnly":0}' "$1"; }
    if [ "${REF_LAYOUT:-}" = shell909090 ]; then
      for n in 1 2; do
        url=$S1; [ "$n" = 2 ] && url=$S2
        redis-cli -p "$R_PORT" hset "b:node$n" url "$url" db bench zone local interval 1000 timeout 10000 timeoutquery 600000 \
          maxrowlimit 10000 checkinterval 1000 rewriteinterval 10000 writeonly 0 >/dev/null
      done
      redis-cli -p "$R_PORT" rpush m:cpu node1 >/dev/null
      redis-cli -p "$R_PORT" rpush m:temperature node2 >/dev/null
      redis-cli -p "$R_PORT" rpush m:_default_ node1 node2 >/dev/null
      redis-cli -p "$R_PORT" hset n:p1 listenaddr "127.0.0.1:$RF_PORT" db bench zone local interval 10 idletimeout 10 \
        writetracing 0 querytracing 0 >/dev/null
    else
      redis-cli -p "$R_PORT" hset b: node1 "$(bcfg "$S1")" node2 "$(bcfg "$S2")" >/dev/null
      redis-cli -p "$R_PORT" hset m: cpu '["node1"]' temperature '["node2"]' _default_ '["node1","node2"]' >/dev/null
      redis-cli -p "$R_PORT" hset n: p1 "$(printf '{"listenAddr":"127.0.0.1:%s","db":"bench","zone":"local","interval":10,"idleTimeout":10,"writeTracing":0,"queryTracing":0}' "$RF_PORT")" >/dev/null
    fi
    mkdir -p "$WORK/ref"
    # shellcheck disable=SC2086 # REF_ARGS: flags, split on purpose
    (cd "$WORK/ref" && exec "$REF_BIN" -redis "127.0.0.1:$R_PORT" -node p1 ${REF_ARGS:-} >"$WORK/ref/log" 2>&1) &
    PIDS+=($!); REF_PID=$!
    REF=http://127.0.0.1:$RF_PORT
    wait_ping "$REF" || { tail -20 "$WORK/ref/log" >&2; exit 1; }
    BODY=$WORK/body wrk -t1 -c2 -d2s -s "$ROOT/bench/wrk-report.lua" "$REF/write?db=bench" >/dev/null 2>&1
    sleep 1
    curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
    wrk_run "write ${LINES}-point batches" ref "$REF/write?db=bench" "$CONN" "$DUR" "$REF_PID" "$WORK/body" "$LINES" "Go reference"
    sleep 1.5 # it sends every interval (1000 ms)
    add_note "$(delivered "$OK" "$EXP1" "$EXP2")"
    curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
    wrk_run "write 1-point requests" ref "$REF/write?db=bench" "$SMALL_CONN" "$DUR" "$REF_PID" "$WORK/one" 1 "Go reference"
    sleep 1.5
    add_note "$(delivered "$OK" 1 0)"
  fi
else
  echo "no REF_BIN: the Go reference's runs skipped" >&2
fi

# --- queries against a real influxd
if command -v influxd >/dev/null; then
  echo "queries: ${QDUR}s per run…" >&2
  start_influxd influxd; I_PORT=$INFLUXD_PORT; I_PID=$INFLUXD_PID; I=http://127.0.0.1:$I_PORT
  wait_ping "$I"
  for db in dba dbb; do curl -s -XPOST "$I/query" --data-urlencode "q=CREATE DATABASE $db" >/dev/null; done
  T0=1700000000
  node -e '
    const t0 = BigInt(process.argv[1]) * 1000000000n; const fs = require("fs"); let a = "", b = "";
    for (let i = 0; i < 3600; i++) a += `cpu,host=h${i % 10} v=${(i * 7) % 100} ${t0 + BigInt(i) * 1000000000n}\n`;
    for (let m = 0; m < 200; m++) { a += `ma_${m},host=x v=1 ${t0}\n`; b += `mb_${m},host=y v=1 ${t0}\n`; }
    fs.writeFileSync(process.argv[2], a); fs.writeFileSync(process.argv[3], b);' "$T0" "$WORK/a.lp" "$WORK/b.lp"
  curl -sf -XPOST "$I/write?db=dba" --data-binary @"$WORK/a.lp"
  curl -sf -XPOST "$I/write?db=dbb" --data-binary @"$WORK/b.lp"

  QP_PORT=$(free_port)
  start_proxy qp "$QP_PORT" "{
    \"backends\": {\"a\": {\"url\": \"$I\", \"db\": \"dba\"}, \"b\": {\"url\": \"$I\", \"db\": \"dbb\"}},
    \"keymaps\": {\"cpu\": [\"a\"], \"_default_\": [\"a\", \"b\"]},
    \"proxies\": {\"p1\": {\"listenAddr\": \"127.0.0.1:$QP_PORT\", \"db\": \"bench\"}}}"
  QP=$PROXY_URL; QP_PID=$PROXY_PID
  enc() { node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$1"; }
  SELECT_Q=$(enc "SELECT mean(v) FROM cpu WHERE time >= ${T0}s AND time < $((T0 + 3600))s GROUP BY time(10m), host")
  SHOW_Q=$(enc "SHOW MEASUREMENTS")
  wrk -t1 -c2 -d2s "$QP/query?db=bench&q=$SELECT_Q" >/dev/null # JIT warm-up
  wrk -t1 -c2 -d2s "$QP/query?db=bench&q=$SHOW_Q" >/dev/null
  QC=$(( CONN < 4 ? CONN : 4 ))
  wrk_run "query SELECT ... GROUP BY (1 backend)" direct "$I/query?db=dba&q=$SELECT_Q" "$QC" "$QDUR" "$I_PID"
  wrk_run "query SELECT ... GROUP BY (1 backend)" proxy "$QP/query?db=bench&q=$SELECT_Q" "$QC" "$QDUR" "$QP_PID" "" 0 "streamed"
  wrk_run "query SHOW MEASUREMENTS" direct "$I/query?db=dba&q=$SHOW_Q" "$QC" "$QDUR" "$I_PID" "" 0 "one db"
  wrk_run "query SHOW MEASUREMENTS" proxy "$QP/query?db=bench&q=$SHOW_Q" "$QC" "$QDUR" "$QP_PID" "" 0 "fan-out to 2, merged"
else
  echo "influxd is not installed: query runs skipped" >&2
fi

# --- Prometheus remote write: PROM_SERIES series × PROM_SAMPLES samples a request (a snappy protobuf
# WriteRequest made once by bench/prom-bodies.js), to the proxy (decoded, routed by _default_ to both
# sinks) and to influxd's own /api/v1/prom/write (decoded and stored); points/s is samples/s here
PROM_SERIES=${PROM_SERIES:-100}
PROM_SAMPLES=${PROM_SAMPLES:-5}
echo "remote write: ${DUR}s per run…" >&2
PROM_N=$(node "$ROOT/bench/prom-bodies.js" "$WORK/prom.bin" "$PROM_SERIES" "$PROM_SAMPLES")
PROM_LABEL="prom remote write ${PROM_N}-sample reqs"
PROM=1 BODY=$WORK/prom.bin wrk -t1 -c2 -d2s -s "$ROOT/bench/wrk-report.lua" "$WP/api/v1/prom/write?db=bench" >/dev/null 2>&1
sleep 1
curl -s -XPOST "$S1/reset" >/dev/null; curl -s -XPOST "$S2/reset" >/dev/null
PROM=1 wrk_run "$PROM_LABEL" proxy "$WP/api/v1/prom/write?db=bench" "$CONN" "$DUR" "$WP_PID" "$WORK/prom.bin" "$PROM_N" \
  "routed to 2 sinks"
add_note "$(delivered "$OK" "$PROM_N" "$PROM_N")"
if [ -n "${I_PID:-}" ]; then
  curl -s -XPOST "$I/query" --data-urlencode "q=CREATE DATABASE prom" >/dev/null
  PROM=1 BODY=$WORK/prom.bin wrk -t1 -c2 -d2s -s "$ROOT/bench/wrk-report.lua" "$I/api/v1/prom/write?db=prom" >/dev/null 2>&1
  sleep 1
  PROM=1 wrk_run "$PROM_LABEL" influxd "$I/api/v1/prom/write?db=prom" "$CONN" "$DUR" "$I_PID" "$WORK/prom.bin" "$PROM_N" \
    "stored"
fi

cat "$RESULTS"
echo "(points/s: points in 2xx-answered requests / run time; a sink receiving > 100 % got requests still in flight when wrk stopped;"
echo " µs CPU: the process's utime + stime over the run per answered request)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
