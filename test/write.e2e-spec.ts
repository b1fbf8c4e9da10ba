/**
 * The /write path end to end: two real influxd (a → db "dba", b → db "dbb") behind one proxy
 * (db "mydb"). Every data assertion queries influxd directly, never through the proxy.
 *
 * Each test writes its own measurement or its own `test` tag and timestamps, so tests never see
 * each other's data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { HttpResponse, request } from './support/http';
import { Influxd, Row, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, reload, startProxy } from './support/proxy-process';

const PROXY_DB = 'mydb';
const DB_A = 'dba';
const DB_B = 'dbb';
const MAX_BODY = 25_000_000;

let A: Influxd;
let B: Influxd;
let proxy: ProxyProcess;

function makeConfig(listenPort: number, keymaps: Record<string, string[]>): ProxyConfig {
  const backend = (url: string, db: string) => ({
    url,
    db,
    zone: 'z',
    interval: 100,
    timeout: 10_000,
    timeoutQuery: 600_000,
    maxRowLimit: 10_000,
    checkInterval: 500,
    rewriteInterval: 1_000,
    writeOnly: 0,
  });
  return {
    backends: { a: backend(A.url, DB_A), b: backend(B.url, DB_B) },
    keymaps,
    proxies: {
      p1: {
        listenAddr: `127.0.0.1:${listenPort}`,
        db: PROXY_DB,
        zone: 'z',
        interval: 10,
        idleTimeout: 10,
        writeTracing: 0,
        queryTracing: 0,
      },
    },
  };
}

const KEYMAPS = { cpu: ['a'], temperature: ['b'], 'my meas': ['b'], _default_: ['a', 'b'] };

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase(DB_A), B.createDatabase(DB_B)]);
  for (const [influxd, db] of [
    [A, DB_A],
    [B, DB_B],
  ] as const) {
    const json = await influxd.query(`CREATE RETENTION POLICY "rp2" ON "${db}" DURATION INF REPLICATION 1`);
    if (json.results?.[0]?.error) throw new Error(`CREATE RETENTION POLICY on ${influxd.url}: ${json.results[0].error}`);
  }
  proxy = await startProxy({ config: makeConfig(await freePort(), KEYMAPS) });
});

afterAll(stopAll);

// ---------------------------------------------------------------------------------------------
// helpers

function write(
  body: string | Buffer,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
  target: ProxyProcess = proxy,
): Promise<HttpResponse> {
  const search = new URLSearchParams({ db: PROXY_DB, ...params });
  return request(`${target.url}/write?${search}`, { method: 'POST', body, headers });
}

function describeResponse(res: HttpResponse): string {
  return `${res.status} headers=${JSON.stringify(res.headers)} body=${JSON.stringify(res.text.slice(0, 2000))}`;
}

/** Fails with the whole answer and the proxy's recent output when the status is not `status`. */
function expectStatus(res: HttpResponse, status: number, target: ProxyProcess = proxy): void {
  if (res.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${describeResponse(res)}\n--- proxy output (tail) ---\n${target.output().slice(-4000)}`);
  }
}

/** Headers influxd puts on every /write and /ping answer. */
function expectInfluxHeaders(res: HttpResponse): void {
  expect(res.headers['x-influxdb-version']).toEqual(expect.stringMatching(/\S/));
  expect(res.headers['x-influxdb-build']).toBe('OSS');
  expect(res.headers['request-id']).toEqual(expect.stringMatching(/\S/));
  expect(res.headers['x-request-id']).toBe(res.headers['request-id']);
}

/**
 * InfluxDB's error shape: status, `Content-Type: application/json`, body `{"error":"…"}` plus a
 * newline, `X-Influxdb-Error` carrying the same message, and the usual headers.
 */
function expectInfluxError(res: HttpResponse, status: number, message: string | RegExp): string {
  expectStatus(res, status);
  expect(res.headers['content-type']).toBe('application/json');
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`error body is not JSON: ${describeResponse(res)}`);
  }
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  if (typeof message === 'string') {
    expect(body.error).toBe(message);
    expect(res.text).toBe(`${JSON.stringify({ error: message })}\n`);
  } else {
    expect(body.error).toMatch(message);
    expect(res.text.endsWith('}\n')).toBe(true);
  }
  // A header value cannot hold a newline; Go's net/http turns each one into a space.
  expect(res.headers['x-influxdb-error']).toBe(body.error.replace(/\r?\n/g, ' '));
  expectInfluxHeaders(res);
  return body.error;
}

function dbOf(influxd: Influxd): string {
  return influxd === A ? DB_A : DB_B;
}

function nameOf(influxd: Influxd): string {
  return influxd === A ? 'a' : 'b';
}

/** Rows of `q` on `influxd` once there are any (bounded wait: 100 × 100 ms). */
function eventually(influxd: Influxd, q: string, params: Record<string, string> = {}): Promise<Row[]> {
  return waitUntil(
    async () => {
      const rows = await influxd.rows(q, dbOf(influxd), params);
      return rows.length > 0 ? rows : undefined;
    },
    { attempts: 100, intervalMs: 100, what: `backend ${nameOf(influxd)} (${influxd.url}) to return rows for ${q}` },
  );
}

function rowsOn(influxd: Influxd, q: string, params: Record<string, string> = {}): Promise<Row[]> {
  return influxd.rows(q, dbOf(influxd), params);
}

/** Sends an oversized body; retries when the connection is reset before any answer (see http.ts). */
async function postOversized(url: string, body: Buffer, options: { chunked?: boolean; headers?: Record<string, string> } = {}) {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await request(url, { method: 'POST', body, chunked: options.chunked, headers: options.headers, timeoutMs: 60_000 });
    } catch (err) {
      lastError = err;
      if (!/ECONNRESET|EPIPE/.test((err as Error).message)) throw err;
    }
  }
  throw lastError;
}

/** `size` zero bytes gzipped as one member, streamed so the zeros never sit in memory at once. */
async function gzipOfZeros(size: number): Promise<Buffer> {
  const gzip = zlib.createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const zeros = Buffer.alloc(1 << 20);
  for (let written = 0; written < size; written += zeros.length) {
    const piece = zeros.subarray(0, Math.min(zeros.length, size - written));
    if (!gzip.write(piece)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------

describe('routing by measurement', () => {
  const T = '1700000100000000000';
  const TN = BigInt(T);
  let res: HttpResponse;

  beforeAll(async () => {
    res = await write(
      [
        `cpu,test=routing value=1 ${T}`,
        `temperature,test=routing value=2 ${T}`,
        `mem,test=routing value=3 ${T}`,
        `cpu.load,test=routing value=4 ${T}`,
        `my\\ meas,host=a\\,b,test=routing value=5 ${T}`,
      ].join('\n'),
    );
  });

  it('answers a good write with 204, an empty body and InfluxDB headers', () => {
    expectStatus(res, 204);
    expect(res.text).toBe('');
    expectInfluxHeaders(res);
  });

  it('sends a measurement mapped to one backend only to that backend (cpu → a)', async () => {
    expect(await eventually(A, `SELECT * FROM cpu WHERE test = 'routing'`)).toEqual([{ time: TN, test: 'routing', value: 1 }]);
    await eventually(B, `SELECT * FROM temperature WHERE test = 'routing'`); // b has had this request
    await eventually(B, `SELECT * FROM mem WHERE test = 'routing'`);
    expect(await rowsOn(B, `SELECT * FROM cpu WHERE test = 'routing'`)).toEqual([]);
  });

  it('sends a measurement mapped to the other backend only there (temperature → b)', async () => {
    expect(await eventually(B, `SELECT * FROM temperature WHERE test = 'routing'`)).toEqual([{ time: TN, test: 'routing', value: 2 }]);
    await eventually(A, `SELECT * FROM cpu WHERE test = 'routing'`);
    await eventually(A, `SELECT * FROM mem WHERE test = 'routing'`);
    expect(await rowsOn(A, `SELECT * FROM temperature WHERE test = 'routing'`)).toEqual([]);
  });

  it('replicates an unmapped measurement to every _default_ backend (mem → a and b)', async () => {
    for (const influxd of [A, B]) {
      expect(await eventually(influxd, `SELECT * FROM mem WHERE test = 'routing'`)).toEqual([{ time: TN, test: 'routing', value: 3 }]);
    }
  });

  it('does not prefix-match: cpu.load goes to _default_, not to the cpu keymap', async () => {
    for (const influxd of [A, B]) {
      expect(await eventually(influxd, `SELECT * FROM "cpu.load" WHERE test = 'routing'`)).toEqual([
        { time: TN, test: 'routing', value: 4 },
      ]);
    }
  });

  it('routes an escaped measurement by its unescaped name (my\\ meas → "my meas" → b only)', async () => {
    expect(await eventually(B, `SELECT * FROM "my meas" WHERE test = 'routing'`)).toEqual([
      { time: TN, host: 'a,b', test: 'routing', value: 5 },
    ]);
    await eventually(A, `SELECT * FROM mem WHERE test = 'routing'`); // a has had this request
    await eventually(A, `SELECT * FROM "cpu.load" WHERE test = 'routing'`);
    expect(await rowsOn(A, `SELECT * FROM "my meas"`)).toEqual([]);
    expect(await rowsOn(A, `SHOW MEASUREMENTS WITH MEASUREMENT =~ /^my/`)).toEqual([]);
  });
});

describe('timestamps and precision', () => {
  // Each precision writes "1700000000.123456789 s" as far as that precision can express it.
  const cases = [
    { precision: 'n', timestamp: '1700000000123456789', ns: 1700000000123456789n, instant: '2023-11-14T22:13:20.123456789Z' },
    { precision: 'ns', timestamp: '1700000000123456789', ns: 1700000000123456789n, instant: '2023-11-14T22:13:20.123456789Z' },
    { precision: 'u', timestamp: '1700000000123456', ns: 1700000000123456000n, instant: '2023-11-14T22:13:20.123456Z' },
    { precision: 'ms', timestamp: '1700000000123', ns: 1700000000123000000n, instant: '2023-11-14T22:13:20.123Z' },
    { precision: 's', timestamp: '1700000000', ns: 1700000000000000000n, instant: '2023-11-14T22:13:20Z' },
    { precision: 'm', timestamp: '28333333', ns: 1699999980000000000n, instant: '2023-11-14T22:13:00Z' },
    { precision: 'h', timestamp: '472222', ns: 1699999200000000000n, instant: '2023-11-14T22:00:00Z' },
  ];

  it.each(cases)(
    'writes precision=$precision points at the right instant ($timestamp → $instant)',
    async ({ precision, timestamp, ns, instant }) => {
      // The table itself: ns and instant name the same moment (to the millisecond Date can show).
      expect(new Date(Number(ns / 1_000_000n)).toISOString()).toBe(
        instant.replace(/(\.\d{3})\d*Z$/, '$1Z').replace(/:(\d\d)Z$/, ':$1.000Z'),
      );
      const measurement = `precision_${precision}`;
      expectStatus(await write(`${measurement},test=precision value=1 ${timestamp}`, { precision }), 204);
      for (const influxd of [A, B]) {
        const rows = await eventually(influxd, `SELECT * FROM ${measurement}`);
        expect(rows.map((r) => r.time)).toEqual([ns]);
      }
    },
  );

  it('stamps a line without timestamp with the receive time truncated to the request precision (s)', async () => {
    const before = Date.now();
    expectStatus(await write('no_ts_seconds,test=s value=1', { precision: 's' }), 204);
    const after = Date.now();
    const lo = BigInt(Math.floor(before / 1000)) * 1_000_000_000n;
    const hi = BigInt(Math.floor(after / 1000)) * 1_000_000_000n;
    const times: bigint[] = [];
    for (const influxd of [A, B]) {
      const rows = await eventually(influxd, 'SELECT * FROM no_ts_seconds');
      expect(rows).toHaveLength(1);
      times.push(rows[0].time);
    }
    const [t] = times;
    expect(t % 1_000_000_000n).toBe(0n);
    expect(t >= lo && t <= hi).toBe(true);
    expect(times[1]).toBe(t); // stamped once by the proxy, identical on both replicas
  });

  it('stamps a line without timestamp (no precision) with the receive time in ns, identical on every replica', async () => {
    const before = Date.now();
    expectStatus(await write('no_ts_ns,test=ns value=1'), 204);
    const after = Date.now();
    const lo = BigInt(before) * 1_000_000n;
    const hi = BigInt(after + 1) * 1_000_000n;
    const times: bigint[] = [];
    for (const influxd of [A, B]) {
      const rows = await eventually(influxd, 'SELECT * FROM no_ts_ns');
      expect(rows).toHaveLength(1);
      times.push(rows[0].time);
    }
    const [t] = times;
    if (!(t >= lo && t <= hi)) throw new Error(`stored time ${t} is outside the request window [${lo}, ${hi}]`);
    expect(times[1]).toBe(t);
  });

  it('honours rp: points written with rp=rp2 land in that retention policy on every backend', async () => {
    const T = '1700000200000000000';
    expectStatus(await write(`rp_mem,test=rp value=7 ${T}`, { rp: 'rp2' }), 204);
    for (const influxd of [A, B]) {
      expect(await eventually(influxd, 'SELECT * FROM "rp2"."rp_mem"')).toEqual([{ time: BigInt(T), test: 'rp', value: 7 }]);
      expect(await rowsOn(influxd, 'SELECT * FROM "autogen"."rp_mem"')).toEqual([]);
    }
  });
});

describe('line protocol bodies', () => {
  it('keeps a multi-line quoted string field intact and reads the line after it', async () => {
    const T = '1700000300000000000';
    const body = `multiline_str,host=a msg="line1\nline2" ${T}\nmultiline_str,host=b value=2 ${T}\n`;
    expectStatus(await write(body), 204);
    for (const influxd of [A, B]) {
      const rows = await waitUntil(
        async () => {
          const r = await rowsOn(influxd, 'SELECT * FROM multiline_str');
          return r.length >= 2 ? r : undefined;
        },
        { attempts: 100, intervalMs: 100, what: `both multiline_str points on ${nameOf(influxd)}` },
      );
      expect(rows).toEqual([
        { time: BigInt(T), host: 'a', msg: 'line1\nline2', value: null },
        { time: BigInt(T), host: 'b', msg: null, value: 2 },
      ]);
    }
  });

  it('accepts a gzip-encoded body', async () => {
    const T = '1700000400000000000';
    const res = await write(zlib.gzipSync(`gzip_body,test=gzip value=1 ${T}\n`), {}, { 'Content-Encoding': 'gzip' });
    expectStatus(res, 204);
    for (const influxd of [A, B]) {
      expect(await eventually(influxd, 'SELECT * FROM gzip_body')).toEqual([{ time: BigInt(T), test: 'gzip', value: 1 }]);
    }
  });

  it('answers 400 with a JSON error for a body that is not gzip although it says so', async () => {
    const res = await write('not gzip at all', {}, { 'Content-Encoding': 'gzip' });
    expectInfluxError(res, 400, /\S/);
  });

  it('answers 400 with a JSON error for a truncated gzip body and writes nothing', async () => {
    const whole = zlib.gzipSync(`gzip_truncated,test=gzip value=1 1700000400000000000\n`.repeat(50));
    const res = await write(whole.subarray(0, Math.floor(whole.length / 2)), {}, { 'Content-Encoding': 'gzip' });
    expectInfluxError(res, 400, /\S/);
    // A later, good write to the same backends proves they have had their chance to receive anything.
    expectStatus(await write('gzip_truncated_marker value=1 1700000400000000000'), 204);
    for (const influxd of [A, B]) {
      await eventually(influxd, 'SELECT * FROM gzip_truncated_marker');
      expect(await rowsOn(influxd, 'SELECT * FROM gzip_truncated')).toEqual([]);
    }
  });

  it('answers 204 to an empty body', async () => {
    const res = await write('');
    expectStatus(res, 204);
    expect(res.text).toBe('');
  });

  it('answers 204 to a body of comments and blank lines', async () => {
    const res = await write('# just a comment\n\n   \t# another one\n\n');
    expectStatus(res, 204);
    expect(res.text).toBe('');
  });

  it('rejects a line without measurement: 400 unable to parse … missing measurement', async () => {
    expectInfluxError(await write(',cpu value=1'), 400, "unable to parse ',cpu value=1': missing measurement");
  });

  it('rejects a line without fields: 400 unable to parse … missing fields', async () => {
    expectInfluxError(await write('cpu'), 400, "unable to parse 'cpu': missing fields");
  });

  it('writes the good lines of a mixed body and answers 400 partial write … dropped=', async () => {
    const T = '1700000500000000000';
    const res = await write(
      `partial_good,test=partial value=1 ${T}\n,cpu value=1\npartial_good,test=partial value=2 1700000500000000001\n`,
    );
    const message = expectInfluxError(res, 400, /^partial write: /);
    expect(message).toContain("unable to parse ',cpu value=1': missing measurement");
    expect(message).toMatch(/ dropped=\d+$/);
    for (const influxd of [A, B]) {
      const rows = await waitUntil(
        async () => {
          const r = await rowsOn(influxd, 'SELECT * FROM partial_good');
          return r.length >= 2 ? r : undefined;
        },
        { attempts: 100, intervalMs: 100, what: `both good partial_good points on ${nameOf(influxd)}` },
      );
      expect(rows.map((r) => r.value)).toEqual([1, 2]);
    }
  });
});

describe('request checks and error answers', () => {
  it('answers 400 database is required when db is missing', async () => {
    const res = await request(`${proxy.url}/write`, { method: 'POST', body: 'cpu value=1' });
    expectInfluxError(res, 400, 'database is required');
  });

  it('answers 404 database not found when db is not the proxy db', async () => {
    const res = await request(`${proxy.url}/write?db=other`, { method: 'POST', body: 'cpu value=1' });
    expectInfluxError(res, 404, 'database not found: "other"');
  });

  it('answers 400 for an unknown precision', async () => {
    expectInfluxError(await write('bad_precision value=1 1', { precision: 'xx' }), 400, /precision/i);
  });

  it('answers 405 with an Allow header to GET /write', async () => {
    const res = await request(`${proxy.url}/write?db=${PROXY_DB}`);
    expectStatus(res, 405);
    expect(res.headers.allow).toMatch(/\bPOST\b/);
  });

  it('echoes the client X-Request-Id on success and on error', async () => {
    const ok = await write('request_id value=1 1700000600000000000', {}, { 'X-Request-Id': 'e2e-request-1' });
    expectStatus(ok, 204);
    expect(ok.headers['x-request-id']).toBe('e2e-request-1');
    expect(ok.headers['request-id']).toBe('e2e-request-1');
    const bad = await write('cpu', {}, { 'X-Request-Id': 'e2e-request-2' });
    expectStatus(bad, 400);
    expect(bad.headers['x-request-id']).toBe('e2e-request-2');
    expect(bad.headers['request-id']).toBe('e2e-request-2');
  });

  it('answers 413 Request Entity Too Large to a body over 25,000,000 bytes (Content-Length)', async () => {
    const body = Buffer.alloc(MAX_BODY + 1, 'too_big,test=cl value=1 1700000700000000000\n');
    const res = await postOversized(`${proxy.url}/write?db=${PROXY_DB}`, body);
    expectInfluxError(res, 413, 'Request Entity Too Large');
  });

  it('answers 413 Request Entity Too Large to a chunked body over 25,000,000 bytes', async () => {
    const body = Buffer.alloc(MAX_BODY + 1, 'too_big,test=chunked value=1 1700000700000000000\n');
    const res = await postOversized(`${proxy.url}/write?db=${PROXY_DB}`, body, { chunked: true });
    expectInfluxError(res, 413, 'Request Entity Too Large');
  });

  // 1 GiB of zeros in ~1 MB of gzip: far over any sane bound on the inflated body, far under the
  // 25,000,000-byte limit on the body as sent.
  it('answers 413 to a gzip bomb (1 GiB of zeros) and keeps serving', async () => {
    const bomb = await gzipOfZeros(1 << 30);
    expect(bomb.length).toBeLessThan(MAX_BODY / 10);
    const res = await postOversized(`${proxy.url}/write?db=${PROXY_DB}`, bomb, { headers: { 'Content-Encoding': 'gzip' } });
    expectInfluxError(res, 413, /\S/);
    expectStatus(await request(`${proxy.url}/ping`), 204);
    expectStatus(await write('after_bomb value=1 1700000800000000000'), 204);
  });
});

describe('/ping and unknown paths', () => {
  it('answers GET /ping with 204, an empty body and the backend version', async () => {
    const res = await request(`${proxy.url}/ping`);
    expectStatus(res, 204);
    expect(res.text).toBe('');
    expect(res.headers['x-influxdb-version']).toBe(A.version);
    expectInfluxHeaders(res);
  });

  it('answers HEAD /ping with 204 and the backend version', async () => {
    const res = await request(`${proxy.url}/ping`, { method: 'HEAD' });
    expectStatus(res, 204);
    expect(res.text).toBe('');
    expect(res.headers['x-influxdb-version']).toBe(A.version);
  });

  it('answers POST /ping with 405', async () => {
    const res = await request(`${proxy.url}/ping`, { method: 'POST', body: '' });
    expectStatus(res, 405);
    expect(res.headers.allow).toMatch(/\bGET\b/);
  });

  it('answers GET /ping?verbose=true with 200 {"version":…}', async () => {
    const res = await request(`${proxy.url}/ping?verbose=true`);
    expectStatus(res, 200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.text)).toEqual({ version: A.version });
  });

  it('answers an unknown path with 404 page not found', async () => {
    const res = await request(`${proxy.url}/no/such/path`);
    expectStatus(res, 404);
    expect(res.text.trim()).toBe('404 page not found');
  });
});

describe('config reload', () => {
  let reloading: ProxyProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    reloading = await startProxy({ config: makeConfig(port, KEYMAPS) });
  });

  afterAll(async () => {
    await reloading?.stop();
  });

  it('routes by the new keymap after the config file is rewritten and POST /reload', async () => {
    await reloading.rewriteConfig(makeConfig(port, { ...KEYMAPS, cpu: ['b'] }));
    const res = await reload(reloading.url);
    expect([200, 204]).toContain(res.status);

    const T = '1700000900000000000';
    expectStatus(await write(`cpu,test=reloaded value=1 ${T}\nmem,test=reloaded value=1 ${T}`, {}, {}, reloading), 204, reloading);
    expect(await eventually(B, `SELECT * FROM cpu WHERE test = 'reloaded'`)).toEqual([{ time: BigInt(T), test: 'reloaded', value: 1 }]);
    await eventually(A, `SELECT * FROM mem WHERE test = 'reloaded'`); // a has had this request
    expect(await rowsOn(A, `SELECT * FROM cpu WHERE test = 'reloaded'`)).toEqual([]);
  });

  it('refuses an invalid config on reload with a 4xx naming the field, and keeps the previous one', async () => {
    await reloading.rewriteConfig(makeConfig(port, { ...KEYMAPS, cpu: ['b'] }));
    expect([200, 204]).toContain((await reload(reloading.url)).status);

    const invalid = makeConfig(port, { ...KEYMAPS, cpu: ['a'] });
    invalid.backends.b.url = 'not a url';
    await reloading.rewriteConfig(invalid);
    const res = await reload(reloading.url);
    if (res.status < 400 || res.status > 499) throw new Error(`expected a 4xx, got ${describeResponse(res)}`);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.text).error).toMatch(/url/i);

    expectStatus(await request(`${reloading.url}/ping`), 204, reloading);
    const T = '1700000910000000000';
    expectStatus(await write(`cpu,test=kept value=1 ${T}\nmem,test=kept value=1 ${T}`, {}, {}, reloading), 204, reloading);
    expect(await eventually(B, `SELECT * FROM cpu WHERE test = 'kept'`)).toEqual([{ time: BigInt(T), test: 'kept', value: 1 }]);
    await eventually(A, `SELECT * FROM mem WHERE test = 'kept'`);
    expect(await rowsOn(A, `SELECT * FROM cpu WHERE test = 'kept'`)).toEqual([]);
  });

  it('refuses a config whose new backend cannot open its spool, before a changed backend is handed over', async () => {
    await reloading.rewriteConfig(makeConfig(port, KEYMAPS));
    expect([200, 204]).toContain((await reload(reloading.url)).status);
    // a plain file where backend c's spool directory would be
    await fs.promises.writeFile(path.join(reloading.spoolDir, 'c'), 'not a directory');
    const next = makeConfig(port, { ...KEYMAPS, cpu: ['c'] });
    next.backends.c = { ...next.backends.b };
    next.backends.a = { ...next.backends.a, timeout: 10_001 }; // changed: would be handed over
    await reloading.rewriteConfig(next);
    const res = await reload(reloading.url);
    if (res.status !== 400) throw new Error(`expected 400, got ${describeResponse(res)}`);
    expect(JSON.parse(res.text).error).toMatch(/^backends\.c: cannot open its spool/);

    const meta = JSON.parse((await request(`${reloading.url}/meta`)).text);
    expect(meta.backends.a.timeout).toBe(10_000); // the previous config, a not replaced
    expect(Object.keys(meta.backends)).toEqual(['a', 'b']);
    const T = '1700000920000000000';
    expectStatus(await write(`mem,test=spool-refused value=1 ${T}`, {}, {}, reloading), 204, reloading);
    await eventually(A, `SELECT * FROM mem WHERE test = 'spool-refused'`);
    await fs.promises.rm(path.join(reloading.spoolDir, 'c'));
  });
});

describe('with backend b down', () => {
  const T = '1700001000000000000';

  beforeAll(async () => {
    await B.kill('SIGKILL');
  });

  afterAll(async () => {
    if (!B.isRunning()) await B.restart();
  });

  it('still answers 204 to a write routed only to the healthy backend (cpu → a)', async () => {
    const started = Date.now();
    expectStatus(await write(`cpu,test=down value=1 ${T}`), 204);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await eventually(A, `SELECT * FROM cpu WHERE test = 'down'`)).toEqual([{ time: BigInt(T), test: 'down', value: 1 }]);
  });

  // The write contract: a 204 means every target backend acknowledged or the lines are fsynced in
  // that backend's spool; a down backend's lines wait there and are delivered once it is back.
  it('answers 204 for the down backend (spooled) and delivers the point after it restarts', async () => {
    expectStatus(await write(`temperature,test=down value=1 ${T}`), 204);
    await B.restart();
    expect(await eventually(B, `SELECT * FROM temperature WHERE test = 'down'`)).toEqual([{ time: BigInt(T), test: 'down', value: 1 }]);
  }, 90_000);
});
