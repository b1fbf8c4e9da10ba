/**
 * The query guard end to end: a real influxd (under prlimit) behind the proxy. The query that made
 * influxd 1.6.7 allocate 24 GB here is refused before any backend sees it, in influxd's own shape (200,
 * the statement's error); the backend stays up; the same query with Grafana's bounded ranges passes and
 * returns data; an open-ended one over recent data is answered as influxd with max-select-buckets answers it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll, waitUntil } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'mydb';
let A: Influxd;
/** An influxd with max-select-buckets = 100000 of its own, holding the same points: what influxd answers. */
let L: Influxd;
let proxy: ProxyProcess;
let strict: ProxyProcess;
const UNBOUNDED = 'SELECT mean(v) FROM heavy WHERE time > 0 GROUP BY time(1m), host';
const now = Date.now();

async function query(p: ProxyProcess, q: string, extra: Record<string, string> = {}) {
  const qs = new URLSearchParams({ db: DB, q, ...extra });
  return request(`${p.url}/query?${qs}`);
}

beforeAll(async () => {
  [A, L] = await Promise.all([startInfluxd(), startInfluxd()]);
  await fs.promises.appendFile(path.join(L.dir, 'influxd.conf'), '\n[coordinator]\n  max-select-buckets = 100000\n');
  await L.restart();
  await A.createDatabase('dba');
  await L.createDatabase('dba');
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
  expect((await L.write('dba', body, { precision: 'ms' })).status).toBe(204);
});

/** influxd's own answer (the limited influxd, asked directly). */
async function influxd(q: string, extra: Record<string, string> = {}) {
  const qs = new URLSearchParams({ db: 'dba', q, ...extra });
  return request(`${L.url}/query?${qs}`);
}

afterAll(stopAll);

it('refuses the unbounded GROUP BY time() query with influxd’s max-select-buckets answer, before the backend sees it', async () => {
  const pid = A.pid;
  const res = await query(proxy, UNBOUNDED);
  // influxd's shape: 200, the statement's error
  expect(res.status).toBe(200);
  expect(Object.keys(res.json().results[0])).toEqual(['statement_id', 'error']);
  const { error } = res.json().results[0];
  const [, count, limit] = /^max-select-buckets limit exceeded: \((\d+)\/(\d+)\)$/.exec(error) ?? [];
  expect(Number(limit)).toBe(100000);
  // minutes since 1970, give or take the minute the test runs in
  expect(Math.abs(Number(count) - now / 60_000)).toBeLessThan(3);
  // influxd with the same limit gives the same answer
  const direct = (await influxd(UNBOUNDED)).json().results[0];
  expect(direct.error.replace(/\(\d+\//, '(N/')).toBe(error.replace(/\(\d+\//, '(N/'));
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

it('runs the statements before a refused one and answers the refused one with its error, as influxd does', async () => {
  const q = `SELECT count(v) FROM heavy; ${UNBOUNDED}`;
  const res = await query(proxy, q);
  expect(res.status).toBe(200);
  const results = res.json().results;
  expect(results).toHaveLength(2);
  expect(results[0]).toEqual({
    statement_id: 0,
    series: [{ name: 'heavy', columns: ['time', 'count'], values: [['1970-01-01T00:00:00Z', 60]] }],
  });
  expect(results[1]).toEqual({ statement_id: 1, error: expect.stringMatching(/^max-select-buckets limit exceeded: \(\d+\/100000\)$/) });
  const direct = (await influxd(q)).json().results;
  expect(direct[0]).toEqual(results[0]);
  expect(Object.keys(direct[1])).toEqual(['statement_id', 'error']);
  expect(direct[1].error).toMatch(/^max-select-buckets limit exceeded: \(\d+\/100000\)$/);
  // a statement after the refused one is not executed
  const three = await query(proxy, `${q}; CREATE RETENTION POLICY "guarded" ON "${DB}" DURATION 1h REPLICATION 1`);
  expect(three.json().results[2]).toEqual({ statement_id: 2, error: 'not executed' });
  const rps = await A.query('SHOW RETENTION POLICIES ON "dba"');
  expect(JSON.stringify(rps)).not.toContain('guarded');
});

it('answers an open-ended GROUP BY time() over recent data with data, as influxd with max-select-buckets answers it', async () => {
  // no time bound at all: influxd reads only the shards that exist, so the buckets start there, not in 1970
  const q = 'SELECT mean(v) FROM heavy GROUP BY time(1m) fill(none)';
  await waitUntil(
    async () => {
      const [viaProxy, direct] = await Promise.all([query(proxy, q, { epoch: 'ms' }), influxd(q, { epoch: 'ms' })]);
      expect(viaProxy.status).toBe(200);
      expect(direct.json().results[0].error).toBeUndefined();
      expect(viaProxy.json().results[0].series[0].values.length).toBeGreaterThanOrEqual(59);
      return viaProxy.text === direct.text; // the same unless a minute turned between the two
    },
    { attempts: 5, what: 'the proxy and influxd to give the same answer' },
  );
});

it('still refuses an open-ended query whose existing data spans more buckets than the limit, judged per retention policy', async () => {
  const created = await query(proxy, `CREATE RETENTION POLICY "old" ON "${DB}" DURATION 0s REPLICATION 1`);
  expect(created.json().results[0].error).toBeUndefined();
  const q = 'SELECT mean(v) FROM "old".aged GROUP BY time(1m)';
  // first asked while "old" has no shard: no data, nothing to refuse
  expect((await query(proxy, q)).json().results[0].error).toBeUndefined();
  // a point 200 days back makes a shard there (after the proxy last read the shards)
  const aged = now - 200 * 86_400_000;
  const res = await request(`${proxy.url}/write?db=${DB}&rp=old&precision=ms`, {
    method: 'POST',
    body: `aged v=1 ${aged}\naged v=2 ${now}\n`,
  });
  expect(res.status).toBe(204);
  // the shards are read again before the verdict: the heavy query does not pass on the stale view
  const refused = await query(proxy, q);
  expect(refused.status).toBe(200);
  const [, count] = /^max-select-buckets limit exceeded: \((\d+)\/100000\)$/.exec(refused.json().results[0].error ?? '') ?? [];
  // counted from the start of the shard that holds the old point (a 7-day shard group), not from 1970
  const minutes = Number(count);
  expect(minutes).toBeGreaterThanOrEqual(200 * 1440);
  expect(minutes).toBeLessThanOrEqual(208 * 1440);
  // the default rp's recent data is still answered
  expect((await query(proxy, 'SELECT mean(v) FROM heavy GROUP BY time(1m)')).json().results[0].error).toBeUndefined();
});

it('refuses an unbounded GROUP BY time() inside a subquery', async () => {
  const res = await query(proxy, `SELECT max(m) FROM (${UNBOUNDED.replace('mean(v)', 'mean(v) AS m')})`);
  expect(res.status).toBe(200);
  expect(res.json().results[0].error).toMatch(/^max-select-buckets limit exceeded/);
});

it('applies a proxy’s own limit, and its optional cap on raw SELECTs without LIMIT or time bound', async () => {
  const tooMany = await query(strict, 'SELECT mean(v) FROM heavy WHERE time >= now() - 1d GROUP BY time(1m)');
  expect(tooMany.status).toBe(200);
  expect(tooMany.json().results[0].error).toMatch(/^max-select-buckets limit exceeded: \(14\d\d\/1000\)$/);
  const raw = await query(strict, 'SELECT * FROM heavy');
  expect(raw.status).toBe(200);
  expect(raw.json().results[0].error).toMatch(/maxUnboundedRawSelect/);
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

it('counts each refusal once: /metrics shows what /meta shows, before and after one more refusal', async () => {
  const refusalsInMetrics = async () => {
    const text = (await request(`${strict.url}/metrics`)).text;
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^influxdb_proxy_query_guard_refusals_total\{reason="([^"]+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
    return out;
  };
  const metaBefore = (await request(`${strict.url}/meta`)).json().queryGuard.refusals;
  expect(await refusalsInMetrics()).toEqual(metaBefore);
  expect((await query(strict, 'SELECT * FROM heavy')).json().results[0].error).toMatch(/maxUnboundedRawSelect/);
  const metaAfter = (await request(`${strict.url}/meta`)).json().queryGuard.refusals;
  expect(metaAfter).toEqual({ ...metaBefore, 'unbounded-raw-select': metaBefore['unbounded-raw-select'] + 1 });
  expect(await refusalsInMetrics()).toEqual(metaAfter);
});
