#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine with Node 20 (as root): installs the real servers the
# end-to-end tests start (influxd, redis-server, etcd, prometheus) when they are missing, the npm packages, then runs
# unit and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v influxd >/dev/null || need+=(influxdb)
command -v redis-server >/dev/null || need+=(redis-server)
command -v etcd >/dev/null || need+=(etcd-server)
command -v prlimit >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)
command -v prometheus >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
# Debian starts these services on install where an init system runs; the tests start their own.
for svc in influxdb redis-server etcd prometheus; do
  (command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null) || true
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
exec npx jest --ci "$@"
