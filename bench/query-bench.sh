#!/usr/bin/env bash
# /query benchmark: direct influxd vs through the proxy, in the same run, on loopback only.
#
#   bench/query-bench.sh [seconds=10] [connections=4]
#   PIN=1 bench/query-bench.sh …   influxd on the last CPU, proxy and wrk on the others (taskset), as if
#                                  the backends had their own machine; SELECT only (the two backends of a
#                                  fan-out would share one CPU)
#
# Starts two influxd (temp dirs, loopback ports, address space capped) and one proxy (the current
# build: run `npm run build` first), loads a small data set directly into the backends, then runs wrk:
#   1. SELECT mean(v) … GROUP BY time(10m), host  direct A   vs   proxy → A   (streamed path), alternating rounds
#   2. SHOW MEASUREMENTS                           direct A, direct B   vs   proxy (fan-out to A and B, merged),
#      at 1 connection (latency: what the fan-out adds) and at the given connections
# Everything it starts is stopped on exit (by PID). Needs influxd, wrk, curl, node.
set -euo pipefail

DURATION=${1:-10}
CONNS=${2:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_init query-bench

[ -x "$ROOT/bin/influxdb-proxy" ] && [ -d "$ROOT/dist/apps/proxy" ] || { echo "build first: npm run build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }

start_influxd a; A_PORT=$INFLUXD_PORT; A_PID=$INFLUXD_PID
start_influxd b; B_PORT=$INFLUXD_PORT; B_PID=$INFLUXD_PID
A=http://127.0.0.1:$A_PORT; B=http://127.0.0.1:$B_PORT
wait_ping "$A"; wait_ping "$B"

curl -s -XPOST "$A/query" --data-urlencode 'q=CREATE DATABASE dba' >/dev/null
curl -s -XPOST "$B/query" --data-urlencode 'q=CREATE DATABASE dbb' >/dev/null

# Data: cpu (10 hosts × 360 points over an hour) on A; 1000 more measurements on each backend.
T0=1700000000
node -e '
  const t0 = BigInt(process.argv[1]) * 1000000000n; const lines = [];
  for (let i = 0; i < 3600; i++) lines.push(`cpu,host=h${i % 10} v=${(i * 7) % 100} ${t0 + BigInt(i) * 1000000000n}`);
  for (let m = 0; m < 1000; m++) lines.push(`ma_${m},host=x v=1 ${t0}`);
  process.stdout.write(lines.join("\n"));' "$T0" > "$WORK/a.lp"
node -e '
  const t0 = BigInt(process.argv[1]) * 1000000000n; const lines = [];
  for (let m = 0; m < 1000; m++) lines.push(`mb_${m},host=y v=1 ${t0}`);
  lines.push(`temperature,host=t v=20 ${t0}`);
  process.stdout.write(lines.join("\n"));' "$T0" > "$WORK/b.lp"
curl -sf -XPOST "$A/write?db=dba" --data-binary @"$WORK/a.lp"
curl -sf -XPOST "$B/write?db=dbb" --data-binary @"$WORK/b.lp"

P_PORT=$(free_port); P=http://127.0.0.1:$P_PORT
cat > "$WORK/proxy.json" <<EOF
{"backends": {"a": {"url": "$A", "db": "dba", "zone": "z"}, "b": {"url": "$B", "db": "dbb", "zone": "z"}},
 "keymaps": {"cpu": ["a"], "temperature": ["b"], "_default_": ["a", "b"]},
 "proxies": {"p1": {"listenAddr": "127.0.0.1:$P_PORT", "db": "mydb", "zone": "z"}}}
EOF
mkdir -p "$WORK/spool"
"$ROOT/bin/influxdb-proxy" --config "$WORK/proxy.json" --node p1 --spool-dir "$WORK/spool" > "$WORK/proxy.log" 2>&1 &
PIDS+=($!); P_PID=$!
wait_ping "$P"

enc() { node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$1"; }
SELECT_Q=$(enc "SELECT mean(v) FROM cpu WHERE time >= ${T0}s AND time < $((T0 + 3600))s GROUP BY time(10m), host")
SHOW_Q=$(enc "SHOW MEASUREMENTS")

# Sanity: the proxy answers what the backend answers.
cmp <(curl -s "$A/query?db=dba&q=$SELECT_Q") <(curl -s "$P/query?db=mydb&q=$SELECT_Q") >/dev/null \
  || { echo "proxy and influxd disagree on the SELECT" >&2; exit 1; }

run() { # label url conns → "label req/s p50 p99, CPU per request of influxd A / B and the proxy"
  local out rps p50 p99 reqs cpu="" pid before=()
  for pid in "$A_PID" "$B_PID" "$P_PID"; do before+=("$(cpu_ticks "$pid")"); done
  out=$($WRAP wrk -t"$(( $3 < 2 ? $3 : 2 ))" -c"$3" -d"${DURATION}s" --latency "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  local i=0
  for pid in "$A_PID" "$B_PID" "$P_PID"; do
    cpu+=" $(( ($(cpu_ticks "$pid") - before[i]) * 1000000 / TICK / (reqs > 0 ? reqs : 1) ))"
    i=$((i + 1))
  done
  read -r ca cb cp <<<"$cpu"
  printf '%-22s c=%-2s %9s req/s  p50 %8s  p99 %8s  CPU/req µs: A %5s B %5s proxy %5s\n' "$1" "$3" "$rps" "$p50" "$p99" "$ca" "$cb" "$cp"
  echo "$1|$3|$rps|$p50" >> "$WORK/results"
}

ms() { # wrk latency (e.g. 812.00us, 1.23ms, 1.01s) → ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
get() { awk -F'|' -v l="$1" -v c="$2" -v f="$3" '$1 == l && $2 == c { s += (f == 3 ? $3 : 0); n++; v = $f } END { print (f == 3 ? s / n : v) }' "$WORK/results"; }
p50avg() { # label conns → mean p50 in ms over the rounds
  local sum=0 n=0
  while IFS='|' read -r l c _ p; do
    if [ "$l" = "$1" ] && [ "$c" = "$2" ]; then sum=$(awk -v s="$sum" -v x="$(ms "$p")" 'BEGIN { print s + x }'); n=$((n + 1)); fi
  done < "$WORK/results"
  awk -v s="$sum" -v n="$n" 'BEGIN { printf "%.3f", s / n }'
}

WRAP=""
if [ "${PIN:-0}" = 1 ]; then
  LAST=$(( $(nproc) - 1 ))
  [ "$LAST" -ge 1 ] || { echo "PIN=1 needs 2 CPUs or more" >&2; exit 1; }
  for pid in "$A_PID" "$B_PID"; do taskset -a -pc "$LAST" "$pid" >/dev/null; done
  taskset -a -pc "0-$((LAST - 1))" "$P_PID" >/dev/null
  WRAP="taskset -c 0-$((LAST - 1))"
  echo "PIN=1: influxd on CPU $LAST; proxy and wrk on CPUs 0-$((LAST - 1))"
fi

# JIT warm-up, not measured.
$WRAP wrk -t1 -c2 -d2s "$P/query?db=mydb&q=$SELECT_Q" >/dev/null
$WRAP wrk -t1 -c2 -d2s "$P/query?db=mydb&q=$SHOW_Q" >/dev/null

echo "wrk -t2 -d${DURATION}s, loopback, $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "--- SELECT … GROUP BY (single backend, streamed); alternating rounds"
for _ in 1 2; do
  run "select direct A" "$A/query?db=dba&q=$SELECT_Q" "$CONNS"
  run "select proxy" "$P/query?db=mydb&q=$SELECT_Q" "$CONNS"
done
# One connection: the latency the extra hop adds when the CPUs are not saturated.
run "select direct A" "$A/query?db=dba&q=$SELECT_Q" 1
run "select proxy" "$P/query?db=mydb&q=$SELECT_Q" 1
if [ "${PIN:-0}" != 1 ]; then
  echo "--- SHOW MEASUREMENTS (fan-out over 2 backends, merged; at c>1 identical SHOWs in flight share one fan-out)"
  for c in 1 "$CONNS"; do
    run "show direct A" "$A/query?db=dba&q=$SHOW_Q" "$c"
    run "show direct B" "$B/query?db=dbb&q=$SHOW_Q" "$c"
    run "show proxy fan-out" "$P/query?db=mydb&q=$SHOW_Q" "$c"
  done
fi

echo "--- summary"
awk -v d="$(get "select direct A" "$CONNS" 3)" -v p="$(get "select proxy" "$CONNS" 3)" \
    -v d50="$(p50avg "select direct A" "$CONNS")" -v p50="$(p50avg "select proxy" "$CONNS")" \
  'BEGIN { printf "SELECT c=%s: proxy %.0f req/s = %.1f %% of direct %.0f (target >= 85 %%); p50 %.3f vs %.3f ms: +%.3f ms (target <= 0.5)\n", '"$CONNS"', p, 100 * p / d, d, p50, d50, p50 - d50 }'
awk -v d50="$(p50avg "select direct A" 1)" -v p50="$(p50avg "select proxy" 1)" -v d="$(get "select direct A" 1 3)" -v p="$(get "select proxy" 1 3)" \
  'BEGIN { printf "SELECT c=1: p50 %.3f vs %.3f ms: +%.3f ms; %.0f vs %.0f req/s\n", p50, d50, p50 - d50, p, d }'
[ "${PIN:-0}" = 1 ] || for c in 1 "$CONNS"; do
  awk -v a="$(p50avg "show direct A" "$c")" -v b="$(p50avg "show direct B" "$c")" -v p="$(p50avg "show proxy fan-out" "$c")" \
      -v ra="$(get "show direct A" "$c" 3)" -v rb="$(get "show direct B" "$c" 3)" -v rp="$(get "show proxy fan-out" "$c" 3)" -v c="$c" \
    'BEGIN { slow = a > b ? a : b; rslow = ra < rb ? ra : rb;
             printf "SHOW MEASUREMENTS fan-out c=%s: p50 %.3f ms = %.2f x the slower backend %.3f ms (target <= 1.5 x); %.0f req/s = %.1f %% of the slower backend\n", c, p, p / slow, slow, rp, 100 * rp / rslow }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
