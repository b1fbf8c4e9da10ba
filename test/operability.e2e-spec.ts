/**
 * What an operator watches: /metrics checked against the traffic this test sends, /health passing
 * with per-backend detail and failing (503) once no backend is reachable and no spool has room,
 * per-request trace lines carrying the client's request id (and never a password), and the
 * self-report landing in a real influxd through the proxy's own write path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort, freePorts } from './support/ports';
import { makeTempDir, removeDir, stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'opsdb';
let A: Influxd;
let B: Influxd;

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), A.createDatabase('dbself'), B.createDatabase('dbb')]);
});

afterAll(async () => {
  await stopAll();
});

const backend = (url: string, db: string, extra: Record<string, unknown> = {}) => ({
  url,
  db,
  timeout: 2_000,
  checkInterval: 200,
  rewriteInterval: 200,
  downAfter: 1,
  upAfter: 1,
  ...extra,
});

function node(port: number, extra: Record<string, unknown> = {}) {
  return { listenAddr: `127.0.0.1:${port}`, db: DB, idleTimeout: 10, interval: 0, ...extra };
}

function write(proxy: ProxyProcess, body: string, headers: Record<string, string> = {}, params = '') {
  return request(`${proxy.url}/write?db=${DB}${params}`, { method: 'POST', body, headers });
}

/** GET /metrics, parsed into series → value. */
async function scrape(proxy: ProxyProcess): Promise<Map<string, number>> {
  const res = await request(`${proxy.url}/metrics`);
  expect(res.status).toBe(200);
  const series = new Map<string, number>();
  for (const line of res.text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

function lines(measurement: string, n: number, from = 0): string {
  let body = '';
  for (let i = 0; i < n; i++) body += `${measurement},host=h${i % 3} v=${i}i ${1_700_000_000_000_000_000n + BigInt(from + i)}\n`;
  return body;
}

describe('/metrics and /health against the traffic sent', () => {
  let proxy: ProxyProcess;

  beforeAll(async () => {
    const config: ProxyConfig = {
      backends: { a: backend(A.url, 'dba'), b: backend(B.url, 'dbb') },
      // no _default_: `disk` has no backend
      keymaps: { cpu: ['a', 'b'], mem: ['a'] },
      proxies: { p1: node(await freePort()) },
    };
    proxy = await startProxy({ config });
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  it('counts points received, routed, written and dropped (with the reason) as the test sent them', async () => {
    const body = lines('cpu', 50) + lines('mem', 30) + 'disk v=1i 1700000000000000000\n' + ',nomeasurement v=1\n';
    const res = await write(proxy, body);
    expect(res.status).toBe(400); // partial write: the good lines are written
    expect(res.json().error).toMatch(/dropped=2$/);
    expect((await write(proxy, lines('cpu', 10, 1000))).status).toBe(204);

    const m = await scrape(proxy);
    expect(m.get('influxdb_proxy_points_received_total')).toBe(92);
    expect(m.get('influxdb_proxy_points_routed_total{backend="a"}')).toBe(90);
    expect(m.get('influxdb_proxy_points_routed_total{backend="b"}')).toBe(60);
    expect(m.get('influxdb_proxy_points_written_total{backend="a"}')).toBe(90);
    expect(m.get('influxdb_proxy_points_written_total{backend="b"}')).toBe(60);
    expect(m.get('influxdb_proxy_points_dropped_total{reason="unroutable",backend=""}')).toBe(1);
    expect(m.get('influxdb_proxy_points_dropped_total{reason="unparsable",backend=""}')).toBe(1);
    expect(m.get('influxdb_proxy_http_requests_total{endpoint="write",status="400"}')).toBe(1);
    expect(m.get('influxdb_proxy_http_requests_total{endpoint="write",status="204"}')).toBe(1);
    expect(m.get('influxdb_proxy_points_spooled_total{backend="a"}') ?? 0).toBe(0);
    expect(m.get('influxdb_proxy_backend_healthy{backend="a"}')).toBe(1);
    expect(m.get('influxdb_proxy_backend_healthy{backend="b"}')).toBe(1);
    // one batch per backend and request at this rate; every flush observed
    expect(m.get('influxdb_proxy_batch_flush_duration_seconds_count{backend="a"}')).toBeGreaterThanOrEqual(2);
    expect(m.get('influxdb_proxy_batch_flush_duration_seconds_bucket{le="+Inf",backend="a"}')).toBe(
      m.get('influxdb_proxy_batch_flush_duration_seconds_count{backend="a"}'),
    );
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(await A.rows('SELECT count(v) FROM cpu', 'dba')).toEqual([{ time: 0n, count: 60 }]);
  });

  it('shows the same counts in /meta’s writeStats as in /metrics (each event counted once)', async () => {
    const { writeStats } = (await request(`${proxy.url}/meta`)).json();
    expect(writeStats).toEqual({
      requests: 2,
      linesAccepted: 90,
      droppedUnparsable: 1,
      droppedUnroutable: 1,
      backendRejected: 0,
      backendUnavailable: 0,
      droppedAfterBufferedAck: 0,
    });
    const m = await scrape(proxy);
    expect(writeStats.droppedUnparsable).toBe(m.get('influxdb_proxy_points_dropped_total{reason="unparsable",backend=""}'));
    expect(writeStats.droppedUnroutable).toBe(m.get('influxdb_proxy_points_dropped_total{reason="unroutable",backend=""}'));
    expect(writeStats.linesAccepted + 2).toBe(m.get('influxdb_proxy_points_received_total'));
  });

  it('counts fan-outs, config reloads and reload failures', async () => {
    const show = await request(`${proxy.url}/query?db=${DB}&q=${encodeURIComponent('SHOW MEASUREMENTS')}`);
    expect(show.status).toBe(200);
    const before = await scrape(proxy);
    expect(before.get('influxdb_proxy_query_fanouts_total')).toBeGreaterThanOrEqual(1);
    expect(before.get('influxdb_proxy_http_requests_total{endpoint="query",status="200"}')).toBe(1);

    const good = JSON.parse(fs.readFileSync(proxy.configPath, 'utf8'));
    await proxy.rewriteConfig({ ...good, keymaps: { ...good.keymaps, disk: ['a'] } });
    expect((await request(`${proxy.url}/reload`, { method: 'POST' })).status).toBe(204);
    await proxy.rewriteConfig('{ not json');
    expect((await request(`${proxy.url}/reload`, { method: 'POST' })).status).toBe(400);
    await proxy.rewriteConfig(good);
    const after = await waitUntil(async () => {
      const m = await scrape(proxy);
      // the file watcher may apply the good file again on its own: at least our one reload
      return (m.get('influxdb_proxy_config_reloads_total') ?? 0) >= 1 && m;
    });
    expect(after.get('influxdb_proxy_config_reload_failures_total')).toBeGreaterThanOrEqual(1);
  });

  it('shows a killed backend: health gauge 0, its points spooled, /health still 200 with per-backend detail', async () => {
    const healthy = await request(`${proxy.url}/health`);
    expect(healthy.status).toBe(200);
    expect(healthy.json()).toMatchObject({
      name: 'influxdb',
      message: 'ready for queries and writes',
      status: 'pass',
      version: A.version,
      checks: [
        { name: 'backend:a', status: 'pass', healthy: true },
        { name: 'backend:b', status: 'pass', healthy: true },
      ],
    });

    await B.kill();
    const batch = lines('cpu', 20, 2000);
    expect((await write(proxy, batch)).status).toBe(204); // b's copy goes to its spool
    const m = await scrape(proxy);
    expect(m.get('influxdb_proxy_backend_healthy{backend="b"}')).toBe(0);
    expect(m.get('influxdb_proxy_backend_healthy{backend="a"}')).toBe(1);
    expect(m.get('influxdb_proxy_points_spooled_total{backend="b"}')).toBe(20);
    expect(m.get('influxdb_proxy_spool_backlog_records{backend="b"}')).toBe(1);
    expect(m.get('influxdb_proxy_spool_backlog_bytes{backend="b"}')).toBeGreaterThan(batch.length); // the lines and a record header
    expect(m.get('influxdb_proxy_spool_oldest_age_seconds{backend="b"}')).toBeGreaterThanOrEqual(0);

    const degraded = await request(`${proxy.url}/health`);
    expect(degraded.status).toBe(200);
    const report = degraded.json();
    expect(report.status).toBe('pass');
    expect(report.message).toMatch(/degraded: 1 of 2 backends up/);
    expect(report.checks[1]).toMatchObject({
      name: 'backend:b',
      status: 'fail',
      healthy: false,
      message: expect.stringMatching(/^down; its writes are spooled/),
      spool: { records: 1, full: false },
    });

    // b comes back: the backlog is replayed, and counted
    await B.restart();
    const replayed = await waitUntil(
      async () => {
        const now = await scrape(proxy);
        return now.get('influxdb_proxy_replayed_points_total{backend="b"}') === 20 && now;
      },
      { attempts: 100, what: 'the replay of b’s backlog' },
    );
    expect(replayed.get('influxdb_proxy_spool_backlog_records{backend="b"}')).toBe(0);
    expect(replayed.get('influxdb_proxy_points_written_total{backend="b"}')).toBe(80);
  });
});

describe('/health when nothing can serve', () => {
  it('fails with 503 once no backend is reachable and every spool is full', async () => {
    const [deadA, deadB, port] = await freePorts(3);
    const dead = (p: number) => backend(`http://127.0.0.1:${p}`, 'x', { spoolMaxBytes: 4096, timeout: 500 });
    const proxy = await startProxy({
      config: {
        backends: { a: dead(deadA), b: dead(deadB) },
        keymaps: { _default_: ['a', 'b'] },
        proxies: { p1: node(port) },
      },
    });
    try {
      const first = await write(proxy, lines('m', 10));
      expect(first.status).toBe(204); // spooled on both
      const spooling = await request(`${proxy.url}/health`);
      expect(spooling.status).toBe(200);
      expect(spooling.json()).toMatchObject({ status: 'pass', message: 'ready for writes (spooled); no backend reachable for queries' });

      let status = 204;
      for (let i = 1; i < 50 && status === 204; i++) status = (await write(proxy, lines('m', 10, i * 10))).status;
      expect(status).toBe(503);

      const down = await request(`${proxy.url}/health`);
      expect(down.status).toBe(503);
      expect(down.headers['content-type']).toMatch(/^application\/json/);
      expect(down.json()).toMatchObject({
        name: 'influxdb',
        status: 'fail',
        message: 'no backend reachable and no spool space',
        checks: [
          { name: 'backend:a', status: 'fail', healthy: false, spool: { full: true, maxBytes: 4096 } },
          { name: 'backend:b', status: 'fail', healthy: false, spool: { full: true } },
        ],
      });
      const m = await scrape(proxy);
      expect(m.get('influxdb_proxy_points_dropped_total{reason="spool_full",backend="a"}')).toBeGreaterThanOrEqual(10);
      expect(m.get('influxdb_proxy_http_requests_total{endpoint="write",status="503"}')).toBe(1);
      expect(m.get('influxdb_proxy_http_requests_total{endpoint="health",status="503"}')).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});

describe('request logs and the self-report', () => {
  let proxy: ProxyProcess;
  let logDir: string;
  let logFile: string;

  beforeAll(async () => {
    logDir = await makeTempDir('proxy-logs');
    logFile = path.join(logDir, 'proxy.log');
    proxy = await startProxy({
      config: {
        backends: { a: backend(A.url, 'dbself') },
        keymaps: { _default_: ['a'] },
        proxies: {
          p1: node(await freePort(), {
            writeTracing: 1,
            queryTracing: 1,
            selfReport: 1,
            interval: 1,
            selfReportMeasurement: 'proxy_stats',
          }),
        },
      },
      logFile,
      extraArgs: ['--log-rotate-size', '10M', '--log-rotate-keep', '2'],
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    await removeDir(logDir);
  });

  /** The JSON log lines written so far. */
  function logLines(): Record<string, any>[] {
    if (!fs.existsSync(logFile)) return [];
    return fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  }

  it('logs each traced request with the id the client sent in X-Request-Id, and no password', async () => {
    const w = await write(proxy, lines('traced', 7), { 'X-Request-Id': 'trace-w-1' }, '&u=bob&p=s3cr3t-url');
    expect(w.status).toBe(204);
    expect(w.headers['request-id']).toBe('trace-w-1');
    const q = await request(`${proxy.url}/query?db=${DB}&u=bob&p=s3cr3t-url`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Request-Id': 'trace-q-1' },
      body: new URLSearchParams({ q: "SELECT count(v) FROM traced; CREATE USER eve WITH PASSWORD 's3cr3t-q'" }).toString(),
    });
    expect(q.headers['request-id']).toBe('trace-q-1');

    const [wl, ql] = await waitUntil(
      async () => {
        const all = logLines();
        const wl = all.find((l) => l.reqId === 'trace-w-1' && l.context === 'http');
        const ql = all.find((l) => l.reqId === 'trace-q-1' && l.context === 'http');
        return wl && ql && [wl, ql];
      },
      { attempts: 50, what: 'the trace lines in the log file' },
    );
    expect(wl).toMatchObject({ level: 30, node: 'p1', method: 'POST', db: DB, status: 204, lines: 7 });
    expect(wl.url).toBe(`/write?db=${DB}&u=bob`);
    expect(typeof wl.durationMs).toBe('number');
    expect(ql).toMatchObject({ method: 'POST', db: DB, status: q.status, url: `/query?db=${DB}&u=bob` });
    expect(ql.q).toBe('SELECT count(v) FROM traced; CREATE USER eve WITH PASSWORD ******');
    expect(fs.readFileSync(logFile, 'utf8')).not.toMatch(/s3cr3t/);
  });

  it('does not trace untraced endpoints', async () => {
    await request(`${proxy.url}/ping`, { headers: { 'X-Request-Id': 'ping-1' } });
    await request(`${proxy.url}/metrics`);
    expect(logLines().some((l) => l.reqId === 'ping-1')).toBe(false);
  });

  it('writes its counters as points through its own write path into the backend', async () => {
    expect((await write(proxy, lines('reported', 25))).status).toBe(204);
    const rows = await waitUntil(
      async () => {
        const r = await A.rows("SELECT * FROM proxy_stats WHERE backend = ''", 'dbself').catch(() => []);
        const total = r.reduce((sum, row) => sum + (row.pointsReceived ?? 0), 0);
        return total >= 32 && r; // 7 traced + 25 lines, counted in the reports since start
      },
      { attempts: 60, intervalMs: 250, what: 'self-report points in influxd' },
    );
    expect(rows[0]).toMatchObject({ proxy: 'p1', addr: expect.stringMatching(/^127\.0\.0\.1:\d+$/), backends: 1, backendsUp: 1 });
    expect(rows.reduce((sum, row) => sum + row.writeRequests, 0)).toBeGreaterThanOrEqual(2);
    const perBackend = await A.rows("SELECT * FROM proxy_stats WHERE backend = 'a'", 'dbself');
    expect(perBackend.length).toBeGreaterThan(0);
    expect(perBackend.reduce((sum, row) => sum + row.pointsRouted, 0)).toBeGreaterThanOrEqual(32);
    expect(perBackend[perBackend.length - 1]).toMatchObject({ healthy: 1, spoolRecords: 0 });
    const m = await scrape(proxy);
    expect(m.get('influxdb_proxy_self_reports_total{result="ok"}')).toBeGreaterThanOrEqual(1);
  });
});
