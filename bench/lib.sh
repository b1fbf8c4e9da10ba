# Shared by the bench scripts (sourced): a temp WORK dir, the PIDs of what they start (stopped on exit,
# by PID: SIGTERM, then SIGKILL after 5 s), free loopback ports, and influxd started the test way.
#   bench_init LABEL          WORK=/tmp/LABEL.XXXXXX, PIDS=(), cleanup on exit
#   free_port                 prints a free loopback port
#   wait_ping URL             waits (15 s at most) until URL/ping answers 204; fails otherwise
#   start_influxd NAME        influxd in $WORK/NAME on loopback ports, under prlimit --as=4000000000;
#                             sets INFLUXD_PORT and INFLUXD_PID (prlimit execs influxd: the PID is influxd's)
#   cpu_ticks PID             utime + stime of PID and its descendants, in TICKs (1/TICK s)
#   peak_reset PID / peak_mb PID
#                             resets / prints (MB) the peak RSS of PID and its descendants, summed
# A process under test is a PID and its descendants: the proxy runs as a supervisor and its workers
# (--workers, one per core by default), where the supervisor's own figures are near zero.

bench_init() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}

TICK=$(getconf CLK_TCK)
tree_pids() { echo "$1"; local c; for c in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$c"; done; }
cpu_ticks() {
  local p t=0 n
  for p in $(tree_pids "$1"); do n=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + n)); done
  echo "$t"
}
peak_reset() { local p; for p in $(tree_pids "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
peak_mb() {
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/status" 2>/dev/null; done | awk '/VmHWM/ { k += $2 } END { printf "%.0f", k / 1024 }'
}

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

wait_ping() {
  for _ in $(seq 1 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/ping")" = 204 ] && return 0
    sleep 0.1
  done
  echo "no answer from $1/ping" >&2
  return 1
}

start_influxd() {
  local name=$1 port rpc
  port=$(free_port); rpc=$(free_port)
  mkdir -p "$WORK/$name"
  cat > "$WORK/$name/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$WORK/$name/meta"
  logging-enabled = false
[data]
  dir = "$WORK/$name/data"
  wal-dir = "$WORK/$name/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[logging]
  suppress-logo = true
  level = "error"
CONF
  prlimit --as=4000000000 -- influxd -config "$WORK/$name/influxd.conf" > "$WORK/$name/log" 2>&1 &
  INFLUXD_PID=$!
  PIDS+=("$INFLUXD_PID")
  INFLUXD_PORT=$port
}
