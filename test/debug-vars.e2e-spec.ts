/**
 * GET /debug/vars (issue 15): the proxy's own counters in influxd's expvar JSON, the shape Telegraf's
 * inputs.influxdb reads; its counters move with the traffic and agree with /metrics; it is protected
 * as /metrics is. Also /write?precision=rfc3339, answered as the influxd behind the proxy answers it.
 */
import { hashPassword } from '@app/auth';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll, waitUntil } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'varsdb';
const ADMIN = { name: 'root', password: 'root-pw' };
const READER = { name: 'reader', password: 'reader-pw' };
const basic = (u: { name: string; password: string }) => ({
  Authorization: `Basic ${Buffer.from(`${u.name}:${u.password}`).toString('base64')}`,
});

let A: Influxd;
let B: Influxd;
/** cpu → a, everything else → a and b; no auth, no self-report. */
let P: ProxyProcess;
/** auth on, metaAuthEnabled: /metrics (and so /debug/vars) for admins only. */
let S: ProxyProcess;

const backend = (url: string) => ({ url, db: DB, timeout: 5_000, checkInterval: 200, rewriteInterval: 200 });

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase(DB), B.createDatabase(DB)]);
  const [adminHash, readerHash] = await Promise.all([
    hashPassword(ADMIN.password, { ln: 10, r: 8, p: 1 }),
    hashPassword(READER.password, { ln: 10, r: 8, p: 1 }),
  ]);
  const [pPort, sPort] = [await freePort(), await freePort()];
  [P, S] = await Promise.all([
    startProxy({
      config: {
        backends: { a: backend(A.url), b: backend(B.url) },
        keymaps: { cpu: ['a'], _default_: ['a', 'b'] },
        proxies: { p1: { listenAddr: `127.0.0.1:${pPort}`, db: DB, interval: 0 } },
      },
    }),
    startProxy({
      config: {
        backends: { a: backend(A.url) },
        keymaps: { _default_: ['a'] },
        proxies: {
          p1: {
            listenAddr: `127.0.0.1:${sPort}`,
            db: DB,
            interval: 0,
            authEnabled: true,
            metaAuthEnabled: true,
            users: { [ADMIN.name]: { hash: adminHash, admin: true }, [READER.name]: { hash: readerHash } },
          },
        },
      },
    }),
  ]);
});

afterAll(stopAll);

async function vars(proxy: ProxyProcess): Promise<Record<string, any>> {
  const res = await request(`${proxy.url}/debug/vars`);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  return JSON.parse(res.text);
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

function backendStat(v: Record<string, any>, name: string): any {
  const found = Object.values(v).find((s: any) => s?.name === 'backend' && s.tags?.backend === name);
  expect(found).toBeDefined();
  return found;
}

describe('/debug/vars', () => {
  it('has influxd’s expvar shape: system, cmdline, memstats, and name/tags/values statistics', async () => {
    const v = await vars(P);
    expect(Object.keys(v).slice(0, 3)).toEqual(['system', 'cmdline', 'memstats']);
    expect(typeof v.system.uptime).toBe('number');
    expect(Number.isNaN(Date.parse(v.system.currentTime))).toBe(false);
    expect(Array.isArray(v.cmdline)).toBe(true);
    expect(v.cmdline.join(' ')).toContain('--node');
    for (const name of ['Alloc', 'Sys', 'HeapAlloc', 'HeapSys', 'HeapIdle', 'HeapInuse', 'NumGC', 'PauseTotalNs', 'LastGC']) {
      expect([name, typeof v.memstats[name]]).toEqual([name, 'number']);
    }
    expect(v.memstats.Sys).toBeGreaterThan(v.memstats.HeapAlloc);

    const stats = Object.entries(v).filter(([key]) => !['system', 'cmdline', 'memstats'].includes(key));
    for (const [key, stat] of stats as [string, any][]) {
      expect(Object.keys(stat)).toEqual(['name', 'tags', 'values']);
      for (const [field, value] of Object.entries(stat.values)) expect([key, field, typeof value]).toEqual([key, field, 'number']);
    }
    const names = stats.map(([, s]) => (s as any).name);
    for (const name of ['httpd', 'write', 'query', 'spool', 'replay', 'process']) expect(names).toContain(name);
    expect(names.filter((n) => n === 'backend')).toHaveLength(2);
    expect(backendStat(v, 'a').tags).toEqual({ backend: 'a', url: A.url });
    expect(v[`httpd:${P.url.replace('http://', '')}`].tags).toEqual({ bind: P.url.replace('http://', '') });
  });

  it('moves with writes and queries, and agrees with /metrics', async () => {
    const before = await vars(P);
    const body = 'cpu,host=h v=1 1700000000000000001\ncpu,host=h v=2 1700000000000000002\nmem,host=h v=3 1700000000000000003\n';
    const res = await request(`${P.url}/write?db=${DB}`, { body });
    expect(res.status).toBe(204);
    const q = await request(`${P.url}/query?db=${DB}&q=${encodeURIComponent('SELECT * FROM mem')}`);
    expect(q.status).toBe(200);

    // the batches are acknowledged by now (204), and nothing else writes: the counters are still
    const after = await vars(P);
    const delta = (stat: (v: any) => any, field: string) => stat(after).values[field] - stat(before).values[field];
    expect(delta((v) => v.write, 'req')).toBe(1);
    expect(delta((v) => v.write, 'pointsReceived')).toBe(3);
    expect(delta((v) => backendStat(v, 'a'), 'pointsRouted')).toBe(3);
    expect(delta((v) => backendStat(v, 'b'), 'pointsRouted')).toBe(1);
    expect(delta((v) => backendStat(v, 'a'), 'pointsWritten')).toBe(3);
    expect(delta((v) => backendStat(v, 'b'), 'pointsWritten')).toBe(1);
    const httpd = (v: any): any => Object.values(v).find((s: any) => s?.name === 'httpd');
    expect(delta(httpd, 'writeReq')).toBe(1);
    expect(delta(httpd, 'queryReq')).toBe(1);

    const metrics = await scrape(P);
    const now = await vars(P);
    expect(now.write.values.pointsReceived).toBe(metrics.get('influxdb_proxy_points_received_total'));
    for (const name of ['a', 'b']) {
      const b = backendStat(now, name).values;
      expect([name, b.pointsRouted, b.pointsWritten, b.pointsSpooled, b.healthy]).toEqual([
        name,
        metrics.get(`influxdb_proxy_points_routed_total{backend="${name}"}`),
        metrics.get(`influxdb_proxy_points_written_total{backend="${name}"}`),
        metrics.get(`influxdb_proxy_points_spooled_total{backend="${name}"}`) ?? 0,
        metrics.get(`influxdb_proxy_backend_healthy{backend="${name}"}`),
      ]);
    }
    expect(httpd(now).values.writeReq).toBe(metrics.get('influxdb_proxy_http_requests_total{endpoint="write",status="204"}'));
  });

  it('is protected as /metrics is: admins only with metaAuthEnabled', async () => {
    for (const path of ['/metrics', '/debug/vars']) {
      expect([path, (await request(`${S.url}${path}`)).status]).toEqual([path, 401]);
      expect([path, (await request(`${S.url}${path}`, { headers: basic(READER) })).status]).toEqual([path, 403]);
      expect([path, (await request(`${S.url}${path}`, { headers: basic(ADMIN) })).status]).toEqual([path, 200]);
    }
  });
});

describe('/write?precision=rfc3339', () => {
  it('is answered as influxd answers it: integer times as nanoseconds, 204', async () => {
    const bodies = ['rfc_m,via=x v=1 1700000000000000123', 'rfc_m,via=x v=2'];
    for (const body of bodies) {
      const direct = await request(`${B.url}/write?db=${DB}&precision=rfc3339`, { body: body.replace('via=x', 'via=influxd') });
      const proxied = await request(`${P.url}/write?db=${DB}&precision=rfc3339`, { body: body.replace('via=x', 'via=proxy') });
      expect([body, proxied.status, proxied.text]).toEqual([body, direct.status, direct.text]);
      expect(proxied.status).toBe(204);
    }
    // an RFC3339 time in the line is no more understood than by influxd: the same 400 (the proxy's
    // text also shows the receive time it appended to the line, as for any timestamp that is not digits)
    const text = 'rfc_m,via=x v=3 2023-01-01T00:00:00Z';
    const direct = await request(`${B.url}/write?db=${DB}&precision=rfc3339`, { body: text });
    const proxied = await request(`${P.url}/write?db=${DB}&precision=rfc3339`, { body: text });
    expect([proxied.status, direct.status]).toEqual([400, 400]);
    expect(proxied.json().error).toMatch(/^unable to parse 'rfc_m,via=x v=3 2023-01-01T00:00:00Z.*': bad timestamp$/);
    expect(direct.json().error).toBe("unable to parse 'rfc_m,via=x v=3 2023-01-01T00:00:00Z': bad timestamp");

    const rows = await waitUntil(
      async () => {
        const r = await B.rows('SELECT * FROM rfc_m', DB);
        return r.length === 4 && r;
      },
      { what: 'the rfc3339 points on b' },
    );
    const at = (via: string, v: number) => rows.find((r) => r.via === via && r.v === v)!.time;
    expect(at('proxy', 1)).toBe(1_700_000_000_000_000_123n);
    expect(at('influxd', 1)).toBe(1_700_000_000_000_000_123n);
    // no timestamp: "now", in nanoseconds, for both
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    for (const via of ['proxy', 'influxd']) {
      const t = at(via, 2);
      expect(nowNs - t < 60_000_000_000n && t <= nowNs).toBe(true);
    }
  });
});
