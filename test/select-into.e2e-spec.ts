/**
 * SELECT … INTO through the proxy, against two real influxd: the SELECT part runs on one replica, the
 * rows are written through the proxy's write path to every backend the *target* measurement maps to,
 * with their field types (integers stay integers), tags from GROUP BY, and influxd's `written` answer.
 * Each result is compared with what influxd itself writes for the same INTO, run directly on a backend.
 */
import { request } from './support/http';
import { Influxd, Row, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll, waitUntil } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'mydb';
let A: Influxd;
let B: Influxd;
let proxy: ProxyProcess;
const now = Date.now();
const POINTS = 120;

async function query(q: string, extra: Record<string, string> = {}) {
  // POST, as influxdb-python and the influx CLI send writing statements
  return request(`${proxy.url}/query?${new URLSearchParams({ db: DB, ...extra })}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ q }).toString(),
  });
}

/** `{"results":[{"statement_id":0,"series":[{"name":"result",…"values":[[t, N]]}]}]}` → N, checking the shape. */
function written(res: { status: number; text: string; json(): any }, time: unknown = '1970-01-01T00:00:00Z'): number {
  expect(res.status).toBe(200);
  const body = res.json();
  expect(body).toEqual({
    results: [{ statement_id: 0, series: [{ name: 'result', columns: ['time', 'written'], values: [[time, expect.any(Number)]] }] }],
  });
  return body.results[0].series[0].values[0][1];
}

/** What influxd itself writes for the same INTO (run directly on A, into a reference measurement). */
async function reference(q: string): Promise<number> {
  const body = await A.query(q, 'dba');
  expect(body.results[0].error).toBeUndefined();
  return body.results[0].series[0].values[0][1];
}

type FieldTypes = Record<string, string>;

async function fieldTypes(node: Influxd, db: string, m: string): Promise<FieldTypes> {
  const rows = await node.rows(`SHOW FIELD KEYS FROM "${m}"`, db);
  return Object.fromEntries(rows.map((r) => [r.fieldKey, r.fieldType]));
}

async function tagKeys(node: Influxd, db: string, m: string): Promise<string[]> {
  return (await node.rows(`SHOW TAG KEYS FROM "${m}"`, db)).map((r) => r.tagKey).sort();
}

/** Every point of `m` (GROUP BY * so tags come back as tags), in a comparable order. */
async function points(node: Influxd, db: string, m: string): Promise<Row[]> {
  const rows = await node.rows(`SELECT * FROM "${m}" GROUP BY *`, db);
  const key = (r: Row) =>
    `${r.time} ${JSON.stringify(
      Object.entries(r)
        .filter(([k]) => k !== 'time')
        .sort(),
    )}`;
  return rows.sort((x, y) => (key(x) < key(y) ? -1 : 1));
}

/** The same points on both replicas, and the same as influxd's own INTO wrote into `ref` on A. */
async function expectSameEverywhere(m: string, ref: string): Promise<Row[]> {
  const [onA, onB, expected] = await Promise.all([points(A, 'dba', m), points(B, 'dbb', m), points(A, 'dba', ref)]);
  expect(onA.length).toBeGreaterThan(0);
  expect(onA).toEqual(expected);
  expect(onB).toEqual(expected);
  const [typesA, typesB, typesRef] = await Promise.all([fieldTypes(A, 'dba', m), fieldTypes(B, 'dbb', m), fieldTypes(A, 'dba', ref)]);
  expect(typesA).toEqual(typesRef);
  expect(typesB).toEqual(typesRef);
  const [tagsA, tagsB, tagsRef] = await Promise.all([tagKeys(A, 'dba', m), tagKeys(B, 'dbb', m), tagKeys(A, 'dba', ref)]);
  expect(tagsA).toEqual(tagsRef);
  expect(tagsB).toEqual(tagsRef);
  return onA;
}

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
  const backend = (url: string, db: string) => ({ url, db, timeout: 1_000, checkInterval: 200, rewriteInterval: 200 });
  proxy = await startProxy({
    config: {
      backends: { a: backend(A.url, 'dba'), b: backend(B.url, 'dbb') },
      keymaps: { only_b: ['b'], _default_: ['a', 'b'] },
      proxies: { p1: { listenAddr: `127.0.0.1:${await freePort()}`, db: DB } },
    },
  });
  // the last two hours, one point a minute: a float that is often whole, an integer, a string, a boolean
  let body = '';
  for (let i = 0; i < POINTS; i++) {
    const t = now - i * 60_000;
    body += `gcpu,host=h${i % 3},cpu=c${i % 2} usage=${i % 4 === 0 ? i : i + 0.25},n=${i}i,s="x ${i}",b=${i % 2 === 0} ${t}\n`;
  }
  const res = await request(`${proxy.url}/write?db=${DB}&precision=ms`, { method: 'POST', body });
  expect(res.status).toBe(204);
});

afterAll(stopAll);

it('writes mean() per hour and tag as floats, with the tags of GROUP BY *, to both replicas', async () => {
  const range = `WHERE time > ${now - 3 * 3_600_000}ms AND time <= ${now}ms`;
  const n = written(await query(`SELECT mean(usage) INTO gcpu_1h FROM gcpu ${range} GROUP BY time(1h), *`));
  expect(n).toBe(await reference(`SELECT mean(usage) INTO ref_1h FROM gcpu ${range} GROUP BY time(1h), *`));
  await expectSameEverywhere('gcpu_1h', 'ref_1h');
  expect(await fieldTypes(B, 'dbb', 'gcpu_1h')).toEqual({ mean: 'float' });
  expect(await tagKeys(B, 'dbb', 'gcpu_1h')).toEqual(['cpu', 'host']);
});

it('writes count() as an integer, and answers time 0 as an integer when epoch is set', async () => {
  const res = await query('SELECT count(usage) INTO gcount FROM gcpu GROUP BY time(1h), host', { epoch: 'ms' });
  const n = written(res, 0);
  expect(n).toBe(await reference('SELECT count(usage) INTO ref_count FROM gcpu GROUP BY time(1h), host'));
  await expectSameEverywhere('gcount', 'ref_count');
  expect(await fieldTypes(B, 'dbb', 'gcount')).toEqual({ count: 'integer' });
});

it('writes nothing for an empty time bucket, as influxd does (its INTO fills with none; the SELECT alone answers count 0)', async () => {
  // h0 in both hours, h1 in the first only: a SELECT answers count 0 for h1's second hour, influxd's INTO writes 3 points
  const t0 = 1_600_000_000_000 - (1_600_000_000_000 % 3_600_000);
  const body = `gaps,host=h0 v=1 ${t0}\ngaps,host=h1 v=2 ${t0 + 60_000}\ngaps,host=h0 v=3 ${t0 + 3_600_000}\n`;
  expect((await request(`${proxy.url}/write?db=${DB}&precision=ms`, { method: 'POST', body })).status).toBe(204);
  const range = `WHERE time >= ${t0}ms AND time < ${t0 + 7_200_000}ms`;
  const n = written(await query(`SELECT count(v) INTO gaps_count FROM gaps ${range} GROUP BY time(1h), host`));
  expect(n).toBe(await reference(`SELECT count(v) INTO ref_gaps_count FROM gaps ${range} GROUP BY time(1h), host`));
  expect(n).toBe(3);
  await expectSameEverywhere('gaps_count', 'ref_gaps_count');
});

it('copies raw points with integer, float, string and boolean fields; GROUP BY * keeps tags as tags', async () => {
  expect(written(await query('SELECT * INTO gcopy FROM gcpu GROUP BY *'))).toBe(POINTS);
  expect(await reference('SELECT * INTO ref_copy FROM gcpu GROUP BY *')).toBe(POINTS);
  const rows = await expectSameEverywhere('gcopy', 'ref_copy');
  expect(rows).toHaveLength(POINTS);
  expect(await fieldTypes(B, 'dbb', 'gcopy')).toEqual({ b: 'boolean', n: 'integer', s: 'string', usage: 'float' });
  expect(await tagKeys(B, 'dbb', 'gcopy')).toEqual(['cpu', 'host']);
  // without GROUP BY *, influxd writes the tags as string fields
  expect(written(await query('SELECT * INTO gflat FROM gcpu'))).toBe(POINTS);
  await reference('SELECT * INTO ref_flat FROM gcpu');
  await expectSameEverywhere('gflat', 'ref_flat');
  expect(await tagKeys(B, 'dbb', 'gflat')).toEqual([]);
});

it('writes only to the backends the target’s keymap names', async () => {
  const n = written(await query('SELECT max(n) INTO only_b FROM gcpu GROUP BY time(1h)'));
  expect(n).toBeGreaterThan(0);
  expect(await B.rows('SELECT * FROM only_b', 'dbb')).toHaveLength(n);
  expect(await fieldTypes(B, 'dbb', 'only_b')).toEqual({ max: 'integer' });
  expect(await A.rows('SELECT * FROM only_b', 'dba')).toHaveLength(0);
});

it('answers another target database as influxd does, and refuses top()/bottom() INTO with a 400 that says why', async () => {
  expect((await query('SELECT * INTO other..x FROM gcpu')).json()).toEqual({
    results: [{ statement_id: 0, error: 'database not found: other' }],
  });
  const top = await query('SELECT top(n, 2) INTO x FROM gcpu');
  expect(top.status).toBe(400);
  expect(top.json().error).toMatch(/^SELECT … INTO cannot run exactly through this proxy/);
});

it('spools the points for a target backend that is down and delivers them when it is back', async () => {
  await B.kill('SIGKILL');
  try {
    const n = written(await query('SELECT * INTO gdown FROM gcpu GROUP BY *'));
    expect(n).toBe(POINTS);
    expect(await A.rows('SELECT * FROM gdown', 'dba')).toHaveLength(POINTS);
  } finally {
    await B.restart();
  }
  await waitUntil(async () => (await B.rows('SELECT count(n) FROM gdown', 'dbb').catch(() => []))[0]?.count === POINTS, {
    attempts: 150,
    intervalMs: 200,
    what: 'the spooled INTO points on B after its restart',
    details: () => proxy.output(),
  });
  expect(await fieldTypes(B, 'dbb', 'gdown')).toEqual({ b: 'boolean', n: 'integer', s: 'string', usage: 'float' });
});

it('copies a result larger than one chunk and one write piece, over GET with influxd’s deprecation warning', async () => {
  const N = 25_000; // three 10,000-row chunks from the backend, several 1 MB pieces into the write path
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(`big,host=h${i % 7} v=${i}i,f=${i}.5,label="row number ${i} of the big copy" ${now - i * 1000}`);
  const res = await request(`${proxy.url}/write?db=${DB}&precision=ms`, { method: 'POST', body: lines.join('\n') });
  expect(res.status).toBe(204);
  const got = await request(`${proxy.url}/query?${new URLSearchParams({ db: DB, q: 'SELECT * INTO big_copy FROM big GROUP BY *' })}`);
  expect(got.status).toBe(200);
  const result = got.json().results[0];
  expect(result.series[0].values).toEqual([['1970-01-01T00:00:00Z', N]]);
  expect(result.messages).toEqual([
    {
      level: 'warning',
      text: expect.stringMatching(/^deprecated use of '.*INTO big_copy.*' in a read only context, please use a POST request instead$/),
    },
  ]);
  for (const [node, db] of [
    [A, 'dba'],
    [B, 'dbb'],
  ] as const) {
    const [row] = await node.rows('SELECT count(v), sum(v), count(label) FROM big_copy', db);
    expect(row).toMatchObject({ count: N, sum: (N * (N - 1)) / 2, count_1: N });
    expect(await fieldTypes(node, db, 'big_copy')).toEqual({ f: 'float', label: 'string', v: 'integer' });
  }
});
