/**
 * The /query path end to end: two real influxd (A → db "dba", B → db "dbb") behind the proxy (db
 * "mydb"), plus a reference influxd R that holds, in one database, everything the fan-out tests write
 * through the proxy: a merged answer must be byte for byte what one influxd holding all of it answers.
 * A single-backend answer must be byte for byte what that backend answers directly (after db renaming).
 *
 * Backends of the main proxy: a (A, dba), b (B, dbb), w (A, dbw, write-only), far (A, dba again,
 * other zone). Test data is written through the proxy's /write unless a test plants data directly
 * on one backend to see which backend answered.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { InfluxDB } from 'influx';
import { HttpResponse, request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';

const PROXY_DB = 'mydb';
const DB_A = 'dba';
const DB_B = 'dbb';
const DB_W = 'dbw';
const DB_R = 'ref';

/** 2023-11-14T22:13:20Z in ns, and handy offsets. */
const T0 = 1_700_000_000_000_000_000n;
const S = 1_000_000_000n;
const RANGE = `time >= '2023-11-14T22:00:00Z' AND time < '2023-11-14T23:00:00Z'`;

let A: Influxd;
let B: Influxd;
let R: Influxd;
let proxy: ProxyProcess;
/** Each backend's influxd and db (a and w share one influxd). */
const everyBackendDb = () =>
  [
    [A, DB_A],
    [B, DB_B],
    [A, DB_W],
  ] as const;

const KEYMAPS: Record<string, string[]> = {
  cpu: ['a'],
  temperature: ['b'],
  fo_cpu: ['a'],
  fo_cpu2: ['a'],
  fo_temp: ['b'],
  fo_x1: ['a'],
  fo_x2: ['b'],
  fo_x3: ['a'],
  fo_x4: ['b'],
  zone_m: ['far', 'b'],
  wo_m: ['w', 'b'],
  failover_m: ['a', 'b'],
  big: ['a'],
  _default_: ['a', 'b', 'w'],
};

function backend(url: string, db: string, extra: Record<string, unknown> = {}) {
  return { url, db, zone: 'z', interval: 100, timeout: 10_000, timeoutQuery: 60_000, checkInterval: 500, writeOnly: 0, ...extra };
}

function mainConfig(port: number): ProxyConfig {
  return {
    backends: {
      a: backend(A.url, DB_A),
      b: backend(B.url, DB_B),
      w: backend(A.url, DB_W, { writeOnly: 1 }),
      far: backend(A.url, DB_A, { zone: 'far' }),
    },
    keymaps: KEYMAPS,
    proxies: {
      p1: { listenAddr: `127.0.0.1:${port}`, db: PROXY_DB, zone: 'z', interval: 10, idleTimeout: 10, writeTracing: 0, queryTracing: 0 },
    },
  };
}

beforeAll(async () => {
  [A, B, R] = await Promise.all([startInfluxd(), startInfluxd(), startInfluxd()]);
  await R.createDatabase(DB_R);
  proxy = await startProxy({ config: mainConfig(await freePort()) });
  // Telegraf's start-up: POST /query with a form body and no db. Creates every backend's own db.
  const created = await postForm(proxy.url, {}, { q: `CREATE DATABASE "${PROXY_DB}"` });
  if (created.status !== 200 || created.text !== '{"results":[{"statement_id":0}]}\n') {
    throw new Error(`CREATE DATABASE through the proxy: ${created.status} ${created.text}\n${proxy.output().slice(-3000)}`);
  }
  await writeFixture();
});

afterAll(stopAll);

// ---------------------------------------------------------------------------------------------
// helpers

function queryUrl(base: string, params: Record<string, string>): string {
  return `${base}/query?${new URLSearchParams(params)}`;
}

/** GET /query on the proxy (db=mydb unless given). */
function pq(q: string, params: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return request(queryUrl(proxy.url, { db: PROXY_DB, q, ...params }), { headers });
}

/** GET /query on an influxd directly, in its own db (or `db` in params). */
function dq(influxd: Influxd, q: string, params: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return request(queryUrl(influxd.url, { db: dbOf(influxd), q, ...params }), { headers });
}

function postForm(base: string, urlParams: Record<string, string>, form: Record<string, string>, headers: Record<string, string> = {}) {
  return request(queryUrl(base, urlParams), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

function dbOf(influxd: Influxd): string {
  return influxd === A ? DB_A : influxd === B ? DB_B : DB_R;
}

function describe_(res: HttpResponse): string {
  return `${res.status} ${JSON.stringify(res.headers)} ${JSON.stringify(res.text.slice(0, 1500))}`;
}

function expectStatus(res: HttpResponse, status: number): void {
  if (res.status !== status) {
    throw new Error(`expected ${status}, got ${describe_(res)}\n--- proxy output ---\n${proxy.output().slice(-3000)}`);
  }
}

function expectInfluxHeaders(res: HttpResponse): void {
  expect(res.headers['x-influxdb-version']).toEqual(expect.stringMatching(/\S/));
  expect(res.headers['x-influxdb-build']).toBe('OSS');
  expect(res.headers['request-id']).toEqual(expect.stringMatching(/\S/));
  expect(res.headers['x-request-id']).toBe(res.headers['request-id']);
}

/** The proxy's answer is the other answer, byte for byte (status, content type, body). */
function expectSameAnswer(viaProxy: HttpResponse, direct: HttpResponse): void {
  if (viaProxy.status !== direct.status || !viaProxy.body.equals(direct.body)) {
    throw new Error(`proxy answered\n  ${describe_(viaProxy)}\ninfluxd answered\n  ${describe_(direct)}`);
  }
  expect(viaProxy.headers['content-type']).toBe(direct.headers['content-type']);
  expect(viaProxy.headers['content-encoding']).toBe(direct.headers['content-encoding']);
  expectInfluxHeaders(viaProxy);
}

function expectInfluxError(res: HttpResponse, status: number, message: string | RegExp): void {
  expectStatus(res, status);
  expect(res.headers['content-type']).toBe('application/json');
  const body = JSON.parse(res.text);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatch(message);
  expect(res.text.endsWith('}\n')).toBe(true);
  expect(res.headers['x-influxdb-error']).toBe(body.error);
  expectInfluxHeaders(res);
}

async function writeViaProxy(lines: string[]): Promise<void> {
  const res = await request(`${proxy.url}/write?db=${PROXY_DB}`, { method: 'POST', body: lines.join('\n') + '\n' });
  expectStatus(res, 204);
}

async function writeDirect(influxd: Influxd, db: string, lines: string[]): Promise<void> {
  const res = await influxd.write(db, lines.join('\n') + '\n');
  if (res.status !== 204) throw new Error(`direct write to ${influxd.url}/${db}: ${res.status} ${res.text}`);
}

const ts = (offsetSeconds: number) => String(T0 + BigInt(offsetSeconds) * S);

/** Data the fan-out tests compare against R: through the proxy to a/b, and the same lines into R. */
const FIXTURE = [
  `fo_cpu,host=a,region=eu usage=1.5,idle=90i ${ts(0)}`,
  `fo_cpu,host=b,region=us usage=2.5,idle=80i ${ts(10)}`,
  `fo_cpu,host=a,region=eu usage=3.5,idle=70i ${ts(70)}`,
  `fo_cpu2,host=a load=0.5 ${ts(0)}`,
  `fo_temp,host=c,sensor=s1 celsius=21.5 ${ts(0)}`,
  `fo_temp,host=d,sensor=s2 celsius=19 ${ts(10)}`,
  `fo_mem,host=a used=100i,free=50i ${ts(0)}`,
  `fo_mem,host=e used=200i,free=10i ${ts(10)}`,
  `fo_x1,host=x v=1 ${ts(0)}`,
  `fo_x2,host=y v=2 ${ts(0)}`,
  `fo_x3,host=x v=3 ${ts(0)}`,
  `fo_x4,host=z v=4 ${ts(0)}`,
  `grafana_m,host=g1 value=1 ${ts(0)}`,
  `grafana_m,host=g2 value=3 ${ts(30)}`,
  `grafana_m,host=g1 value=5 ${ts(90)}`,
];

async function writeFixture(): Promise<void> {
  await writeViaProxy(FIXTURE);
  await writeDirect(
    R,
    DB_R,
    FIXTURE.filter((l) => l.startsWith('fo_')),
  );
  await waitUntil(async () => (await A.rows('SELECT count(v) FROM fo_x3', DB_A)).length > 0, { what: 'fixture on A' });
  await waitUntil(async () => (await B.rows('SELECT count(v) FROM fo_x4', DB_B)).length > 0, { what: 'fixture on B' });
}

/** VmHWM / VmRSS of a process, in bytes. */
function memoryOf(pid: number): { hwm: number; rss: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

// ---------------------------------------------------------------------------------------------

describe('request handling', () => {
  it('answers 400 missing required parameter "q" like influxd (also for a blank q)', async () => {
    expectInfluxError(await request(`${proxy.url}/query?db=${PROXY_DB}`), 400, 'missing required parameter "q"');
    expectSameAnswer(await pq('   '), await dq(A, '   '));
  });

  it('answers a parse error with influxd’s 400 error parsing query, byte for byte', async () => {
    for (const q of ['SELEC * FROM cpu', 'SELECT * FROM cpu WHERE', "SELECT 'unterminated FROM cpu"]) {
      const res = await pq(q);
      expectInfluxError(res, 400, /^error parsing query: /);
      expectSameAnswer(res, await dq(A, q));
    }
  });

  it('answers OPTIONS with 204 and other methods with 405 Allow: OPTIONS, GET, POST', async () => {
    const options = await request(`${proxy.url}/query`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expectInfluxHeaders(options);
    const put = await request(`${proxy.url}/query?q=SHOW+DATABASES`, { method: 'PUT', body: '' });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('OPTIONS, GET, POST');
  });

  it('reads q and db from a form body before the URL, as Go’s FormValue does', async () => {
    const res = await postForm(proxy.url, { q: 'SHOW DATABASES', db: 'wrong' }, { q: 'SELECT * FROM fo_cpu', db: PROXY_DB });
    expectSameAnswer(res, await dq(A, 'SELECT * FROM fo_cpu'));
  });

  it('refuses an oversized form body with 413 and a JSON error', async () => {
    // The answer comes before the upload ends and the connection is closed behind it; the client may
    // see EPIPE/ECONNRESET before it reads the answer (as with influxd), so try a few times.
    let res: HttpResponse | undefined;
    for (let attempt = 0; attempt < 5 && !res; attempt++) {
      try {
        res = await request(`${proxy.url}/query`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: Buffer.alloc(11 << 20, 'a'),
        });
      } catch (err) {
        if (!/EPIPE|ECONNRESET/.test((err as Error).message)) throw err;
      }
    }
    expectInfluxError(res!, 413, /too large/);
  });

  it('echoes the client’s X-Request-Id', async () => {
    const res = await pq('SELECT * FROM fo_cpu', {}, { 'X-Request-Id': 'req-42' });
    expect(res.headers['request-id']).toBe('req-42');
    expect(res.headers['x-request-id']).toBe('req-42');
  });

  it('refuses bound parameters that are not JSON before anything runs', async () => {
    expectInfluxError(await pq('SELECT * FROM fo_cpu', { params: '{bad' }), 400, /^error parsing query parameters: /);
  });
});

describe('forbidden statements', () => {
  const forbidden = [
    'DROP DATABASE mydb',
    'DELETE FROM cpu',
    'DROP SERIES FROM cpu',
    'DROP MEASUREMENT cpu',
    'DROP RETENTION POLICY rp2 ON mydb',
    'ALTER RETENTION POLICY autogen ON mydb DURATION 1d',
    'GRANT ALL TO bob',
    'REVOKE ALL PRIVILEGES FROM bob',
    'KILL QUERY 1',
    "SET PASSWORD FOR bob = 'x'",
    "CREATE USER bob WITH PASSWORD 'x'",
    'DROP USER bob',
    'CREATE CONTINUOUS QUERY cq ON mydb BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END',
    'DROP CONTINUOUS QUERY cq ON mydb',
    "CREATE SUBSCRIPTION s ON mydb.autogen DESTINATIONS ALL 'udp://127.0.0.1:9'",
  ];

  it.each(forbidden)('refuses %j with 400 …forbidden…', async (q) => {
    expectInfluxError(await pq(q), 400, /forbidden/);
  });

  it('refuses the smuggled SELECT * FROM cpu; DROP DATABASE x and every database is still on every backend', async () => {
    const before = await A.rows('SELECT count(value) FROM cpu', DB_A).catch(() => []);
    for (const q of [
      `SELECT * FROM cpu; DROP DATABASE ${PROXY_DB}`,
      `SELECT * FROM cpu; DROP DATABASE ${DB_A}`,
      `SELECT * FROM "a;b"; drop   database ${DB_B};`,
      `SELECT * FROM cpu -- comment ;\n; DROP DATABASE ${PROXY_DB}`,
      `/* ; */ SELECT * FROM cpu; /* x */ DROP DATABASE ${PROXY_DB}`,
    ]) {
      expectInfluxError(await pq(q), 400, /forbidden/);
      expectInfluxError(await postForm(proxy.url, { db: PROXY_DB }, { q }), 400, /forbidden/);
    }
    const names = async (influxd: Influxd) =>
      ((await influxd.query('SHOW DATABASES')).results[0].series[0].values as string[][]).map((r) => r[0]);
    expect(await names(A)).toEqual(expect.arrayContaining([DB_A, DB_W]));
    expect(await names(B)).toEqual(expect.arrayContaining([DB_B]));
    expect(await A.rows('SELECT count(value) FROM cpu', DB_A).catch(() => [])).toEqual(before);
    expect(await A.rows('SELECT count(usage) FROM fo_cpu', DB_A)).toEqual([{ time: 0n, count: 3 }]);
  });

  it('lets no statement of a refused request reach any backend (not even the allowed one before it)', async () => {
    const q = `CREATE RETENTION POLICY smuggle_rp ON ${PROXY_DB} DURATION 1d REPLICATION 1; DROP MEASUREMENT cpu`;
    expectInfluxError(await postForm(proxy.url, { db: PROXY_DB }, { q }), 400, /DROP MEASUREMENT is forbidden/);
    for (const [influxd, db] of everyBackendDb()) {
      const rps = (await influxd.query(`SHOW RETENTION POLICIES ON ${db}`)).results[0].series[0].values as unknown[][];
      expect(rps.map((r) => r[0])).not.toContain('smuggle_rp');
    }
  });
});

describe('single-measurement statements: one backend, streamed as it answered', () => {
  it('sends a measurement to the backend its keymap names, never the other (cpu → a)', async () => {
    await writeViaProxy([`cpu,test=route value=1 ${ts(0)}`]);
    // Stale data planted on b: the proxy must not read it.
    await writeDirect(B, DB_B, [`cpu,test=route value=999 ${ts(0)}`]);
    const q = `SELECT * FROM cpu WHERE test = 'route'`;
    const res = await pq(q);
    expectSameAnswer(res, await dq(A, q));
    expect(res.json().results[0].series[0].values).toEqual([['2023-11-14T22:13:20Z', 'route', 1]]);
    expect(res.headers['x-influxdb-version']).toBe(A.version);
  });

  it('answers byte for byte what the backend answers (SELECT, SHOW … FROM m, GROUP BY, subquery)', async () => {
    for (const [q, influxd] of [
      ['SELECT * FROM fo_cpu', A],
      [`SELECT mean(usage) FROM fo_cpu WHERE ${RANGE} GROUP BY time(1m), host fill(null)`, A],
      ['SELECT max(m) FROM (SELECT mean(celsius) AS m FROM fo_temp GROUP BY host)', B],
      ['SHOW TAG VALUES FROM fo_temp WITH KEY = "host"', B],
      ['SHOW FIELD KEYS FROM "autogen"."fo_cpu"', A],
      ['SHOW SERIES FROM fo_cpu', A],
      ['SHOW TAG KEYS FROM fo_temp', B],
    ] as const) {
      expectSameAnswer(await pq(q), await dq(influxd, q));
    }
  });

  it('renames db.rp.m sources to the backend’s db', async () => {
    expectSameAnswer(
      await pq(`SELECT * FROM "${PROXY_DB}"."autogen"."fo_cpu"; SELECT * FROM ${PROXY_DB}..fo_cpu2`),
      await dq(A, `SELECT * FROM "${DB_A}"."autogen"."fo_cpu"; SELECT * FROM ${DB_A}..fo_cpu2`),
    );
  });

  it('passes epoch, chunked/chunk_size, pretty, rp through unchanged', async () => {
    const q = 'SELECT * FROM fo_cpu';
    const cases: Record<string, string>[] = [
      { epoch: 'ms' },
      { epoch: 'ns' },
      { epoch: 's' },
      { chunked: 'true', chunk_size: '1' },
      { chunked: 'true', chunk_size: '2', epoch: 'u' },
      { pretty: 'true' },
      { rp: 'autogen' },
    ];
    for (const params of cases) {
      expectSameAnswer(await pq(q, params), await dq(A, q, params));
    }
  });

  it('passes Accept (CSV, msgpack) and Accept-Encoding: gzip through', async () => {
    const q = 'SELECT * FROM fo_cpu';
    const cases: Record<string, string>[] = [
      { Accept: 'application/csv' },
      { Accept: 'text/csv' },
      { Accept: 'application/x-msgpack' },
      { 'Accept-Encoding': 'gzip' },
      { 'Accept-Encoding': 'gzip', Accept: 'text/csv' },
    ];
    for (const headers of cases) {
      const viaProxy = await pq(q, {}, headers);
      const direct = await dq(A, q, {}, headers);
      expect(viaProxy.headers['content-type']).toBe(direct.headers['content-type']);
      expect(viaProxy.headers['content-encoding']).toBe(direct.headers['content-encoding']);
      const decode = (r: HttpResponse) => (r.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(r.body) : r.body);
      expect(decode(viaProxy).equals(decode(direct))).toBe(true);
    }
  });

  it('streams several statements for the same backend in one request, as the backend answered them', async () => {
    const q = 'SELECT * FROM fo_cpu; SELECT count(load) FROM fo_cpu2; SHOW TAG KEYS FROM fo_x1';
    expectSameAnswer(await pq(q), await dq(A, q));
    expectSameAnswer(await pq(q, { chunked: 'true' }), await dq(A, q, { chunked: 'true' }));
  });

  it('prefers a backend in the proxy’s zone (zone_m: far (other zone), b)', async () => {
    await writeDirect(A, DB_A, [`zone_m value=1 ${ts(0)}`]);
    await writeDirect(B, DB_B, [`zone_m value=2 ${ts(0)}`]);
    const res = await pq('SELECT value FROM zone_m');
    expectStatus(res, 200);
    expect(res.json().results[0].series[0].values).toEqual([['2023-11-14T22:13:20Z', 2]]);
  });

  it('never reads from a write-only backend (wo_m: w, b) and leaves it out of fan-outs', async () => {
    await writeDirect(A, DB_W, [`wo_m value=7 ${ts(0)}`, `wo_only_m value=1 ${ts(0)}`]);
    await writeDirect(B, DB_B, [`wo_m value=2 ${ts(0)}`]);
    const res = await pq('SELECT value FROM wo_m');
    expect(res.json().results[0].series[0].values).toEqual([['2023-11-14T22:13:20Z', 2]]);
    const all = await pq('SHOW MEASUREMENTS');
    expect(all.json().results[0].series[0].values.flat()).not.toContain('wo_only_m');
  });
});

describe('database checks, statement errors and multi-statement queries', () => {
  it('answers influxd’s statement errors inside a 200 for another db or none, byte for byte', async () => {
    for (const [q, db] of [
      ['SELECT * FROM cpu', 'nope'],
      ['SHOW TAG KEYS', 'nope'],
      ['SHOW MEASUREMENTS', 'nope'],
      ['SHOW RETENTION POLICIES', 'nope'],
      ['SELECT * FROM cpu', ''],
      ['SHOW MEASUREMENTS', ''],
      ['SELECT * FROM nope..cpu', PROXY_DB],
      ['SHOW RETENTION POLICIES ON nope', PROXY_DB],
    ]) {
      const params: Record<string, string> = db === '' ? {} : { db };
      const viaProxy = await request(queryUrl(proxy.url, { q, ...params }));
      const direct = await request(queryUrl(A.url, { q, ...(db === PROXY_DB ? { db: DB_A } : params) }));
      expectSameAnswer(viaProxy, direct);
    }
  });

  it('answers SHOW DATABASES with the proxy’s db only', async () => {
    const res = await pq('SHOW DATABASES', { db: '' });
    expect(res.text).toBe('{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["mydb"]]}]}]}\n');
    expect(res.headers['content-type']).toBe('application/json');
    expectInfluxHeaders(res);
  });

  it('routes each statement alone and stitches the results with statement ids renumbered', async () => {
    const q = `SELECT * FROM fo_cpu; SELECT * FROM fo_temp; SHOW DATABASES; SELECT * FROM fo_cpu2`;
    const res = await pq(q);
    expectStatus(res, 200);
    const parts = [
      (await dq(A, 'SELECT * FROM fo_cpu')).json().results[0],
      { ...(await dq(B, 'SELECT * FROM fo_temp')).json().results[0], statement_id: 1 },
      { statement_id: 2, series: [{ name: 'databases', columns: ['name'], values: [[PROXY_DB]] }] },
      { ...(await dq(A, 'SELECT * FROM fo_cpu2')).json().results[0], statement_id: 3 },
    ];
    expect(res.text).toBe(JSON.stringify({ results: parts }) + '\n');
  });

  it('stops at the first failing statement: later ones are "not executed"', async () => {
    const res = await pq(`SELECT * FROM fo_temp; SELECT * FROM nope..cpu; SHOW DATABASES; SELECT * FROM fo_cpu`);
    const results = res.json().results;
    expect(results.map((r: any) => [r.statement_id, r.error])).toEqual([
      [0, undefined],
      [1, 'database not found: nope'],
      [2, 'not executed'],
      [3, 'not executed'],
    ]);
    expect(results[0].series[0].name).toBe('fo_temp');
  });

  it('answers one line per statement result for chunked=true', async () => {
    const res = await pq('SHOW DATABASES; SELECT * FROM fo_temp', { chunked: 'true' });
    const lines = res.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.results[0].statement_id)).toEqual([0, 1]);
    expect(lines[1].results[0].series[0].name).toBe('fo_temp');
  });

  it('answers {} for a query of empty statements, as influxd does', async () => {
    expectSameAnswer(await pq(';'), await dq(A, ';'));
  });
});

describe('cluster-wide statements: fanned out and merged like one influxd holding everything (R)', () => {
  const same = async (q: string, params: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    expectSameAnswer(await pq(q, params, headers), await dq(R, q, params, headers));

  it.each([
    'SHOW MEASUREMENTS WITH MEASUREMENT =~ /^fo_/',
    'SHOW MEASUREMENTS WITH MEASUREMENT =~ /^fo_/ LIMIT 3 OFFSET 2',
    'SHOW MEASUREMENTS WITH MEASUREMENT =~ /^fo_/ OFFSET 5',
    'SHOW TAG KEYS FROM /^fo_/',
    'SHOW TAG KEYS FROM /^fo_/ LIMIT 1 OFFSET 1',
    'SHOW TAG KEYS FROM fo_cpu, fo_temp',
    'SHOW TAG VALUES FROM /^fo_/ WITH KEY = "host"',
    'SHOW TAG VALUES FROM /^fo_/ WITH KEY =~ /.*/ LIMIT 2 OFFSET 1',
    'SHOW FIELD KEYS FROM /^fo_/',
    'SHOW SERIES FROM /^fo_/',
    'SHOW SERIES FROM /^fo_/ LIMIT 3 OFFSET 2',
    'SHOW SERIES FROM fo_cpu, fo_temp, fo_mem',
  ])('%s', async (q) => {
    await same(q);
  });

  it.each([
    'SELECT * FROM fo_cpu, fo_temp',
    'SELECT * FROM /^fo_/',
    'SELECT * FROM /^fo_/ GROUP BY *',
    'SELECT * FROM /^fo_/ GROUP BY * SLIMIT 2 SOFFSET 1',
    'SELECT count(*) FROM fo_cpu, fo_temp, fo_mem',
    `SELECT max(*) FROM /^fo_x/ WHERE ${RANGE} GROUP BY time(1m), host fill(none)`,
  ])('%s', async (q) => {
    await same(q);
  });

  it('merges with epoch and as CSV like influxd', async () => {
    await same('SELECT * FROM fo_cpu, fo_temp', { epoch: 'ms' });
    await same('SELECT * FROM fo_cpu, fo_temp', {}, { Accept: 'text/csv' });
    await same('SELECT * FROM fo_cpu, fo_temp', { epoch: 's' }, { Accept: 'application/csv' });
    await same('SHOW MEASUREMENTS WITH MEASUREMENT =~ /^fo_/; SHOW TAG KEYS FROM /^fo_x/', {}, { Accept: 'text/csv' });
  });

  it('merges with pretty=true and gzip like influxd', async () => {
    await same('SHOW TAG KEYS FROM /^fo_/', { pretty: 'true' });
    const viaProxy = await pq('SHOW SERIES FROM /^fo_/', {}, { 'Accept-Encoding': 'gzip' });
    const direct = await dq(R, 'SHOW SERIES FROM /^fo_/', {}, { 'Accept-Encoding': 'gzip' });
    expect(viaProxy.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(viaProxy.body).equals(zlib.gunzipSync(direct.body))).toBe(true);
  });

  it('unions SHOW MEASUREMENTS over every backend (write-only excluded)', async () => {
    const names = async (influxd: Influxd) =>
      ((await dq(influxd, 'SHOW MEASUREMENTS')).json().results[0].series[0].values as string[][]).flat();
    const expected = [...new Set([...(await names(A)), ...(await names(B))])].sort();
    const res = await pq('SHOW MEASUREMENTS');
    expect(res.json().results[0].series[0].values.flat()).toEqual(expected);
  });

  it('unions SHOW RETENTION POLICIES by name, first seen first', async () => {
    await B.query(`CREATE RETENTION POLICY only_on_b ON ${DB_B} DURATION 2d REPLICATION 1`);
    const rows = async (influxd: Influxd) =>
      (await dq(influxd, `SHOW RETENTION POLICIES ON ${dbOf(influxd)}`)).json().results[0].series[0].values as unknown[][];
    const merged = [...(await rows(A))];
    for (const r of await rows(B)) if (!merged.some((m) => m[0] === r[0])) merged.push(r);
    const res = await pq(`SHOW RETENTION POLICIES ON "${PROXY_DB}"`);
    const series = res.json().results[0].series[0];
    expect(series.columns).toEqual(['name', 'duration', 'shardGroupDuration', 'replicaN', 'default']);
    expect(series.values).toEqual(merged);
    expect(series.values.map((r: unknown[]) => r[0])).toContain('only_on_b');
  });
});

describe('CREATE DATABASE / CREATE RETENTION POLICY on every backend', () => {
  it('created every backend’s own db at start-up (Telegraf’s POST form without db)', async () => {
    const names = async (influxd: Influxd) => ((await influxd.query('SHOW DATABASES')).results[0].series[0].values as string[][]).flat();
    expect(await names(A)).toEqual(expect.arrayContaining([DB_A, DB_W]));
    expect(await names(B)).toEqual(expect.arrayContaining([DB_B]));
  });

  it('creates a retention policy on every backend, in each one’s db', async () => {
    const res = await postForm(proxy.url, {}, { q: `CREATE RETENTION POLICY "fan_rp" ON "${PROXY_DB}" DURATION 3d REPLICATION 1` });
    expect(res.text).toBe('{"results":[{"statement_id":0}]}\n');
    for (const [influxd, db] of everyBackendDb()) {
      const rps = (await influxd.query(`SHOW RETENTION POLICIES ON ${db}`)).results[0].series[0].values as unknown[][];
      expect(rps.find((r) => r[0] === 'fan_rp')?.[1]).toBe('72h0m0s');
    }
  });

  it('keeps influxd’s GET deprecation message', async () => {
    const viaProxy = await pq(`CREATE DATABASE "${PROXY_DB}"`);
    const direct = await dq(A, `CREATE DATABASE "${DB_A}"`);
    expect(viaProxy.json().results[0].messages[0].text).toMatch(/^deprecated use of 'CREATE DATABASE/);
    expect(direct.json().results[0].messages[0].level).toBe(viaProxy.json().results[0].messages[0].level);
  });

  it('fails unless every backend succeeds', async () => {
    await B.query(`CREATE RETENTION POLICY conflict_rp ON ${DB_B} DURATION 1d REPLICATION 1`);
    const res = await postForm(proxy.url, {}, { q: `CREATE RETENTION POLICY conflict_rp ON ${PROXY_DB} DURATION 2d REPLICATION 1` });
    expectStatus(res, 200);
    expect(res.json().results[0].error).toMatch(/retention policy already exists|conflict/);
  });

  it('refuses to create a database other than the proxy’s', async () => {
    const res = await postForm(proxy.url, {}, { q: 'CREATE DATABASE other' });
    expect(res.json().results[0].error).toMatch(/mydb/);
    const names = ((await A.query('SHOW DATABASES')).results[0].series[0].values as string[][]).flat();
    expect(names).not.toContain('other');
  });
});

describe('a Grafana session', () => {
  const from = Number((T0 - 3600n * S) / 1_000_000n);
  const to = Number((T0 + 3600n * S) / 1_000_000n);
  const session = [
    `SHOW TAG KEYS FROM "grafana_m"`,
    `SHOW TAG VALUES FROM "grafana_m" WITH KEY = "host"`,
    `SHOW FIELD KEYS FROM "grafana_m"`,
    `SELECT mean("value") FROM "grafana_m" WHERE time >= ${from}ms and time <= ${to}ms GROUP BY time(1m) fill(null)`,
    `SELECT mean("value") FROM "autogen"."grafana_m" WHERE ("host" = 'g1') AND time >= ${from}ms and time <= ${to}ms GROUP BY time(20s), "host" fill(null)`,
  ];

  it.each(['GET', 'POST'])('answers its statements over %s as influxd does (epoch=ms)', async (method) => {
    const ask = (base: string, db: string, q: string) =>
      method === 'GET' ? request(queryUrl(base, { db, q, epoch: 'ms' })) : postForm(base, { db, epoch: 'ms' }, { q });
    for (const q of session) expectSameAnswer(await ask(proxy.url, PROXY_DB, q), await ask(A.url, DB_A, q));

    const rps = await ask(proxy.url, PROXY_DB, `SHOW RETENTION POLICIES on "${PROXY_DB}"`);
    expect(rps.json().results[0].series[0].values.map((r: unknown[]) => r[0])).toEqual(expect.arrayContaining(['autogen', 'fan_rp']));

    const measurements = await ask(proxy.url, PROXY_DB, 'SHOW MEASUREMENTS LIMIT 100');
    const names = measurements.json().results[0].series[0].values.flat();
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['grafana_m', 'fo_cpu', 'fo_temp', 'fo_mem']));

    const health = await ask(proxy.url, PROXY_DB, 'SHOW measurements');
    expectStatus(health, 200);
    expect(health.json().results[0].error).toBeUndefined();
  });
});

describe('the influx npm client (node-influx) through the proxy', () => {
  it('writes, queries and reads the schema; a DROP is refused', async () => {
    const port = Number(new URL(proxy.url).port);
    const influx = new InfluxDB({ host: '127.0.0.1', port, database: PROXY_DB });
    const [host] = await influx.ping(5000);
    expect(host.online).toBe(true);
    await influx.createDatabase(PROXY_DB);
    expect(await influx.getDatabaseNames()).toEqual([PROXY_DB]);
    await influx.writePoints([
      { measurement: 'npm_m', tags: { host: 'n1' }, fields: { v: 1.5, n: 2 }, timestamp: new Date('2023-11-14T22:13:20Z') },
      { measurement: 'npm_m', tags: { host: 'n2' }, fields: { v: 2.5, n: 3 }, timestamp: new Date('2023-11-14T22:13:30Z') },
      { measurement: 'temperature', tags: { host: 'n3' }, fields: { value: 20 }, timestamp: new Date('2023-11-14T22:13:20Z') },
    ]);
    const rows = await influx.query<{ host: string; v: number; n: number }>('SELECT * FROM npm_m');
    expect(rows.map((r) => [r.host, r.v, r.n])).toEqual([
      ['n1', 1.5, 2],
      ['n2', 2.5, 3],
    ]);
    const [mean, temp] = await influx.query<any>(['SELECT mean(v) FROM npm_m', `SELECT * FROM temperature WHERE host = 'n3'`]);
    expect((mean as any[])[0].mean).toBe(2);
    expect((temp as any[])[0].value).toBe(20);
    expect(await influx.getMeasurements()).toEqual(expect.arrayContaining(['npm_m', 'temperature', 'fo_cpu']));
    expect(await influx.getSeries({ measurement: 'npm_m' })).toEqual(['npm_m,host=n1', 'npm_m,host=n2']);
    const rps = await influx.showRetentionPolicies();
    expect(rps.map((r) => r.name)).toEqual(expect.arrayContaining(['autogen']));
    await expect(influx.dropDatabase(PROXY_DB)).rejects.toThrow(/forbidden/);
    await expect(influx.dropMeasurement('npm_m')).rejects.toThrow(/forbidden/);
    expect((await influx.query('SELECT count(v) FROM npm_m'))[0]).toMatchObject({ count: 2 });
  });
});

// ---------------------------------------------------------------------------------------------
// stub backends: a stalled one, one that holds requests open, one that streams on command

interface Stub {
  url: string;
  server: http.Server;
  /** Requests to /query seen so far, with whether their connection closed. */
  queries: { url: string; closed: boolean }[];
  /** The slow stub's second chunk is written when this is called. */
  release: () => void;
}

async function startStub(mode: 'stall' | 'headers-then-stall' | 'slow'): Promise<Stub> {
  const port = await freePort();
  let releaseFn: () => void = () => {};
  const stub: Stub = { url: `http://127.0.0.1:${port}`, server: undefined as any, queries: [], release: () => releaseFn() };
  const server = http.createServer((req, res) => {
    const headers = { 'X-Influxdb-Version': '9.9.9-stub', 'X-Influxdb-Build': 'OSS', 'Content-Type': 'application/json' };
    if (req.url?.startsWith('/ping')) {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    const seen = { url: req.url ?? '', closed: false };
    stub.queries.push(seen);
    res.on('close', () => (seen.closed = true));
    if (mode === 'stall') return; // never answers
    res.writeHead(200, headers);
    if (mode === 'headers-then-stall') {
      res.flushHeaders(); // what influxd does before it runs the query
      return;
    }
    res.write(
      '{"results":[{"statement_id":0,"series":[{"name":"slow_m","columns":["v"],"values":[[1]],"partial":true}],"partial":true}]}\n',
    );
    releaseFn = () => res.end('{"results":[{"statement_id":0,"series":[{"name":"slow_m","columns":["v"],"values":[[2]]}]}]}\n');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  stub.server = server;
  return stub;
}

describe('timeouts, disconnects, streaming and 503 (stub backends)', () => {
  let stall: Stub;
  let late: Stub;
  let hold: Stub;
  let slow: Stub;
  let side: ProxyProcess;

  beforeAll(async () => {
    [stall, late, hold, slow] = await Promise.all([
      startStub('stall'),
      startStub('headers-then-stall'),
      startStub('stall'),
      startStub('slow'),
    ]);
    const deadPort = await freePort();
    const port = await freePort();
    side = await startProxy({
      config: {
        backends: {
          stall: backend(stall.url, 'x', { timeoutQuery: 500 }),
          late: backend(late.url, 'x', { timeoutQuery: 500 }),
          hold: backend(hold.url, 'x', { timeoutQuery: 60_000 }),
          slow: backend(slow.url, 'x'),
          dead: backend(`http://127.0.0.1:${deadPort}`, 'x'),
          b: backend(B.url, DB_B),
        },
        keymaps: { stall_m: ['stall', 'b'], late_m: ['late', 'b'], hold_m: ['hold'], slow_m: ['slow'], dead_m: ['dead'], _default_: ['b'] },
        proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db: PROXY_DB, zone: 'z' } },
      },
    });
  });

  afterAll(async () => {
    for (const s of [stall, late, hold, slow]) {
      s?.server.closeAllConnections();
      await new Promise((resolve) => s?.server.close(resolve));
    }
  });

  it('moves on to the next backend when one does not answer within timeoutQuery', async () => {
    await writeDirect(B, DB_B, [`stall_m value=2 ${ts(0)}`]);
    const started = Date.now();
    const res = await request(queryUrl(side.url, { db: PROXY_DB, q: 'SELECT value FROM stall_m' }));
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.json().results[0].series[0].values).toEqual([['2023-11-14T22:13:20Z', 2]]);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(10_000);
    expect(stall.queries.length).toBeGreaterThan(0);
  });

  it('moves on when a backend sends its 200 but no data within timeoutQuery (as influxd flushes headers first)', async () => {
    await writeDirect(B, DB_B, [`late_m value=3 ${ts(0)}`]);
    for (const params of [{}, { chunked: 'true' }] as Record<string, string>[]) {
      const res = await request(queryUrl(side.url, { db: PROXY_DB, q: 'SELECT value FROM late_m', ...params }));
      expect(res.status).toBe(200);
      expect(res.json().results[0].series[0].values).toEqual([['2023-11-14T22:13:20Z', 3]]);
    }
    expect(late.queries.length).toBe(2);
  });

  it('aborts the backend request when the client disconnects', async () => {
    const before = hold.queries.length;
    const req = http.get(queryUrl(side.url, { db: PROXY_DB, q: 'SELECT * FROM hold_m' }));
    req.on('error', () => undefined);
    await waitUntil(async () => hold.queries.length > before, { attempts: 50, intervalMs: 50, what: 'the query to reach the stub' });
    req.destroy();
    const seen = hold.queries[hold.queries.length - 1];
    await waitUntil(async () => seen.closed, {
      attempts: 40,
      intervalMs: 50,
      what: 'the backend request to be aborted (timeoutQuery is 60 s)',
    });
  });

  it('relays a chunked answer chunk by chunk with the answering backend’s version', async () => {
    const got: string[] = [];
    let version: string | undefined;
    const done = new Promise<void>((resolve, reject) => {
      http
        .get(queryUrl(side.url, { db: PROXY_DB, q: 'SELECT * FROM slow_m', chunked: 'true' }), (res) => {
          version = res.headers['x-influxdb-version'] as string;
          res.setEncoding('utf8');
          res.on('data', (d: string) => got.push(d));
          res.on('end', resolve);
          res.on('error', reject);
        })
        .on('error', reject);
    });
    // The first chunk arrives while the backend still holds the rest back.
    await waitUntil(async () => got.join('').includes('"values":[[1]]'), { attempts: 100, intervalMs: 50, what: 'the first chunk' });
    expect(got.join('')).not.toContain('[[2]]');
    slow.release();
    await done;
    expect(got.join('').trimEnd().split('\n')).toHaveLength(2);
    expect(version).toBe('9.9.9-stub');
  });

  it('answers 503 with a JSON error when no backend can answer', async () => {
    const res = await request(queryUrl(side.url, { db: PROXY_DB, q: 'SELECT * FROM dead_m' }));
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.text).error).toMatch(/no backend can answer|no backend could answer/);
    expect(res.headers['x-influxdb-error']).toBe(JSON.parse(res.text).error);
  });
});

describe('a large chunked answer is streamed, never held', () => {
  const POINTS = 300_000;
  const PAYLOAD = 'x'.repeat(150);

  it(`streams ${POINTS} points (chunk_size 1000) with the proxy’s memory flat`, async () => {
    for (let start = 0; start < POINTS; start += 10_000) {
      const lines: string[] = [];
      for (let i = start; i < start + 10_000; i++) lines.push(`big,host=h${i % 16} v=${i}i,s="${PAYLOAD}" ${T0 + BigInt(i) * 1_000_000n}`);
      await writeViaProxy(lines);
    }
    // A fresh proxy, so its peak RSS is its own start-up, not the writes above.
    const fresh = await startProxy({ config: mainConfig(await freePort()) });
    const q = 'SELECT * FROM big; SELECT * FROM big';
    const params = { chunked: 'true', chunk_size: '1000' };
    await request(queryUrl(fresh.url, { db: PROXY_DB, q: 'SELECT * FROM big LIMIT 10', ...params }));
    const before = memoryOf(fresh.pid);

    // A slow reader: nothing read for 2 s. Back-pressure must hold the backend meanwhile; a proxy that
    // buffered would take in tens of MB while influxd keeps writing.
    let bytes = 0;
    let rssAfterPause = 0;
    const hash = crypto.createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      http
        .get(queryUrl(fresh.url, { db: PROXY_DB, q, ...params }), (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.pause();
          setTimeout(() => {
            rssAfterPause = memoryOf(fresh.pid).rss;
            res.resume();
          }, 2000);
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            hash.update(chunk);
          });
          res.on('end', resolve);
          res.on('error', reject);
        })
        .on('error', reject);
    });
    const after = memoryOf(fresh.pid);
    const direct = await request(queryUrl(A.url, { db: DB_A, q, ...params }), { timeoutMs: 120_000 });
    expect(direct.body.length).toBe(bytes);
    expect(crypto.createHash('sha256').update(direct.body).digest('hex')).toBe(hash.digest('hex'));
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    process.stderr.write(
      `[query e2e] streamed ${mb(bytes)}; proxy VmRSS ${mb(before.rss)} → ${mb(rssAfterPause)} after the paused 2 s → ` +
        `${mb(after.rss)}; VmHWM ${mb(before.hwm)} → ${mb(after.hwm)}\n`,
    );
    expect(bytes).toBeGreaterThan(100 << 20);
    expect(rssAfterPause - before.rss).toBeLessThan(16 << 20);
    // Reading fast, RSS rises by what V8 has not yet collected of the socket Buffers (external memory,
    // bounded by its GC trigger), not by the answer: the growth must not scale with the response. That
    // growth was 36–40 MB on this 2-core machine, for builds before and after #12/#13 alike (bytes / 3,
    // the earlier bound, is 37 MB here and failed runs of both); 48 MB is under half of the 111 MB answer.
    expect(after.hwm - before.hwm).toBeLessThan(Math.min(bytes / 2, 48 << 20));
    expect(after.hwm).toBeLessThan(bytes + before.rss);
    await fresh.stop();
  });
});

describe('failover', () => {
  it('answers from the next backend when the first is killed (kill -9), then skips it once it is marked down', async () => {
    await writeDirect(A, DB_A, [`failover_m value=1 ${ts(0)}`]);
    await writeDirect(B, DB_B, [`failover_m value=2 ${ts(0)}`]);
    const value = async () => {
      const res = await pq('SELECT value FROM failover_m');
      expectStatus(res, 200);
      return res.json().results[0].series[0].values[0][1];
    };
    expect(await value()).toBe(1);
    await A.kill('SIGKILL');
    expect(await value()).toBe(2); // connection refused on a → b, in the same request
    // health checks (500 ms) mark a down, and the other backends on A's address (w, far) with it
    await waitUntil(
      async () => {
        const status = (await request(`${proxy.url}/meta`)).json().backendStatus;
        return status.a === false && status.w === false && status.far === false;
      },
      { attempts: 100, intervalMs: 100, what: 'a, w and far marked down', details: () => proxy.output() },
    );
    expect(await value()).toBe(2);
    // A fan-out still answers from b, with a warning for the sets only a held.
    const show = await pq('SHOW MEASUREMENTS');
    expectStatus(show, 200);
    expect(show.json().results[0].series[0].values.flat()).toContain('fo_temp');
    expect(show.json().results[0].messages).toEqual([{ level: 'warning', text: expect.stringMatching(/incomplete/) }]);
    // Only a holds cpu: nobody can answer.
    expectInfluxError(await pq('SELECT * FROM cpu'), 503, /no backend/);
  });
});
