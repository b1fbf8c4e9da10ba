/**
 * Prometheus remote read through the proxy, end to end: two real influxd (a and b) behind it, a keymap
 * sending `only_in_influx` to a only, `replicated` to both, `only_on_b` to b only; a real Prometheus
 * (Debian's) with `remote_read` (read_recent) pointed at the proxy. Points written through the proxy's
 * /write in the shape Prometheus's remote write gives them are found by Prometheus's own /api/v1/query;
 * a query by name goes to the backend holding it, a regex one fans out and merges; a wide read naming
 * no metric is refused and Prometheus shows the refusal; bad bodies get influxd's answers and reach no
 * backend; a SIGKILLed backend's replica answers.
 */
import {
  type PromQuery,
  type PromReadResponse,
  ReadRequestCodec,
  ReadResponseCodec,
  snappyCompress,
  snappyUncompress,
} from '@app/prom-remote';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { Prometheus, startPrometheus } from './support/prometheus';
import { REPO_ROOT, stopAll, waitUntil } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';
import { stopAndWait } from './support/stopped-threads';

const DB = 'pdb';
let A: Influxd;
let B: Influxd;
let proxy: ProxyProcess;
let prom: Prometheus;
const now = Date.now();

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
  proxy = await startProxy({
    config: {
      // a long checkInterval: a killed backend is still a candidate when the read comes, so the read fails over
      backends: { a: { url: A.url, db: 'dba', checkInterval: 600_000 }, b: { url: B.url, db: 'dbb', checkInterval: 600_000 } },
      keymaps: { only_in_influx: ['a'], only_on_b: ['b'], replicated: ['a', 'b'], _default_: ['a', 'b'] },
      proxies: { p1: { listenAddr: `127.0.0.1:${await freePort()}`, db: DB } },
    },
  });
  // the shape Prometheus's remote write stores: measurement = metric name, labels as tags, field `value`, ms time
  const body = [
    `only_in_influx,job=ext,instance=x value=42 ${now}`,
    `only_on_b,job=ext,instance=x value=7 ${now}`,
    `replicated,job=ext,instance=x value=1 ${now - 2000}`,
    `replicated,job=ext,instance=x value=2 ${now - 1000}`,
  ].join('\n');
  const res = await request(`${proxy.url}/write?db=${DB}&precision=ms`, { method: 'POST', body });
  expect(res.status).toBe(204);
  prom = await startPrometheus({ remoteRead: [`${proxy.url}/api/v1/prom/read?db=${DB}`] });
});

afterAll(stopAll);

function readBody(queries: PromQuery[]): Buffer {
  return snappyCompress(ReadRequestCodec.encode({ queries, acceptedResponseTypes: ['SAMPLES'] }));
}

async function read(queries: PromQuery[], qs = `db=${DB}`) {
  return request(`${proxy.url}/api/v1/prom/read?${qs}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' },
    body: readBody(queries),
  });
}

function decode(body: Buffer): PromReadResponse {
  return ReadResponseCodec.decode(snappyUncompress(body));
}

function byName(value: string, type: 'EQ' | 'RE' = 'EQ') {
  return { type, name: '__name__', value };
}

const recent = (matchers: PromQuery['matchers']): PromQuery => ({
  startTimestampMs: now - 600_000,
  endTimestampMs: now + 60_000,
  matchers,
});

/** The proxy's counter value for one series of its /metrics (0 when absent). */
async function metric(series: string): Promise<number> {
  const text = (await request(`${proxy.url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

it('lets a real Prometheus find a series that lives only in InfluxDB, through its own /api/v1/query', async () => {
  // written through the proxy, it landed on a only (its keymap)
  expect(await A.rows('SELECT * FROM only_in_influx', 'dba')).toHaveLength(1);
  expect(await B.rows('SELECT * FROM only_in_influx', 'dbb')).toHaveLength(0);
  const result = await waitUntil(
    async () => {
      const data = await prom.query('only_in_influx', now / 1000 + 1);
      return data.result.length > 0 ? (data.result as { metric: Record<string, string>; value: [number, string] }[]) : undefined;
    },
    { attempts: 60, intervalMs: 500, what: 'Prometheus to find only_in_influx through remote read' },
  );
  expect(result).toEqual([{ metric: { job: 'ext', instance: 'x' }, value: [expect.any(Number), '42'] }]);
});

it('sends a query naming its metric to the backend holding it and answers a snappy ReadResponse, as influxd does', async () => {
  const before = await metric('influxdb_proxy_prom_read_backend_requests_total{backend="b"}');
  const res = await read([recent([byName('only_in_influx')])]);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/x-protobuf');
  expect(res.headers['content-encoding']).toBe('snappy');
  expect(res.headers['x-influxdb-version']).toBe(A.version);
  // influxd's own answer to the same one-query request, on its db
  const direct = await request(`${A.url}/api/v1/prom/read?db=dba`, {
    method: 'POST',
    body: readBody([recent([byName('only_in_influx')])]),
  });
  expect(decode(res.body)).toEqual(decode(direct.body));
  expect(decode(res.body).results[0].timeseries).toEqual([
    {
      labels: [
        { name: 'instance', value: 'x' },
        { name: 'job', value: 'ext' },
      ],
      samples: [{ value: 42, timestamp: now }],
    },
  ]);
  // b, which does not hold it, was not asked
  expect(await metric('influxdb_proxy_prom_read_backend_requests_total{backend="b"}')).toBe(before);
});

it('fans a regex name out to every keymap set, merges the series, and answers the queries in order', async () => {
  const res = await read([recent([byName('only_.*|replicated', 'RE')]), recent([byName('only_on_b')])]);
  expect(res.status).toBe(200);
  const [fanned, onB] = decode(res.body).results;
  // only_in_influx from a, only_on_b from b, replicated once: each set's member reads only what is routed to that set
  const values = fanned.timeseries.map((s) => s.samples.map((x) => x.value)).sort();
  expect(values).toEqual([[1, 2], [42], [7]]);
  expect(onB.timeseries.map((s) => s.samples.map((x) => x.value))).toEqual([[7]]);
});

it('refuses a wide read that names no metric, and Prometheus shows the refusal', async () => {
  const before = await metric('influxdb_proxy_prom_read_requests_total{outcome="refused"}');
  const wide: PromQuery = {
    startTimestampMs: now - 2 * 3_600_000,
    endTimestampMs: now,
    matchers: [{ type: 'EQ', name: 'job', value: 'ext' }],
  };
  const res = await read([wide]);
  expect(res.status).toBe(400);
  expect(res.json().error).toMatch(
    /^remote read query refused by the proxy \(promReadMaxRangeWithoutName\): it names no metric .* spans 2h, more than 1h/,
  );
  expect(res.headers['x-influxdb-error']).toBe(res.json().error);
  // the same over 10 minutes is answered (every backend set asked)
  const narrow = await read([recent([{ type: 'EQ', name: 'job', value: 'ext' }])]);
  expect(narrow.status).toBe(200);
  expect(decode(narrow.body).results[0].timeseries.length).toBeGreaterThanOrEqual(3);
  // Prometheus reads {job="ext"} over 2 h for count_over_time: the proxy's refusal reaches its answer
  const params = new URLSearchParams({ query: 'count_over_time({job="ext"}[2h])', time: String(now / 1000) });
  const answer = await request(`${prom.url}/api/v1/query?${params}`);
  // remote storage is Prometheus's secondary storage: its errors come back as warnings of a 200 answer
  const warnings: string[] = answer.json().warnings ?? [];
  expect(warnings.some((w) => /returned HTTP status 400 Bad Request: .*\(promReadMaxRangeWithoutName\)/.test(w))).toBe(true);
  expect(await metric('influxdb_proxy_prom_read_requests_total{outcome="refused"}')).toBeGreaterThanOrEqual(before + 2);
});

it('answers bad bodies, a foreign db and other methods as influxd does, and sends nothing to a backend', async () => {
  const sent = async () =>
    (await metric('influxdb_proxy_prom_read_backend_requests_total{backend="a"}')) +
    (await metric('influxdb_proxy_prom_read_backend_requests_total{backend="b"}'));
  const before = await sent();
  const post = (url: string, body: Buffer | string) => request(url, { method: 'POST', body });
  const cases: [string, Buffer | string, string][] = [
    ['not snappy', 'not snappy at all', `db=${DB}`],
    ['empty', '', `db=${DB}`],
    ['cut short', snappyCompress(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])), `db=${DB}`],
    ['no query', snappyCompress(Buffer.alloc(0)), `db=${DB}`],
    ['no db', readBody([recent([byName('only_in_influx')])]), ''],
  ];
  for (const [what, body, qs] of cases) {
    const mine = await post(`${proxy.url}/api/v1/prom/read?${qs}`, body);
    const theirs = await post(`${A.url}/api/v1/prom/read?${qs.replace(DB, 'dba')}`, body);
    expect([what, mine.status, mine.json()]).toEqual([what, theirs.status, theirs.json()]);
  }
  const foreign = await post(`${proxy.url}/api/v1/prom/read?db=other`, readBody([recent([byName('only_in_influx')])]));
  expect([foreign.status, foreign.json()]).toEqual([400, { error: 'no database' }]);
  const get = await request(`${proxy.url}/api/v1/prom/read?db=${DB}`);
  expect([get.status, get.headers.allow, get.text]).toEqual([405, 'POST', 'Method Not Allowed\n']);
  // the proxy answers (and closes) before the body is all sent: the client may see EPIPE first (3 tries, as write.e2e's)
  let huge: Awaited<ReturnType<typeof post>> | undefined;
  for (let attempt = 0; attempt < 3 && !huge; attempt++) {
    huge = await post(`${proxy.url}/api/v1/prom/read?db=${DB}`, Buffer.alloc(25_000_001)).catch((err: Error) => {
      if (!/ECONNRESET|EPIPE/.test(err.message)) throw err;
      return undefined;
    });
  }
  if (!huge) throw new Error('no answer to the oversized body in 3 tries');
  expect([huge.status, huge.json()]).toEqual([413, { error: 'Request Entity Too Large' }]);
  // a snappy block of 1.2 MB declaring 25 MB of protobuf: refused from its header, never decoded
  const bomb = await post(`${proxy.url}/api/v1/prom/read?db=${DB}`, snappyCompress(Buffer.alloc(25_000_001)));
  expect([bomb.status, bomb.json()]).toEqual([413, { error: 'Request Entity Too Large' }]);
  expect(await sent()).toBe(before);
  // a regex influxd cannot compile: influxd's 400, relayed
  const badRegex = await read([recent([byName('(', 'RE')])]);
  expect([badRegex.status, badRegex.json()]).toEqual([400, { error: 'error parsing regexp: missing closing ): `(`' }]);
  expect(await sent()).toBe(before + 3); // to one member of each keymap set: [a], [b], [a, b]
});

it('asks for a user as /query does when the proxy has authEnabled', async () => {
  const hash = await new Promise<string>((resolve, reject) => {
    const child = execFile(path.join(REPO_ROOT, 'bin', 'influxdb-proxy-passwd'), [], { timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`influxdb-proxy-passwd: ${err.message} ${stderr}`)) : resolve(stdout.trim()),
    );
    child.stdin!.end('s3cret\n');
  });
  const guarded = await startProxy({
    config: {
      backends: { a: { url: A.url, db: 'dba' }, b: { url: B.url, db: 'dbb' } },
      keymaps: { only_in_influx: ['a'], _default_: ['a', 'b'] },
      proxies: { p1: { listenAddr: `127.0.0.1:${await freePort()}`, db: DB, authEnabled: true, users: { reader: { hash } } } },
    },
  });
  const url = `${guarded.url}/api/v1/prom/read?db=${DB}`;
  const body = readBody([recent([byName('only_in_influx')])]);
  const anonymous = await request(url, { method: 'POST', body });
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers['www-authenticate']).toBe('Basic realm="InfluxDB"');
  const wrong = await request(url, {
    method: 'POST',
    body,
    headers: { Authorization: `Basic ${Buffer.from('reader:nope').toString('base64')}` },
  });
  expect(wrong.status).toBe(401);
  const basic = await request(url, {
    method: 'POST',
    body,
    headers: { Authorization: `Basic ${Buffer.from('reader:s3cret').toString('base64')}` },
  });
  expect(basic.status).toBe(200);
  expect(decode(basic.body).results[0].timeseries[0].samples).toEqual([{ value: 42, timestamp: now }]);
  const params = await request(`${url}&u=reader&p=s3cret`, { method: 'POST', body });
  expect(params.status).toBe(200);
  await guarded.stop();
});

it('answers an error, not a failover, when the backends answer more than maxQueryAnswerBytes', async () => {
  const small = await startProxy({
    config: {
      backends: { a: { url: A.url, db: 'dba' }, b: { url: B.url, db: 'dbb' } },
      keymaps: { only_in_influx: ['a'], only_on_b: ['b'], replicated: ['a', 'b'], _default_: ['a', 'b'] },
      proxies: { p1: { listenAddr: `127.0.0.1:${await freePort()}`, db: DB, maxQueryAnswerBytes: 80 } },
    },
  });
  const url = `${small.url}/api/v1/prom/read?db=${DB}`;
  // one series fits
  const one = await request(url, { method: 'POST', body: readBody([recent([byName('only_in_influx')])]) });
  expect(one.status).toBe(200);
  // every series of job ext (three metrics, on both backends) does not
  const all = await request(url, { method: 'POST', body: readBody([recent([{ type: 'EQ', name: 'job', value: 'ext' }])]) });
  expect(all.status).toBe(400);
  expect(all.json().error).toBe(
    "the backends' answers to this remote read are larger than 80 bytes (maxQueryAnswerBytes), too large for the proxy to merge; read a shorter range or fewer series",
  );
  await small.stop();
});

it('answers from the replica when the backend holding the series is SIGKILLed, and 503 when none is left', async () => {
  await A.kill('SIGKILL');
  const failovers = await metric('influxdb_proxy_prom_read_failovers_total{backend="a"}');
  const res = await read([recent([byName('replicated')])]);
  expect(res.status).toBe(200);
  expect(decode(res.body).results[0].timeseries.map((s) => s.samples.map((x) => x.value))).toEqual([[1, 2]]);
  expect(await metric('influxdb_proxy_prom_read_failovers_total{backend="a"}')).toBe(failovers + 1);
  // only a held only_in_influx: nobody can answer it
  const gone = await read([recent([byName('only_in_influx')])]);
  expect(gone.status).toBe(503);
  expect(gone.json().error).toMatch(/^no backend could answer: a: .*ECONNREFUSED/);
});

it('answers from the replica within seconds when the backend holding the series freezes (SIGSTOP), and marks it failing', async () => {
  await A.restart(); // SIGKILLed above: the same data dir, the proxy still counts it healthy (no health check since)
  const failovers = await metric('influxdb_proxy_prom_read_failovers_total{backend="a"}');
  const pid = A.pid;
  stopAndWait(pid);
  try {
    const started = Date.now();
    const res = await read([recent([byName('replicated')])]);
    expect(res.status).toBe(200);
    expect(decode(res.body).results[0].timeseries.map((s) => s.samples.map((x) => x.value))).toEqual([[1, 2]]);
    // a second of waiting, a second of unanswered ping, then b (timeoutQuery would be 10 minutes)
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await metric('influxdb_proxy_prom_read_failovers_total{backend="a"}')).toBe(failovers + 1);
    // marked failing: the next read goes to b at once
    const next = Date.now();
    expect((await read([recent([byName('replicated')])])).status).toBe(200);
    expect(Date.now() - next).toBeLessThan(1_000);
    expect(await metric('influxdb_proxy_prom_read_failovers_total{backend="a"}')).toBe(failovers + 1);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
});
