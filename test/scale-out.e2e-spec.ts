/**
 * Scale out (#17): one proxy serving two databases over four real influxd in two hash groups of two
 * replicas (g1 = a1, a2; g2 = b1, b2), then a third group (g3 = c1, c2) added and the data-movement
 * engine's rebalance (#16) run. Where data landed is read from each influxd directly; what clients see
 * is read through the proxy.
 */
import { type ClusterConfig, parseClusterConfig } from '@app/config';
import { type CopyStep, InfluxJobEngine, type JobRecord, type JobRequest } from '@app/data-movement';
import {
  type PromLabelMatcher,
  ReadRequestCodec,
  ReadResponseCodec,
  WriteRequestCodec,
  snappyCompress,
  snappyUncompress,
} from '@app/prom-remote';
import { configRules } from './support/config-rules';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, reload, startProxy } from './support/proxy-process';

const METRICS = 'metrics';
const APP = 'app';
/** Every backend keeps db `app` under this name (dbMap). */
const APP_THERE = 'application';
const MEASUREMENTS = Array.from({ length: 200 }, (_v, i) => `m${String(i).padStart(3, '0')}`);
/** Points written per measurement: 1 to 5, so a count tells one measurement from another. */
const pointsOf = (i: number) => (i % 5) + 1;

let a1: Influxd;
let a2: Influxd;
let b1: Influxd;
let b2: Influxd;
let c1: Influxd;
let c2: Influxd;
let proxy: ProxyProcess;
let listenPort: number;

function config(withThirdGroup: boolean): ProxyConfig {
  // a proxy serving several databases never uses a backend's own `db`: one that exists nowhere proves it
  const backend = (server: Influxd) => ({ url: server.url, db: 'unused', checkInterval: 500, dbMap: { [APP]: APP_THERE } });
  const groups: Record<string, string[]> = { g1: ['a1', 'a2'], g2: ['b1', 'b2'] };
  if (withThirdGroup) groups.g3 = ['c1', 'c2'];
  const doc = {
    backends: { a1: backend(a1), a2: backend(a2), b1: backend(b1), b2: backend(b2), c1: backend(c1), c2: backend(c2) },
    groups,
    keymaps: { _default_: { hash: Object.keys(groups) } },
    proxies: { p1: { listenAddr: `127.0.0.1:${listenPort}`, databases: [METRICS, APP] } },
  };
  return doc as unknown as ProxyConfig;
}

async function proxyQuery(q: string, db?: string): Promise<any> {
  const search = new URLSearchParams({ q, ...(db ? { db } : {}) });
  const res = await request(`${proxy.url}/query?${search}`);
  if (res.status !== 200) throw new Error(`proxy answered ${res.status}: ${res.text}`);
  return JSON.parse(res.text);
}

/** The measurements one influxd holds in `db` (none when the db does not exist there). */
async function measurementsOn(server: Influxd, db: string): Promise<Set<string>> {
  const json = await server.query('SHOW MEASUREMENTS', db);
  const values: string[][] = json.results?.[0]?.series?.[0]?.values ?? [];
  return new Set(values.map((row) => row[0]));
}

function sorted(set: Iterable<string>): string[] {
  return [...set].sort();
}

beforeAll(async () => {
  [a1, a2, b1, b2, c1, c2] = await Promise.all([
    startInfluxd(),
    startInfluxd(),
    startInfluxd(),
    startInfluxd(),
    startInfluxd(),
    startInfluxd(),
  ]);
  listenPort = await freePort();
  proxy = await startProxy({ config: config(false) });
  // the backends are created through the proxy: CREATE DATABASE runs on every backend, app under its dbMap name
  for (const db of [METRICS, APP]) {
    const json = await proxyQuery(`CREATE DATABASE ${db}`);
    expect(json.results[0].error).toBeUndefined();
  }
  const body = MEASUREMENTS.flatMap((m, i) =>
    Array.from({ length: pointsOf(i) }, (_v, p) => `${m},host=h v=${p} ${1_000_000_000 + p}`),
  ).join('\n');
  const res = await request(`${proxy.url}/write?db=${METRICS}&precision=s`, { method: 'POST', body });
  expect(res.status).toBe(204);
});

afterAll(stopAll);

describe('two hash groups of two replicas', () => {
  it('puts every measurement in exactly one group, on both of its replicas, spread within 40/60', async () => {
    const [onA1, onA2, onB1, onB2, onC1] = await Promise.all([a1, a2, b1, b2, c1].map((s) => measurementsOn(s, METRICS)));
    expect(sorted(onA1)).toEqual(sorted(onA2));
    expect(sorted(onB1)).toEqual(sorted(onB2));
    expect(MEASUREMENTS.filter((m) => onA1.has(m) && onB1.has(m))).toEqual([]);
    expect(sorted([...onA1, ...onB1])).toEqual(MEASUREMENTS);
    expect(onC1.size).toBe(0); // not in the config's hash yet
    expect(onA1.size).toBeGreaterThanOrEqual(80);
    expect(onA1.size).toBeLessThanOrEqual(120);
  });

  it('answers every measurement through the proxy with the count written', async () => {
    const q = MEASUREMENTS.map((m) => `SELECT count(v) FROM ${m}`).join('; ');
    const json = await proxyQuery(q, METRICS);
    const counts = json.results.map((r: any) => r.series?.[0]?.values?.[0]?.[1] ?? r.error ?? 0);
    expect(counts).toEqual(MEASUREMENTS.map((_m, i) => pointsOf(i)));
  });

  it('lists all 200 measurements once with SHOW MEASUREMENTS (one replica per group, merged)', async () => {
    const json = await proxyQuery('SHOW MEASUREMENTS', METRICS);
    const names = (json.results[0].series?.[0]?.values ?? []).map((row: string[]) => row[0]);
    expect(names).toEqual(MEASUREMENTS);
  });

  it('keeps serving SHOW MEASUREMENTS when one replica of each group is down', async () => {
    await Promise.all([a2.kill('SIGKILL'), b1.kill('SIGKILL')]);
    try {
      const names = await waitUntil(
        async () => {
          const json = await proxyQuery('SHOW MEASUREMENTS', METRICS);
          const got = (json.results[0].series?.[0]?.values ?? []).map((row: string[]) => row[0]);
          return got.length === MEASUREMENTS.length && !json.results[0].messages ? got : undefined;
        },
        { attempts: 60, intervalMs: 250, what: 'SHOW MEASUREMENTS answered whole from the live replicas' },
      );
      expect(names).toEqual(MEASUREMENTS);
    } finally {
      await Promise.all([a2.restart(), b1.restart()]);
    }
  });
});

describe('two databases through one proxy', () => {
  it('writes each db into its own db on the backends (app under its dbMap name), and refuses others', async () => {
    const lines = ['appm1 v=1 1000000000', 'appm2 v=2 1000000000', 'appm3 v=3 1000000000'].join('\n');
    expect((await request(`${proxy.url}/write?db=${APP}&precision=s`, { method: 'POST', body: lines })).status).toBe(204);
    const servers = [a1, a2, b1, b2];
    const inApp = await Promise.all(servers.map((s) => measurementsOn(s, APP_THERE)));
    const inMetrics = await Promise.all(servers.map((s) => measurementsOn(s, METRICS)));
    for (const m of ['appm1', 'appm2', 'appm3']) {
      // on both replicas of one group, in the mapped db; never in the metrics db
      const holders = servers.filter((_s, i) => inApp[i].has(m)).length;
      expect(holders).toBe(2);
      expect(inMetrics.some((set) => set.has(m))).toBe(false);
    }
    // no backend got a db named `app`: the dbMap renamed it everywhere
    const dbs = await a1.query('SHOW DATABASES');
    expect(dbs.results[0].series[0].values.map((r: string[]) => r[0])).not.toContain(APP);

    const other = await request(`${proxy.url}/write?db=other`, { method: 'POST', body: 'x v=1' });
    expect(other.status).toBe(404);
    expect(JSON.parse(other.text)).toEqual({ error: 'database not found: "other"' });
  });

  it('reads each db through the proxy, and SHOW DATABASES lists the served ones', async () => {
    const json = await proxyQuery('SELECT v FROM appm2', APP);
    expect(json.results[0].series[0].values).toEqual([['2001-09-09T01:46:40Z', 2]]);
    const fromClause = await proxyQuery(`SELECT count(v) FROM "${METRICS}"."autogen"."m004"`, APP);
    expect(fromClause.results[0].series[0].values[0][1]).toBe(pointsOf(4));
    const dbs = await proxyQuery('SHOW DATABASES');
    expect(dbs.results[0].series[0].values).toEqual([[APP], [METRICS]]);
  });

  it('writes SELECT … INTO points into the statement’s db, as each backend maps it', async () => {
    const q = new URLSearchParams({ q: 'SELECT v INTO appcopy FROM appm2', db: APP });
    const res = await request(`${proxy.url}/query?${q}`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).results[0].series[0].values[0][1]).toBe(1);
    const holders = await Promise.all([a1, a2, b1, b2].map(async (s) => (await measurementsOn(s, APP_THERE)).has('appcopy')));
    expect(holders.filter(Boolean)).toHaveLength(2);
    const inMetrics = await Promise.all([a1, a2, b1, b2].map(async (s) => (await measurementsOn(s, METRICS)).has('appcopy')));
    expect(inMetrics.some(Boolean)).toBe(false);
  });

  it('guards an open-ended GROUP BY time() by the shards of the statement’s own db', async () => {
    // app's points are from 2001: hourly buckets from there to now are far more than maxSelectBuckets
    const json = await proxyQuery('SELECT count(v) FROM appm1 WHERE time < now() GROUP BY time(1h)', APP);
    expect(json.results[0].error).toMatch(/^max-select-buckets limit exceeded: \(\d+\/100000\)$/);
  });

  it('refuses CREATE DATABASE of a db it does not serve as influxd refuses an unauthorized statement (403)', async () => {
    const res = await request(`${proxy.url}/query?${new URLSearchParams({ q: 'CREATE DATABASE other' })}`, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error).toMatch(/^error authorizing query: /);
    expect((await a1.query('SHOW DATABASES')).results[0].series[0].values).not.toContainEqual(['other']);
  });
});

describe('a third group', () => {
  /** The moves /admin/plan announced for the grown config (every db). */
  let planned: { db: string; name: string; toGroup: string; fromGroup: string }[] = [];

  it('moves about a third of the measurements, the plan says which, and new writes land in the new group', async () => {
    const res = await request(`${proxy.url}/admin/plan`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(config(true)),
    });
    expect(res.status).toBe(200);
    const plan = JSON.parse(res.text);
    planned = plan.moves;
    const moved: { db: string; name: string; toGroup: string; fromGroup: string }[] = plan.moves.filter((m: any) => m.db === METRICS);
    expect(moved.length).toBeGreaterThanOrEqual(200 * 0.2);
    expect(moved.length).toBeLessThanOrEqual(200 * 0.45);
    for (const m of plan.moves) expect(m.toGroup).toBe('g3'); // a new group only takes; g1 and g2 trade nothing
    expect(plan.byGroup.g3.in).toBe(plan.moving);
    expect(plan.measurements).toBe(200 + 4); // metrics' 200 and app's 3 and the SELECT … INTO target

    // apply it: the measurements the plan named now take new writes in g3, the others where they were
    await proxy.rewriteConfig(config(true));
    expect((await reload(proxy.url)).status).toBe(204);
    const body = MEASUREMENTS.map((m) => `${m},host=h v=100 2000000000`).join('\n');
    expect((await request(`${proxy.url}/write?db=${METRICS}&precision=s`, { method: 'POST', body })).status).toBe(204);
    const onC1 = await measurementsOn(c1, METRICS);
    expect(sorted(onC1)).toEqual(sorted(moved.map((m) => m.name)));
    const onA1 = await measurementsOn(a1, METRICS);
    const stayed = MEASUREMENTS.filter((m) => !onC1.has(m));
    // a measurement that stayed got its new point where its old ones are
    const newPoints = await a1.query(`SELECT count(v) FROM /.*/ WHERE time >= 2000000000s`, METRICS);
    const countedOnA1 = new Set((newPoints.results[0].series ?? []).map((s: any) => s.name));
    for (const m of stayed) expect(countedOnA1.has(m)).toBe(onA1.has(m));
  });

  it('after the rebalance job, moves exactly the planned measurements onto both replicas of g3, and every count matches', async () => {
    expect(planned.length).toBeGreaterThan(0);
    const before: ClusterConfig = parseClusterConfig(config(false), configRules);
    const after: ClusterConfig = parseClusterConfig(config(true), configRules);
    const job: JobRequest = {
      kind: 'rebalance',
      keymapsBefore: before.keymaps,
      hashKeymapsBefore: before.hashKeymaps,
      groupsBefore: before.groups,
    };
    const engine = new InfluxJobEngine();
    try {
      const plan = await engine.plan(job, after);
      const copies = plan.steps.filter((s): s is CopyStep => s.op === 'copy');
      // the job copies what /admin/plan announced, per db, from the old group's replicas to both of g3's
      expect(sorted(copies.map((s) => `${s.clientDb}.${s.measurement}`))).toEqual(sorted(planned.map((m) => `${m.db}.${m.name}`)));
      for (const s of copies) {
        const from = planned.find((m) => m.db === s.clientDb && m.name === s.measurement)!.fromGroup;
        expect(sorted(s.sources)).toEqual(from === 'g1' ? ['a1', 'a2'] : ['b1', 'b2']);
        expect(sorted(s.targets)).toEqual(['c1', 'c2']);
        expect(s.dbOf.c1).toBe(s.clientDb === APP ? APP_THERE : METRICS);
      }
      const record: JobRecord = { id: 'rebalance-g3', request: job, state: 'running', createdAt: Date.now(), plan };
      let windows = 0;
      await engine.run(record, after, {
        signal: new AbortController().signal,
        pointsPerSecond: 0,
        onProgress: async (p) => {
          windows = p.windowsDone;
        },
      });
      expect(windows).toBe(plan.steps.length);
    } finally {
      await engine.close();
    }

    // through the proxy: every measurement has its old points and the one written after the change
    const q = MEASUREMENTS.map((m) => `SELECT count(v) FROM ${m}`).join('; ');
    const counts = (await proxyQuery(q, METRICS)).results.map((r: any) => r.series?.[0]?.values?.[0]?.[1] ?? r.error ?? 0);
    expect(counts).toEqual(MEASUREMENTS.map((_m, i) => pointsOf(i) + 1));
    const appCounts = await proxyQuery('SELECT count(v) FROM appm1; SELECT count(v) FROM appm2; SELECT count(v) FROM appm3', APP);
    expect(appCounts.results.map((r: any) => r.series?.[0]?.values?.[0]?.[1] ?? r.error ?? 0)).toEqual([1, 1, 1]);

    // on each replica of g3 itself: every moved measurement whole, in the db that backend keeps it in
    for (const server of [c1, c2]) {
      for (const db of [METRICS, APP]) {
        const names = planned.filter((m) => m.db === db).map((m) => m.name);
        if (names.length === 0) continue;
        const json = await server.query(names.map((m) => `SELECT count(v) FROM ${m}`).join('; '), db === APP ? APP_THERE : db);
        const got = json.results.map((r: any) => r.series?.[0]?.values?.[0]?.[1] ?? 0);
        const want = names.map((m) => (db === METRICS ? pointsOf(MEASUREMENTS.indexOf(m)) + 1 : 1));
        expect(got).toEqual(want);
      }
    }
  });
});

// (last: it adds measurements the third group's plan would count)
describe('Prometheus remote read and write over the three groups and two databases', () => {
  const METRIC_COUNT = 24;
  const T0 = 1_700_000_000_000;
  const metricName = (db: string, i: number) => `${db}_metric_${i}`;
  const promHeaders = { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' };

  async function remoteWrite(db: string): Promise<void> {
    const timeseries = Array.from({ length: METRIC_COUNT }, (_v, i) => ({
      labels: [
        { name: '__name__', value: metricName(db, i) },
        { name: 'job', value: 'j' },
      ],
      // metric i holds i + 1 samples, so an answer from the wrong place cannot pass for it
      samples: Array.from({ length: i + 1 }, (_s, k) => ({ value: k, timestamp: T0 + k * 1000 })),
    }));
    const body = snappyCompress(WriteRequestCodec.encode({ timeseries }));
    const res = await request(`${proxy.url}/api/v1/prom/write?db=${db}`, { method: 'POST', headers: promHeaders, body });
    expect(res.status).toBe(204);
  }

  async function remoteRead(db: string, matchers: PromLabelMatcher[]) {
    const body = snappyCompress(
      ReadRequestCodec.encode({
        queries: [{ startTimestampMs: T0 - 1000, endTimestampMs: T0 + 60_000, matchers }],
        acceptedResponseTypes: ['SAMPLES'],
      }),
    );
    return request(`${proxy.url}/api/v1/prom/read?db=${db}`, { method: 'POST', headers: promHeaders, body });
  }

  /** metric name → sample count, from a 200 answer. */
  function samplesByName(body: Buffer): Map<string, number> {
    const out = new Map<string, number>();
    for (const ts of ReadResponseCodec.decode(snappyUncompress(body)).results[0].timeseries) {
      const n = ts.labels.find((l) => l.name === '__name__')?.value ?? '?';
      out.set(n, (out.get(n) ?? 0) + ts.samples.length);
    }
    return out;
  }

  beforeAll(async () => {
    await remoteWrite(METRICS);
    await remoteWrite(APP);
  });

  it('writes each db’s samples into one group, under the db as each backend maps it', async () => {
    const groups = { g1: [a1, a2], g2: [b1, b2], g3: [c1, c2] };
    const servers = Object.values(groups).flat();
    const onServers = await Promise.all(servers.map((s) => measurementsOn(s, APP_THERE)));
    const groupsUsed = new Set<string>();
    for (let i = 0; i < METRIC_COUNT; i++) {
      const holders = servers.filter((_s, k) => onServers[k].has(metricName(APP, i)));
      const group = Object.entries(groups).find(([, members]) => members.every((m) => holders.includes(m)));
      expect(holders.length).toBe(2);
      expect(group).toBeDefined();
      groupsUsed.add(group![0]);
    }
    expect(groupsUsed.size).toBe(3);
  });

  it('reads a metric named exactly from its group, in the client’s db, with every sample', async () => {
    for (const db of [METRICS, APP]) {
      for (const i of [0, 5, 11, 23]) {
        const res = await remoteRead(db, [{ type: 'EQ', name: '__name__', value: metricName(db, i) }]);
        expect(res.status).toBe(200);
        expect(samplesByName(res.body)).toEqual(new Map([[metricName(db, i), i + 1]]));
      }
    }
  });

  it('fans a read by pattern out to one replica of each group and merges every metric of the db once', async () => {
    for (const db of [METRICS, APP]) {
      const res = await remoteRead(db, [{ type: 'RE', name: '__name__', value: `${db}_metric_.*` }]);
      expect(res.status).toBe(200);
      const want = new Map(Array.from({ length: METRIC_COUNT }, (_v, i) => [metricName(db, i), i + 1]));
      expect(samplesByName(res.body)).toEqual(want);
    }
  });

  it('refuses a db the proxy does not serve', async () => {
    const res = await remoteRead('other', [{ type: 'EQ', name: '__name__', value: 'x' }]);
    expect(res.status).toBe(400);
  });
});
