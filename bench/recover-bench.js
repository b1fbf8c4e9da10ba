#!/usr/bin/env node
// npm run bench:recover — the data-movement engine's copy rate against influxd's own ingest, in one run.
//
//   npm run bench:recover                      (10 M points over 100 measurements)
//   POINTS=1000000 npm run bench:recover       (a smaller run)
//   env: POINTS (10000000)  MEASUREMENTS (100)  SERIES (10 per measurement)  BATCH (5000 lines per write)
//        THROTTLE (points/s for the throttled run; default `auto`: half the unthrottled recover's rate,
//        a limit the engine can reach on this machine; 0 skips it)  THROTTLE_SECS (20)
//        CHUNK_ROWS (the engine's chunk_size, default its own: 10000)
//        PIN=1: influxd A (the source) and the engine on cpu 0, B and D (the targets) on cpu 1 — on a 2-core
//        machine, source and target then do not take cpu from each other, as on two hosts (needs taskset)
//
// Three influxd (1.x, on PATH, under prlimit --as=4000000000, temp dirs, loopback ports): A, B and D.
//   1. load: POINTS lines into A through /write, BATCH lines per request, 2 requests in flight (untimed);
//   2. direct: the same lines, the same batches and concurrency, into D — timed: influxd's own ingest rate;
//   3. recover: a child node process runs InfluxJobEngine.plan + run for `recover b` (keymap _default_: a, b),
//      unthrottled — timed from run() to its end (the plan's discovery is timed apart); its peak RSS (VmHWM);
//   4. throttled: another child recovers B again (emptied: DROP DATABASE) at THROTTLE points/s for
//      THROTTLE_SECS, then aborts; the achieved rate is the points it reported up to its last finished
//      window over the time to that window.
// Printed: points/s of each, the ratio recover/direct (target ≥ 70 %), the engine's peak RSS (< 250 MB),
// the throttled rate against its limit (within 10 %), and counts on A and B checked equal.
// Everything it starts is stopped by PID on exit. Needs node and influxd.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const POINTS = Number(process.env.POINTS ?? 10_000_000);
const MEASUREMENTS = Number(process.env.MEASUREMENTS ?? 100);
const SERIES = Number(process.env.SERIES ?? 10);
const BATCH = Number(process.env.BATCH ?? 5000);
const THROTTLE_ENV = process.env.THROTTLE ?? 'auto';
const PIN = process.env.PIN === '1';
const THROTTLE_SECS = Number(process.env.THROTTLE_SECS ?? 20);
/** Writes in flight for the load and the direct run: the engine's own (writesInFlight). */
const IN_FLIGHT = 2;
/** 2024-01-01T00:00:00Z in seconds. */
const T0_S = 1_704_067_200;

// ---------------------------------------------------------------------------------------------
// the engine child: the TypeScript sources compiled with @swc/core (as jest does) by the parent, once,
// into WORK/js, so the child loads plain JS and its RSS is the engine's, not the compiler's

const SWC_OPTIONS = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
};

/** Every lib's sources (not specs) compiled into OUT/libs/<lib>/src/<file>.js. */
function compileLibs(out) {
  const swc = require('@swc/core');
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) {
        const target = path.join(out, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, swc.transformSync(fs.readFileSync(file, 'utf8'), { ...SWC_OPTIONS, filename: file }).code);
      }
    }
  };
  walk(path.join(ROOT, 'libs'));
}

/** `@app/x/y` → JS/libs/x/src/y; everything else from the project's node_modules (NODE_PATH). */
function resolveAppPaths(js) {
  const Module = require('node:module');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    const m = /^@app\/([a-z-]+)(\/.*)?$/.exec(request);
    if (m) request = path.join(js, 'libs', m[1], 'src', m[2] ?? '');
    return resolve.call(this, request, ...rest);
  };
}

function vmHwmMb() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
}

async function engineChild(args) {
  resolveAppPaths(args.js);
  const { InfluxJobEngine } = require(path.join(args.js, 'libs/data-movement/src'));
  const { parseClusterConfig } = require(path.join(args.js, 'libs/config/src'));
  const { PRODUCT_CONFIG_RULES } = require(path.join(args.js, 'libs/cli/src/config-rules'));
  const silent = {
    debug() {},
    log() {},
    warn: (m) => process.stderr.write(JSON.stringify(m) + '\n'),
    error: (m) => process.stderr.write(JSON.stringify(m) + '\n'),
  };
  const config = parseClusterConfig(
    {
      backends: { a: { url: args.a, db: 'bench', timeoutQuery: 600_000 }, b: { url: args.b, db: 'bench', timeoutQuery: 600_000 } },
      keymaps: { _default_: ['a', 'b'] },
      proxies: {},
    },
    PRODUCT_CONFIG_RULES,
  );
  const engine = new InfluxJobEngine({
    logger: silent,
    ...(process.env.CHUNK_ROWS ? { tuning: { chunkRows: Number(process.env.CHUNK_ROWS) } } : {}),
  });
  const request = { kind: 'recover', backend: 'b' };
  const planStart = performance.now();
  const plan = await engine.plan(request, config);
  const planSeconds = (performance.now() - planStart) / 1000;
  const abort = new AbortController();
  let last;
  // what the process holds before copying: node, the engine's code and its libraries, the plan
  const baseRssMb = process.memoryUsage().rss / 1048576;
  let peakMb = vmHwmMb();
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, vmHwmMb())), 200);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const startWall = Date.now();
  let timer;
  if (args.seconds > 0) timer = setTimeout(() => abort.abort(new Error('throttle run over')), args.seconds * 1000);
  let aborted = false;
  try {
    await engine.run({ id: 'bench', request, state: 'running', createdAt: Date.now(), plan }, config, {
      signal: abort.signal,
      pointsPerSecond: args.pointsPerSecond,
      onProgress: async (p) => {
        last = p;
      },
    });
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    aborted = true;
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearTimeout(timer);
  clearInterval(sampler);
  peakMb = Math.max(peakMb, vmHwmMb());
  await engine.close();
  const result = {
    planSeconds,
    steps: plan.steps.length,
    estimatedPoints: plan.estimatedPoints,
    estimatedBytes: plan.estimatedBytes,
    seconds,
    aborted,
    pointsCopied: last?.pointsCopied ?? 0,
    bytesCopied: last?.bytesCopied ?? 0,
    // until the last window reported (progress comes per window): the rate the throttle allowed
    secondsToLastWindow: last ? (last.updatedAt - startWall) / 1000 : seconds,
    windows: `${last?.windowsDone ?? 0}/${last?.windowsTotal ?? 0}`,
    peakRssMb: peakMb,
    baseRssMb,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

// ---------------------------------------------------------------------------------------------
// the orchestrator

const pids = [];
let work;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function httpRequest(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: keepAlive }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

async function query(url, q, db) {
  const params = new URLSearchParams({ q, ...(db ? { db } : {}) });
  const res = await httpRequest(`${url}/query`, {
    method: 'POST',
    body: params.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (res.status !== 200) throw new Error(`${q}: ${res.status} ${res.text}`);
  const json = JSON.parse(res.text);
  if (json.results?.[0]?.error) throw new Error(`${q}: ${json.results[0].error}`);
  return json;
}

async function startInfluxd(name) {
  // (the name says which cpu it is pinned to with PIN)
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  const [port, rpc] = [await freePort(), await freePort()];
  const conf = `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
  logging-enabled = false
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[logging]
  suppress-logo = true
  level = "error"
`;
  fs.writeFileSync(path.join(dir, 'influxd.conf'), conf);
  // prlimit execs influxd: the PID is influxd's
  const command = ['prlimit', '--as=4000000000', '--', 'influxd', '-config', path.join(dir, 'influxd.conf')];
  // PIN: the source (A) on cpu 0, the targets (B, D) on cpu 1, as if source and target were two hosts
  if (PIN) command.unshift('taskset', '-c', name === 'a' ? '0' : '1');
  const proc = spawn(command[0], command.slice(1), {
    stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'log'), 'w')],
  });
  pids.push(proc.pid);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    try {
      if ((await httpRequest(`${url}/ping`)).status === 204) return { url, pid: proc.pid };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`influxd ${name} did not answer /ping`);
}

/** The bench's points, batch by batch: measurement k, SERIES hosts, fields v (float), n (integer), s (string) every 10 s per series. */
function* batches() {
  const perMeasurement = Math.floor(POINTS / MEASUREMENTS);
  let lines = [];
  for (let m = 0; m < MEASUREMENTS; m++) {
    for (let i = 0; i < perMeasurement; i++) {
      const host = i % SERIES;
      const t = T0_S + Math.floor(i / SERIES) * 10;
      lines.push(`m${m},host=h${host},dc=d${m % 3} v=${(i % 1000) + 0.5},n=${i}i,ok=${i % 2 === 0} ${t}`);
      if (lines.length === BATCH) {
        yield lines.join('\n');
        lines = [];
      }
    }
  }
  if (lines.length > 0) yield lines.join('\n');
}

/** Writes every batch to `url` with IN_FLIGHT requests in flight; returns points/s. */
async function load(url) {
  await query(url, 'CREATE DATABASE bench');
  const it = batches();
  let points = 0;
  const start = performance.now();
  const worker = async () => {
    for (let next = it.next(); !next.done; next = it.next()) {
      const body = next.value;
      const res = await httpRequest(`${url}/write?db=bench&precision=s`, { method: 'POST', body });
      if (res.status !== 204) throw new Error(`write to ${url}: ${res.status} ${res.text}`);
      points += BATCH;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { seconds, rate: Math.min(points, POINTS) / seconds };
}

function runChild(args) {
  return new Promise((resolve, reject) => {
    const argv = [__filename, '--engine', JSON.stringify({ ...args, js: path.join(work, 'js') })];
    const child = spawn(PIN ? 'taskset' : process.execPath, PIN ? ['-c', '0', process.execPath, ...argv] : argv, {
      cwd: ROOT,
      env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    pids.push(child.pid);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`engine child exited ${code}: ${out}`)),
    );
  });
}

async function totalCount(url) {
  let total = 0;
  const json = await query(url, 'SELECT count(v) FROM /.*/ WHERE time >= 0 AND time < now() + 3650d', 'bench');
  for (const s of json.results[0].series ?? []) total += s.values[0][1];
  return total;
}

function cleanup() {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (work) {
    const deadline = Date.now() + 5000;
    const alive = (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (pids.some(alive) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'recover-bench.'));
  process.on('exit', cleanup);
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const fmt = (n) => Math.round(n).toLocaleString('en');
  if (PIN) console.log('PIN=1: influxd A and the engine on cpu 0, influxd B and D on cpu 1');
  console.log(
    `recover bench: ${fmt(POINTS)} points over ${MEASUREMENTS} measurements (${SERIES} series each), ${BATCH} lines per write, ${IN_FLIGHT} writes in flight`,
  );
  compileLibs(path.join(work, 'js'));
  const [a, b, d] = [await startInfluxd('a'), await startInfluxd('b'), await startInfluxd('d')];
  const loaded = await load(a.url);
  console.log(`load into A:            ${fmt(loaded.rate)} points/s (${loaded.seconds.toFixed(1)} s)`);
  const direct = await load(d.url);
  console.log(`direct ingest into D:   ${fmt(direct.rate)} points/s (${direct.seconds.toFixed(1)} s)   ← influxd's own ingest`);
  const recover = await runChild({ a: a.url, b: b.url, pointsPerSecond: 0, seconds: 0 });
  const recoverRate = recover.pointsCopied / recover.seconds;
  console.log(
    `recover A → B (engine): ${fmt(recoverRate)} points/s (${recover.seconds.toFixed(1)} s; plan ${recover.planSeconds.toFixed(1)} s, ` +
      `${recover.steps} steps, ${recover.windows} windows, ${fmt(recover.pointsCopied)} points, ${fmt(recover.bytesCopied)} bytes; ` +
      `estimated ${fmt(recover.estimatedPoints)} points, ${fmt(recover.estimatedBytes)} bytes)`,
  );
  console.log(
    `engine CPU:             ${recover.cpuSeconds.toFixed(1)} s (${((1e6 * recover.cpuSeconds) / recover.pointsCopied).toFixed(2)} µs a point)`,
  );
  console.log(`ratio recover/direct:   ${((100 * recoverRate) / direct.rate).toFixed(1)} %   (target ≥ 70 %)`);
  console.log(
    `engine peak RSS:        ${recover.peakRssMb.toFixed(0)} MB   (target < 250 MB; ${recover.baseRssMb.toFixed(0)} MB before the copy began)`,
  );
  const [countA, countB] = [await totalCount(a.url), await totalCount(b.url)];
  console.log(`points on A / on B:     ${fmt(countA)} / ${fmt(countB)}   ${countA === countB ? 'equal' : 'DIFFERENT'}`);
  // a limit the engine can reach on this machine: half its unthrottled rate, unless THROTTLE says otherwise
  const limit = THROTTLE_ENV === 'auto' ? Math.max(1000, Math.round(recoverRate / 2 / 1000) * 1000) : Number(THROTTLE_ENV);
  if (limit > 0) {
    await query(b.url, 'DROP DATABASE bench');
    const throttled = await runChild({ a: a.url, b: b.url, pointsPerSecond: limit, seconds: THROTTLE_SECS });
    const rate = throttled.pointsCopied / throttled.secondsToLastWindow;
    console.log(
      `throttled recover:      ${fmt(rate)} points/s over ${throttled.secondsToLastWindow.toFixed(1)} s (to its last finished window) at a limit of ${fmt(limit)} ` +
        `(${(((rate - limit) / limit) * 100).toFixed(1)} %; target within 10 %)${throttled.aborted ? '' : ' — finished before the time was up'}; peak RSS ${throttled.peakRssMb.toFixed(0)} MB`,
    );
  }
}

if (process.argv[2] === '--engine') {
  engineChild(JSON.parse(process.argv[3])).catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
} else {
  main().then(
    // the keep-alive sockets would hold the process open
    () => process.exit(0),
    (err) => {
      console.error(err.stack ?? err);
      process.exit(1);
    },
  );
}
