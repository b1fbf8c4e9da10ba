/**
 * Prometheus remote write (`POST /api/v1/prom/write`) through the proxy, with real processes: two
 * influxd behind the proxy, a keymap sending one metric to backend a only and the rest to both, and a
 * real Prometheus scraping itself every second with `remote_write` pointed at the proxy. The samples
 * land where their keymap says, match what Prometheus holds, are stored as influxd stores a remote
 * write it takes itself, and survive a backend killed with -9 mid-way (spooled, then replayed).
 */
import { hashPassword } from '@app/auth';
import fc from 'fast-check';
import { snappyCompress, snappyDecodedLength, WriteRequestCodec, type PromWriteRequest } from '@app/prom-remote';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { Prometheus, startPrometheus } from './support/prometheus';
import { stopAll, waitUntil } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'prom';
/** Sent to backend a only by the keymap. */
const MAPPED = 'prometheus_http_requests_total';
/** One series, a new value at every scrape, on both backends (_default_). */
const SHARED = 'process_cpu_seconds_total';

let A: Influxd;
let B: Influxd;
let proxy: ProxyProcess;
let prometheus: Prometheus;

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb'), A.createDatabase('direct')]);
  const port = await freePort();
  const backend = (url: string, db: string) => ({
    url,
    db,
    timeout: 1_000,
    checkInterval: 200,
    rewriteInterval: 200,
    downAfter: 2,
    upAfter: 2,
  });
  proxy = await startProxy({
    config: {
      backends: { a: backend(A.url, 'dba'), b: backend(B.url, 'dbb') },
      keymaps: { [MAPPED]: ['a'], _default_: ['a', 'b'] },
      proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db: DB, idleTimeout: 10 } },
    },
  });
}, 120_000);

afterAll(() => stopAll(), 60_000);

function promWrite(url: string, body: Buffer | string, db = DB, method = 'POST') {
  return request(`${url}/api/v1/prom/write?db=${db}`, {
    method,
    body,
    headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
  });
}

const encode = (req: PromWriteRequest) => snappyCompress(WriteRequestCodec.encode(req));
const labels = (o: Record<string, string>) => Object.entries(o).map(([name, value]) => ({ name, value }));

async function measurements(influxd: Influxd, db: string): Promise<string[]> {
  const json = await influxd.query('SHOW MEASUREMENTS', db);
  return (json.results[0].series?.[0]?.values ?? []).map((v: string[]) => v[0]);
}

describe('remote write requests made by hand', () => {
  it('stores samples exactly as influxd stores the same remote write, on the backends of their keymap', async () => {
    const now = Date.now() - 120_000; // well before anything Prometheus writes later
    const body = encode({
      timeseries: [
        {
          labels: labels({ __name__: 'hand_made', job: 'j', instance: '127.0.0.1:1', 'sp ace': 'a,b=c d', empty: '', quote: '"q"' }),
          samples: [
            { value: 1.5, timestamp: now - 3_000 },
            { value: NaN, timestamp: now - 2_000 },
            { value: -0.000001234, timestamp: now - 1_000 },
          ],
        },
        { labels: labels({ job: 'nameless' }), samples: [{ value: 7, timestamp: now - 3_000 }] },
        { labels: labels({ __name__: MAPPED, code: '200' }), samples: [{ value: 1e21, timestamp: now - 3_000 }] },
        { labels: labels({ __name__: 'no_samples' }), samples: [] },
      ],
    });
    const direct = await promWrite(A.url, body, 'direct');
    expect(direct.status).toBe(204);
    const proxied = await promWrite(proxy.url, body);
    expect([proxied.status, proxied.text]).toEqual([204, '']);

    // each measurement on its own: GROUP BY * over several would list every tag key of all of them
    const stored = async (influxd: Influxd, db: string, measurement: string) =>
      (await influxd.query(`SELECT * FROM ${JSON.stringify(measurement)} GROUP BY *`, db, { epoch: 'ms' })).results[0];
    for (const measurement of ['hand_made', 'prom_metric_not_specified', MAPPED]) {
      const expected = await stored(A, 'direct', measurement);
      expect(expected.series?.length).toBeGreaterThan(0);
      expect({ measurement, ...(await stored(A, 'dba', measurement)) }).toEqual({ measurement, ...expected });
      // b holds all but the metric mapped to a only
      if (measurement === MAPPED) expect(await stored(B, 'dbb', measurement)).toEqual({ statement_id: 0 });
      else expect({ measurement, ...(await stored(B, 'dbb', measurement)) }).toEqual({ measurement, ...expected });
    }
    expect((await stored(A, 'direct', 'hand_made')).series[0].values).toHaveLength(2); // the NaN sample is no point
  });

  it('refuses bad bodies with influxd’s status and text, and nothing reaches a backend', async () => {
    const inf = encode({
      timeseries: [
        {
          labels: labels({ __name__: 'bad_inf' }),
          samples: [
            { value: 1, timestamp: 1_000 },
            { value: Infinity, timestamp: 2_000 },
          ],
        },
      ],
    });
    const badProto = snappyCompress(Buffer.from([0x0a, 0x05, 0x0a, 0x02]));
    for (const [what, body] of [
      ['empty', Buffer.alloc(0)],
      ['not snappy', Buffer.from('bad_text value=1')],
      ['not protobuf', badProto],
      ['±Inf', inf],
    ] as const) {
      const [direct, proxied] = await Promise.all([promWrite(A.url, body, 'direct'), promWrite(proxy.url, body)]);
      expect({ what, status: proxied.status, json: proxied.json() }).toEqual({ what, status: direct.status, json: direct.json() });
      expect(proxied.status).toBe(400);
      expect(proxied.headers['x-influxdb-error']).toBe(direct.headers['x-influxdb-error']);
    }
    // a block that says it decodes to more than a body may carry: refused before it is decoded
    const huge = Buffer.concat([Buffer.from([0x80, 0x87, 0xa7, 0x0e]) /* 30,000,000 */, Buffer.alloc(64)]);
    const tooLarge = await promWrite(proxy.url, huge);
    expect([tooLarge.status, tooLarge.json()]).toEqual([413, { error: 'Request Entity Too Large' }]);
    // the proxy's own database only, as for /write; POST only, as influxd's router
    const otherDb = await promWrite(proxy.url, inf, 'nope');
    expect([otherDb.status, otherDb.json()]).toEqual([404, { error: 'database not found: "nope"' }]);
    const noDb = await promWrite(proxy.url, inf, '');
    expect([noDb.status, noDb.json()]).toEqual([400, { error: 'database is required' }]);
    // a retention policy the backends lack: influxd's answer, relayed as /write relays it
    const good = encode({ timeseries: [{ labels: labels({ __name__: 'bad_rp' }), samples: [{ value: 1, timestamp: Date.now() }] }] });
    const [rpDirect, rpProxied] = await Promise.all([
      request(`${A.url}/api/v1/prom/write?db=direct&rp=nope`, { method: 'POST', body: good }),
      request(`${proxy.url}/api/v1/prom/write?db=${DB}&rp=nope`, { method: 'POST', body: good }),
    ]);
    expect([rpProxied.status, rpProxied.json()]).toEqual([rpDirect.status, rpDirect.json()]);
    expect(rpProxied.status).toBe(500);
    const get = await promWrite(proxy.url, '', DB, 'GET');
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);

    for (const [influxd, db] of [
      [A, 'dba'],
      [B, 'dbb'],
    ] as const) {
      const names = await measurements(influxd, db);
      expect(names).not.toContain('bad_inf');
      expect(names).not.toContain('bad_text');
      expect(names).not.toContain('bad_rp');
    }
  });
  it('asks for the proxy’s users as /write does: u/p or Basic, 401 otherwise', async () => {
    const config = {
      backends: { a: { url: A.url, db: 'dba', checkInterval: 200 } },
      keymaps: { _default_: ['a'] },
      proxies: {
        p1: {
          listenAddr: `127.0.0.1:${await freePort()}`,
          db: DB,
          authEnabled: true,
          users: { writer: { hash: await hashPassword('s3cret') } },
        },
      },
    };
    const secured = await startProxy({ config });
    try {
      const sample = (name: string) =>
        encode({ timeseries: [{ labels: labels({ __name__: name }), samples: [{ value: 1, timestamp: Date.now() }] }] });
      const none = await promWrite(secured.url, sample('auth_none'));
      expect([none.status, none.headers['www-authenticate']]).toEqual([401, 'Basic realm="InfluxDB"']);
      const wrong = await request(`${secured.url}/api/v1/prom/write?db=${DB}&u=writer&p=nope`, {
        method: 'POST',
        body: sample('auth_wrong'),
      });
      expect(wrong.status).toBe(401);
      const withUp = await request(`${secured.url}/api/v1/prom/write?db=${DB}&u=writer&p=s3cret`, {
        method: 'POST',
        body: sample('auth_up'),
      });
      expect(withUp.status).toBe(204);
      const basic = await request(`${secured.url}/api/v1/prom/write?db=${DB}`, {
        method: 'POST',
        body: sample('auth_basic'),
        headers: { Authorization: `Basic ${Buffer.from('writer:s3cret').toString('base64')}` },
      });
      expect(basic.status).toBe(204);
      const names = await measurements(A, 'dba');
      expect(names).toEqual(expect.arrayContaining(['auth_up', 'auth_basic']));
      expect(names).not.toContain('auth_none');
      expect(names).not.toContain('auth_wrong');
    } finally {
      await secured.stop();
    }
  }, 60_000);

  it('answers random and damaged bodies as influxd does (its decode errors word for word), never a 500 or a crash', async () => {
    const series = fc.array(
      fc.record({
        labels: fc.array(
          fc.record({ name: fc.constantFrom('__name__', 'job', 'fuzz'), value: fc.string({ minLength: 1, maxLength: 6 }) }),
          {
            maxLength: 3,
          },
        ),
        samples: fc.array(
          fc.record({ value: fc.double({ noNaN: true, noDefaultInfinity: true }), timestamp: fc.integer({ min: 0, max: 2 ** 41 }) }),
          { maxLength: 3 },
        ),
      }),
      { minLength: 1, maxLength: 3 },
    );
    // a valid WriteRequest with some bytes overwritten and its end cut off: errors deep inside the message
    const damaged = fc
      .tuple(series, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat())
      .map(([timeseries, overwrites, cut]) => {
        const bytes = Buffer.from(WriteRequestCodec.encode({ timeseries }));
        for (const [at, byte] of overwrites) if (bytes.length > 0) bytes[at % bytes.length] = byte;
        return snappyCompress(bytes.subarray(0, bytes.length - (cut % 4)));
      });
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ maxLength: 300 }).map((b) => snappyCompress(b)),
      damaged,
      series.map((timeseries) => encode({ timeseries })),
    );
    const DECODE_ERROR = /^(proto: |unexpected EOF|snappy: )/;
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const proxied = await promWrite(proxy.url, b);
        const declared = snappyDecodedLength(b);
        if (declared !== undefined && declared > 1_000_000) {
          // influxd would allocate what the block declares (up to 4 GB) before decoding it: not sent there
          if (declared > 25_000_000) expect([proxied.status, proxied.json()]).toEqual([413, { error: 'Request Entity Too Large' }]);
          return;
        }
        const direct = await promWrite(A.url, b, 'direct');
        const [p, d] = [proxied.status === 204 ? '' : proxied.json().error, direct.status === 204 ? '' : direct.json().error];
        if (direct.status === 500) {
          // not a decode error: influxd took the body and could not save a metric name that is not UTF-8
          // (once per shard; the next such write is a 204); the proxy decodes the name with U+FFFD in place
          expect(d).toBe('proto: field "tsdb.MeasurementFields.Name" contains invalid UTF-8');
          expect(proxied.status).toBe(204);
        } else if (DECODE_ERROR.test(p) || DECODE_ERROR.test(d))
          expect({ status: proxied.status, error: p }).toEqual({ status: direct.status, error: d });
        else expect([204, 400]).toContain(proxied.status);
      }),
      {
        numRuns: 300,
        // a key varint past 2^53 (found by this property): influxd prints the exact uint64 in its error
        examples: [
          [Buffer.from([8, 28, 128, 128, 128, 128, 192, 128, 180, 43])],
          // a __name__ ending in a lone 0xdd (found by this property): influxd's 500 is not a decode error
          [
            Buffer.from([
              101, 240, 100, 10, 79, 10, 9, 10, 4, 102, 117, 122, 122, 18, 1, 49, 10, 10, 10, 3, 106, 111, 98, 18, 3, 66, 63, 96, 10, 18,
              10, 8, 95, 95, 110, 97, 109, 101, 95, 95, 18, 6, 60, 64, 49, 79, 46, 221, 18, 16, 9, 158, 94, 177, 239, 9, 165, 226, 16, 16,
              187, 219, 224, 198, 128, 1, 18, 16, 9, 150, 54, 223, 91, 169, 137, 243, 254, 16, 161, 143, 132, 194, 132, 1, 10, 18, 18, 16,
              9, 193, 204, 45, 76, 12, 91, 149, 245, 16, 184, 136, 253, 194, 186, 18,
            ]),
          ],
        ],
      },
    );
    expect(proxy.isRunning()).toBe(true);
    expect((await request(`${proxy.url}/ping`)).status).toBe(204);
  }, 90_000);
});

/** [ms, value] samples of one single-series metric, from Prometheus (a range selector at `atMs`). */
async function promSamples(metric: string, rangeS: number, atMs: number): Promise<[number, number][]> {
  const data = await prometheus.query(`${metric}[${rangeS}s]`, atMs / 1000);
  const series = data.result as { metric: Record<string, string>; values: [number, string][] }[];
  expect(series).toHaveLength(1);
  return series[0].values.map(([t, v]) => [Math.round(t * 1000), Number(v)]);
}

async function influxSamples(influxd: Influxd, db: string, metric: string, fromMs: number, toMs: number): Promise<[number, number][]> {
  const json = await influxd.query(`SELECT value FROM ${metric} WHERE time >= ${fromMs}ms AND time <= ${toMs}ms`, db, { epoch: 'ms' });
  return (json.results[0].series?.[0]?.values ?? []).map(([t, v]: [number, number]) => [t, v]);
}

/** Points per measurement in [fromMs, toMs]. */
async function countsByMeasurement(influxd: Influxd, db: string, fromMs: number, toMs: number): Promise<Record<string, number>> {
  const json = await influxd.query(`SELECT count(value) FROM /.*/ WHERE time >= ${fromMs}ms AND time <= ${toMs}ms`, db);
  const out: Record<string, number> = {};
  for (const s of json.results[0].series ?? []) out[s.name] = s.values[0][1];
  return out;
}

describe('a real Prometheus remote-writing to the proxy', () => {
  beforeAll(async () => {
    prometheus = await startPrometheus({ remoteWrite: [`${proxy.url}/api/v1/prom/write?db=${DB}`] });
  }, 60_000);

  it('lands each metric where its keymap says, with the samples Prometheus holds', async () => {
    await waitUntil(async () => (await influxSamples(A, 'dba', SHARED, 0, Date.now() + 60_000)).length >= 6, {
      attempts: 150,
      intervalMs: 200,
      what: `six scrapes of ${SHARED} on a`,
    });
    expect(await measurements(A, 'dba')).toContain(MAPPED);
    expect(await measurements(B, 'dbb')).toContain('up');
    expect(await measurements(B, 'dbb')).not.toContain(MAPPED);

    // a settled window (older than the remote-write deadline): Prometheus's samples = each replica's
    const at = Date.now() - 2_000;
    const fromProm = await promSamples(SHARED, 5, at);
    expect(fromProm.length).toBeGreaterThanOrEqual(3);
    const [from, to] = [fromProm[0][0], fromProm[fromProm.length - 1][0]];
    for (const [influxd, db] of [
      [A, 'dba'],
      [B, 'dbb'],
    ] as const) {
      await waitUntil(async () => JSON.stringify(await influxSamples(influxd, db, SHARED, from, to)) === JSON.stringify(fromProm), {
        attempts: 50,
        intervalMs: 200,
        what: `${db} to hold Prometheus's ${fromProm.length} samples of ${SHARED}`,
      });
    }
    // the metric mapped to a: as many points as Prometheus has (its 2.42 range [at-5s, at] is closed)
    const data = await prometheus.query(`count_over_time(${MAPPED}[5s])`, at / 1000);
    const promCount = (data.result as { value: [number, string] }[]).reduce((sum, r) => sum + Number(r.value[1]), 0);
    expect(promCount).toBeGreaterThan(0);
    const json = await A.query(`SELECT count(value) FROM ${MAPPED} WHERE time >= ${at - 5_000}ms AND time <= ${at}ms`, 'dba');
    expect(json.results[0].series[0].values[0][1]).toBe(promCount);
  }, 60_000);

  it('loses nothing Prometheus was told was written when a backend is killed with -9 and restarted', async () => {
    const before = Date.now();
    await B.kill('SIGKILL');
    // scrapes go on while b is down: the proxy spools b's lines and answers 204
    await waitUntil(async () => (await influxSamples(A, 'dba', SHARED, before + 1_000, Date.now())).length >= 4, {
      attempts: 100,
      intervalMs: 200,
      what: `four scrapes of ${SHARED} on a while b is down`,
    });
    const downUntil = Date.now();
    await B.restart();
    await waitUntil(async () => (await influxSamples(A, 'dba', SHARED, Date.now() - 60_000, Date.now())).at(-1)![0] > downUntil + 4_000, {
      attempts: 100,
      intervalMs: 200,
      what: `scrapes after b came back`,
    });
    const from = before - 3_000;
    const to = downUntil + 2_000;
    const onA = await countsByMeasurement(A, 'dba', from, to);
    delete onA[MAPPED];
    expect(onA[SHARED]).toBeGreaterThanOrEqual(6);
    // once the spool has replayed, b holds every point a has over the window (and each equal on a ≥ Prometheus's)
    await waitUntil(async () => JSON.stringify(await countsByMeasurement(B, 'dbb', from, to)) === JSON.stringify(onA), {
      attempts: 150,
      intervalMs: 200,
      what: 'b to hold what a holds for the window around its outage',
    });
    const fromProm = await promSamples(SHARED, Math.ceil((to - from) / 1000) + 1, to);
    const windowProm = fromProm.filter(([t]) => t >= from && t <= to);
    expect(await influxSamples(B, 'dbb', SHARED, from, to)).toEqual(windowProm);
  }, 90_000);
});
