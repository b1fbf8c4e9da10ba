/**
 * The query guard end to end: a real influxd (under prlimit) behind the proxy. The query that made
 * influxd 1.6.7 allocate 24 GB here is refused before any backend sees it; the backend stays up; the
 * same query with Grafana's bounded ranges passes and returns data.
 */
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll, waitUntil } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'mydb';
let A: Influxd;
let proxy: ProxyProcess;
let strict: ProxyProcess;
const UNBOUNDED = 'SELECT mean(v) FROM heavy WHERE time > 0 GROUP BY time(1m), host';
const now = Date.now();

async function query(p: ProxyProcess, q: string, extra: Record<string, string> = {}) {
  const qs = new URLSearchParams({ db: DB, q, ...extra });
  return request(`${p.url}/query?${qs}`);
}

beforeAll(async () => {
  A = await startInfluxd();
  await A.createDatabase('dba');
  const backends = { a: { url: A.url, db: 'dba' } };
  const node = (port: number, extra = {}) => ({ listenAddr: `127.0.0.1:${port}`, db: DB, ...extra });
  proxy = await startProxy({ config: { backends, keymaps: { _default_: ['a'] }, proxies: { p1: node(await freePort()) } } });
  strict = await startProxy({
    config: {
      backends,
      keymaps: { _default_: ['a'] },
      proxies: { p1: node(await freePort(), { maxSelectBuckets: 1000, maxUnboundedRawSelect: true }) },
    },
  });
  // points in the last hour, in ms precision
  let body = '';
  for (let i = 0; i < 60; i++) body += `heavy,host=h${i % 3} v=${i} ${now - i * 60_000}\n`;
  const res = await request(`${proxy.url}/write?db=${DB}&precision=ms`, { method: 'POST', body });
  expect(res.status).toBe(204);
});

afterAll(stopAll);

it('refuses the unbounded GROUP BY time() query with influxd’s max-select-buckets wording, before the backend sees it', async () => {
  const pid = A.pid;
  const res = await query(proxy, UNBOUNDED);
  expect(res.status).toBe(400);
  const { error } = res.json();
  const [, count, limit] = /^max-select-buckets limit exceeded: \((\d+)\/(\d+)\)$/.exec(error) ?? [];
  expect(Number(limit)).toBe(100000);
  // minutes since 1970, give or take the minute the test runs in
  expect(Math.abs(Number(count) - now / 60_000)).toBeLessThan(3);
  expect(res.headers['x-influxdb-error']).toBe(error);
  // the backend is still the same process, and answering
  expect(A.pid).toBe(pid);
  expect((await request(`${A.url}/ping`)).status).toBe(204);
  // logged with the client address (the log line may reach us a moment after the answer)
  await waitUntil(async () => /from 127\.0\.0\.1 refused by the guard \(max-select-buckets/.test(proxy.output()), {
    attempts: 50,
    what: 'the guard refusal in the proxy log',
    details: () => proxy.output(),
  });
});

it('lets the same query through with a Grafana-style relative range and returns data', async () => {
  const res = await query(proxy, 'SELECT mean(v) FROM heavy WHERE time >= now() - 6h GROUP BY time(1m), host fill(none)', {
    epoch: 'ms',
  });
  expect(res.status).toBe(200);
  const series = res.json().results[0].series;
  expect(series.map((s: { tags: { host: string } }) => s.tags.host).sort()).toEqual(['h0', 'h1', 'h2']);
});

it('lets it through with absolute millisecond bounds as Grafana sends them', async () => {
  const q = `SELECT mean(v) FROM heavy WHERE time >= ${now - 3_600_000}ms and time <= ${now}ms GROUP BY time(1m) fill(null)`;
  const res = await query(proxy, q, { epoch: 'ms' });
  expect(res.status).toBe(200);
  expect(res.json().results[0].series[0].values.length).toBeGreaterThanOrEqual(60);
});

it('refuses a multi-statement query whole when one statement is unbounded', async () => {
  const res = await query(proxy, `CREATE RETENTION POLICY "guarded" ON "${DB}" DURATION 1h REPLICATION 1; ${UNBOUNDED}`);
  expect(res.status).toBe(400);
  expect(res.json().error).toMatch(/^max-select-buckets limit exceeded/);
  const rps = await A.query('SHOW RETENTION POLICIES ON "dba"');
  expect(JSON.stringify(rps)).not.toContain('guarded');
});

it('refuses an unbounded GROUP BY time() inside a subquery', async () => {
  const res = await query(proxy, `SELECT max(m) FROM (${UNBOUNDED.replace('mean(v)', 'mean(v) AS m')})`);
  expect(res.status).toBe(400);
  expect(res.json().error).toMatch(/^max-select-buckets limit exceeded/);
});

it('applies a proxy’s own limit, and its optional cap on raw SELECTs without LIMIT or time bound', async () => {
  const tooMany = await query(strict, 'SELECT mean(v) FROM heavy WHERE time >= now() - 1d GROUP BY time(1m)');
  expect(tooMany.status).toBe(400);
  expect(tooMany.json().error).toMatch(/^max-select-buckets limit exceeded: \(14\d\d\/1000\)$/);
  const raw = await query(strict, 'SELECT * FROM heavy');
  expect(raw.status).toBe(400);
  expect(raw.json().error).toMatch(/maxUnboundedRawSelect/);
  expect((await query(strict, 'SELECT * FROM heavy LIMIT 5')).status).toBe(200);
  expect((await query(strict, 'SELECT * FROM heavy WHERE time > now() - 1h')).status).toBe(200);
  // the default proxy has the raw cap off
  expect((await query(proxy, 'SELECT * FROM heavy')).status).toBe(200);
});

it('shows the effective guard settings and its refusals in /meta', async () => {
  const meta = (await request(`${strict.url}/meta`)).json();
  expect(meta.queryGuard).toMatchObject({ maxSelectBuckets: 1000, maxUnboundedRawSelect: true });
  expect(meta.queryGuard.forbiddenStatements).toContain('drop-database');
  expect(meta.queryGuard.refusals).toMatchObject({ 'max-select-buckets': 1, 'unbounded-raw-select': 1 });
});
