/**
 * InfluxDB 1.8's compatibility API for v2 clients (issue 15): the npm v2 client library writing
 * through /api/v2/write with token auth, its points routed by the keymap and replicated like /write's;
 * bucket, precision and credential refusals in 1.8's words; /api/v2/query forwarded to the backends,
 * which are influxd 1.6.7 here (no Flux: 404), so the proxy answers its "no backend supports Flux"
 * error, and names every backend it tried when one of them is down.
 */
import { hashPassword } from '@app/auth';
import { HttpError, InfluxDB, Point } from '@influxdata/influxdb-client';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'v2db';
const USER = { name: 'writer', password: `pw-${randomBytes(4).toString('hex')}` };
const TOKEN = `${USER.name}:${USER.password}`;
const asToken = { Authorization: `Token ${TOKEN}` };

let A: Influxd;
let B: Influxd;
/** a and b up, auth on; cpu → a, mem → b, everything else → both. */
let P: ProxyProcess;
/** a up, `dead` a port nothing listens on; no auth. */
let Q: ProxyProcess;

const backend = (url: string) => ({ url, db: DB, timeout: 5_000, checkInterval: 200, rewriteInterval: 200 });

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase(DB), B.createDatabase(DB)]);
  const hash = await hashPassword(USER.password, { ln: 10, r: 8, p: 1 });
  const [pPort, qPort, deadPort] = [await freePort(), await freePort(), await freePort()];
  [P, Q] = await Promise.all([
    startProxy({
      config: {
        backends: { a: backend(A.url), b: backend(B.url) },
        keymaps: { cpu: ['a'], mem: ['b'], _default_: ['a', 'b'] },
        proxies: { p1: { listenAddr: `127.0.0.1:${pPort}`, db: DB, authEnabled: true, users: { [USER.name]: { hash } } } },
      },
    }),
    startProxy({
      config: {
        backends: { a: backend(A.url), dead: backend(`http://127.0.0.1:${deadPort}`) },
        keymaps: { _default_: ['a'] },
        proxies: { p1: { listenAddr: `127.0.0.1:${qPort}`, db: DB } },
      },
    }),
  ]);
});

afterAll(stopAll);

describe('/api/v2/write', () => {
  it('takes the v2 client’s points with token auth and routes them by keymap, replicas included', async () => {
    const t = Date.now() - 60_000;
    const writer = new InfluxDB({ url: P.url, token: TOKEN }).getWriteApi('', `${DB}/autogen`, 'ms', { maxRetries: 0 });
    writer.writePoint(new Point('cpu').tag('host', 'h1').floatField('v', 1).timestamp(t));
    writer.writePoint(
      new Point('mem')
        .tag('host', 'h1')
        .floatField('v', 2)
        .timestamp(t + 1),
    );
    writer.writePoint(
      new Point('disk')
        .tag('host', 'h1')
        .floatField('v', 3)
        .timestamp(t + 2),
    );
    await writer.close();

    const ns = (ms: number) => BigInt(ms) * 1_000_000n;
    expect(await A.rows('SELECT * FROM cpu', DB)).toEqual([{ time: ns(t), host: 'h1', v: 1 }]);
    expect(await B.rows('SELECT * FROM cpu', DB)).toEqual([]);
    expect(await A.rows('SELECT * FROM mem', DB)).toEqual([]);
    expect(await B.rows('SELECT * FROM mem', DB)).toEqual([{ time: ns(t + 1), host: 'h1', v: 2 }]);
    for (const replica of [A, B]) expect(await replica.rows('SELECT * FROM disk', DB)).toEqual([{ time: ns(t + 2), host: 'h1', v: 3 }]);
  });

  it('reads a bare db as the default rp, the v2 precision names, gzip, Basic and u/p credentials', async () => {
    const s = Math.floor(Date.now() / 1000) - 120;
    const gz = gzipSync(`net,host=h2 v=1 ${s}\n`);
    const res = await request(`${P.url}/api/v2/write?bucket=${DB}&org=ignored&precision=s`, {
      headers: { ...asToken, 'Content-Encoding': 'gzip' },
      body: gz,
    });
    expect([res.status, res.text]).toEqual([204, '']);
    const basic = `Basic ${Buffer.from(TOKEN).toString('base64')}`;
    const us = BigInt(s) * 1_000_000n + 7n;
    const viaBasic = await request(`${P.url}/api/v2/write?bucket=${DB}&precision=us`, {
      headers: { Authorization: basic },
      body: `net,host=h3 v=2 ${us}`,
    });
    expect(viaBasic.status).toBe(204);
    const viaUp = await request(`${P.url}/api/v2/write?bucket=${DB}/autogen&precision=ns&u=${USER.name}&p=${USER.password}`, {
      body: `net,host=h4 v=3 ${us * 1000n + 5n}`,
    });
    expect(viaUp.status).toBe(204);
    for (const replica of [A, B]) {
      expect(await replica.rows('SELECT * FROM net', DB)).toEqual([
        { time: BigInt(s) * 1_000_000_000n, host: 'h2', v: 1 },
        { time: us * 1000n, host: 'h3', v: 2 },
        { time: us * 1000n + 5n, host: 'h4', v: 3 },
      ]);
    }
  });

  it('refuses missing and wrong credentials as /write does (401), and the client library sees it', async () => {
    const none = await request(`${P.url}/api/v2/write?bucket=${DB}`, { body: 'auth_m v=1' });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="InfluxDB"');
    const wrong = await request(`${P.url}/api/v2/write?bucket=${DB}`, {
      headers: { Authorization: `Token ${USER.name}:not-the-password` },
      body: 'auth_m v=1',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toEqual({ error: 'authorization failed' });

    const writer = new InfluxDB({ url: P.url, token: `${USER.name}:nope` }).getWriteApi('', DB, 'ms', { maxRetries: 0 });
    writer.writePoint(new Point('auth_m').floatField('v', 1));
    const err = await writer.close().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).statusCode).toBe(401);
    for (const replica of [A, B]) expect(await replica.rows('SELECT * FROM auth_m', DB)).toEqual([]);
  });

  it('answers bad precisions and buckets in InfluxDB 1.8’s words, and writes nothing', async () => {
    const cases: [string, number, string][] = [
      [`bucket=${DB}&precision=h`, 400, 'invalid precision "h" (use ns, us, ms or s)'],
      [`bucket=${DB}&precision=n`, 400, 'invalid precision "n" (use ns, us, ms or s)'],
      ['precision=ms', 404, 'bucket name "" is missing a slash; not in "database/retention-policy" format'],
      ['bucket=/autogen', 404, 'bucket name "/autogen" is in db/rp form but has an empty database'],
      ['bucket=otherdb/autogen', 404, 'database not found: "otherdb"'],
    ];
    for (const [query, status, error] of cases) {
      const res = await request(`${P.url}/api/v2/write?${query}`, { headers: asToken, body: 'refused_m v=1' });
      expect([query, res.status, res.json(), res.headers['x-influxdb-error']]).toEqual([query, status, { error }, error]);
    }
    for (const replica of [A, B]) expect(await replica.rows('SELECT * FROM refused_m', DB)).toEqual([]);
  });

  it('gives /write’s own answers for what the backends refuse (unknown rp, bad lines)', async () => {
    for (const [v2, v1] of [
      [`bucket=${DB}/nope`, `db=${DB}&rp=nope`],
      [`bucket=${DB}`, `db=${DB}`],
    ]) {
      const body = v2.endsWith('nope') ? 'rp_m v=1' : 'bad_m v=1\nbad_m,x v=2 1';
      const viaV2 = await request(`${P.url}/api/v2/write?${v2}`, { headers: asToken, body });
      const viaV1 = await request(`${P.url}/write?${v1}`, { headers: asToken, body });
      expect([viaV2.status, viaV2.text]).toEqual([viaV1.status, viaV1.text]);
      expect(viaV2.status).toBeGreaterThanOrEqual(400);
    }
  });

  it('serves POST only, as 1.8’s router does', async () => {
    const res = await request(`${P.url}/api/v2/write?bucket=${DB}`, { method: 'GET', headers: asToken });
    expect([res.status, res.headers.allow, res.text]).toEqual([405, 'POST', 'Method Not Allowed\n']);
  });
});

describe('/api/v2/query', () => {
  const flux = `from(bucket: "${DB}/autogen") |> range(start: -1h)`;

  it('answers that no backend supports Flux when every backend answers 404 (influxd 1.6.7)', async () => {
    expect((await request(`${A.url}/api/v2/query`, { body: flux })).status).toBe(404); // what the backends say

    const res = await request(`${P.url}/api/v2/query`, {
      headers: { ...asToken, 'Content-Type': 'application/vnd.flux' },
      body: flux,
    });
    expect(res.status).toBe(403);
    const { error } = res.json();
    expect(error).toMatch(/^flux is not enabled on any backend: /);
    expect(error).toContain('a: no Flux (404 404 page not found)');
    expect(error).toContain('b: no Flux (404 404 page not found)');
    expect(res.headers['x-influxdb-error']).toBe(error);

    // the v2 client library, JSON body: the same answer reaches its caller
    const queryApi = new InfluxDB({ url: P.url, token: TOKEN }).getQueryApi('');
    const err = await queryApi.collectRows(flux).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).statusCode).toBe(403);
    expect((err as HttpError).body).toContain('flux is not enabled on any backend');
  });

  it('asks for credentials as /query does', async () => {
    const res = await request(`${P.url}/api/v2/query`, { headers: { 'Content-Type': 'application/vnd.flux' }, body: flux });
    expect(res.status).toBe(401);
  });

  it('tries every backend when one is down, and names each in its error', async () => {
    const res = await request(`${Q.url}/api/v2/query`, {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: flux, type: 'flux' }),
    });
    expect(res.status).toBe(503);
    const { error } = res.json();
    expect(error).toMatch(/^no backend can answer the flux query: /);
    expect(error).toContain('a: no Flux (404 404 page not found)');
    expect(error).toMatch(/dead: ECONNREFUSED/);
  });
});
