/**
 * A backend that stops answering without refusing anything (SIGSTOP: a GC pause, a disk stall) must
 * not hold a query: two real influxd hold the same data (replicas a in zone za, b in zone zb), the
 * proxy of zone za prefers a. Frozen as a query arrives (or while one is in flight), a is pinged on a
 * connection of its own once a query has waited a second for its answer; when the ping goes
 * unanswered too, a is marked failing and the query is re-sent to b: answered within 4 s, where the
 * proxy used to wait for timeoutQuery. A query that is merely slow (its backend answers the ping)
 * is never sent twice: b's own request counter shows it never got it. On etcd with a sentinel, the
 * other proxy learns the verdict from the sentinel (this proxy's failing-backend report).
 */
import { request, type HttpResponse } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { Etcd, startEtcd } from './support/etcd';
import { freePort, freePorts } from './support/ports';
import { sleep, stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';
import { SentinelProcess, sentinelFlags, startSentinel } from './support/sentinel-process';
import { allThreadsStopped } from './support/stopped-threads';

const DB = 'mydb';
/** The target: a query arriving as its preferred backend freezes is answered by another replica within this. */
const FAILOVER_MS = 4_000;
/** What the proxy waited before this change: the queries below would have hung this long (and the client gives up first). */
const TIMEOUT_QUERY_MS = 60_000;
/** How long the test's own client waits for an answer (well past the target, well short of timeoutQuery). */
const CLIENT_TIMEOUT_MS = 12_000;

const T0 = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;
const RANGE = `time >= '2023-11-14T22:00:00Z' AND time < '2023-11-14T23:00:00Z'`;
/** Points of `heavy` (on both replicas): enough that aggregating them takes influxd a noticeable while. */
const HEAVY_POINTS = 300_000;

let A: Influxd;
let B: Influxd;
/** Every influxd this file has frozen, so that nothing is left stopped whatever fails. */
const frozen = new Set<Influxd>();

function freeze(influxd: Influxd): number {
  // never kill(-1 or 0, …): that would signal every process of the user, or the test's own group
  if (!(influxd.pid > 0)) throw new Error(`influxd on ${influxd.url} is not running`);
  frozen.add(influxd);
  process.kill(influxd.pid, 'SIGSTOP');
  // kill() returns once the signal is queued; influxd's threads stop as the kernel gets to them, and
  // a fast query sent in between would still be answered: wait until every thread is stopped
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 500 && !allThreadsStopped(influxd.pid); i++) Atomics.wait(pause, 0, 0, 1);
  return Date.now();
}

function thaw(influxd: Influxd): void {
  if (!frozen.delete(influxd) || !(influxd.pid > 0)) return;
  try {
    process.kill(influxd.pid, 'SIGCONT');
  } catch {
    /* gone */
  }
}

function thawAll(): void {
  for (const influxd of [...frozen]) thaw(influxd);
}

function backend(url: string, db: string, zone: string) {
  return { url, db, zone, interval: 50, timeout: 10_000, timeoutQuery: TIMEOUT_QUERY_MS, checkInterval: 500, downAfter: 3, upAfter: 2 };
}

function replicaConfig(ports: number[]): ProxyConfig {
  return {
    backends: { a: backend(A.url, 'dba', 'za'), b: backend(B.url, 'dbb', 'zb') },
    keymaps: { _default_: ['a', 'b'] },
    proxies: {
      p1: { listenAddr: `127.0.0.1:${ports[0]}`, db: DB, zone: 'za' },
      ...(ports[1] ? { p2: { listenAddr: `127.0.0.1:${ports[1]}`, db: DB, zone: 'zb' } } : {}),
    },
  };
}

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
  // the same points on both replicas, written directly (this file is about reads)
  const cpu = [
    `cpu,host=h1,region=eu usage=1.5,idle=90i ${T0}`,
    `cpu,host=h2,region=us usage=2.5,idle=80i ${T0 + 10_000n * MS}`,
    `cpu,host=h1,region=eu usage=3.5,idle=70i ${T0 + 70_000n * MS}`,
    `mem,host=h1 used=100i ${T0}`,
    `disk,host=h2 free=7i ${T0}`,
  ].join('\n');
  for (const [influxd, db] of [
    [A, 'dba'],
    [B, 'dbb'],
  ] as const) {
    await written(influxd.write(db, cpu));
    for (let batch = 0; batch < HEAVY_POINTS / 10_000; batch++) {
      const lines: string[] = [];
      for (let i = 0; i < 10_000; i++) {
        const n = batch * 10_000 + i;
        lines.push(`heavy,host=h${n % 10} v=${(n * 7919) % 1000} ${T0 + BigInt(n) * MS}`);
      }
      await written(influxd.write(db, lines.join('\n')));
    }
  }
});

afterAll(async () => {
  thawAll();
  await stopAll();
});

async function written(res: Promise<HttpResponse>): Promise<void> {
  const r = await res;
  if (r.status !== 204) throw new Error(`direct write answered ${r.status} ${r.text}`);
}

function pq(proxy: ProxyProcess, q: string, headers: Record<string, string> = {}, timeoutMs = CLIENT_TIMEOUT_MS): Promise<HttpResponse> {
  return request(`${proxy.url}/query?${new URLSearchParams({ db: DB, q })}`, { headers, timeoutMs });
}

/** The proxy's answer, and how long after `from` it was complete. */
async function timed(proxy: ProxyProcess, q: string, from: number, headers: Record<string, string> = {}, timeoutMs?: number) {
  const res = await pq(proxy, q, headers, timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}\n--- proxy output ---\n${proxy.output().slice(-4000)}`);
  });
  return { res, ms: Date.now() - from };
}

function expectAnswer(got: { res: HttpResponse; ms: number }, expected: HttpResponse, proxy: ProxyProcess): void {
  if (got.res.status !== 200 || !got.res.body.equals(expected.body)) {
    throw new Error(
      `expected 200 ${JSON.stringify(expected.text.slice(0, 500))}\ngot ${got.res.status} ${JSON.stringify(got.res.text.slice(0, 500))}\n` +
        `--- proxy output ---\n${proxy.output().slice(-4000)}`,
    );
  }
  expect(got.res.headers['content-type']).toBe(expected.headers['content-type']);
  expect(got.ms).toBeLessThan(FAILOVER_MS);
}

async function meta(proxy: ProxyProcess): Promise<any> {
  const res = await request(`${proxy.url}/meta`, { timeoutMs: 5_000 });
  if (res.status !== 200) throw new Error(`/meta answered ${res.status} ${res.text}`);
  return res.json();
}

/**
 * Waits until the proxy counts backend `name` healthy again (after a thaw) and caught up (a write spooled
 * while it was frozen makes it read-behind until replayed), so the next case starts from a preferred a.
 */
function untilHealthy(proxy: ProxyProcess, name: string): Promise<unknown> {
  return waitUntil(
    async () => {
      const m = await meta(proxy);
      return m.backendDetail[name].healthy === true && !(m.readBehind && name in m.readBehind);
    },
    {
      attempts: 200,
      intervalMs: 100,
      what: `${proxy.url} to count backend ${name} healthy`,
      details: () => proxy.output(),
    },
  );
}

/** influxd's own count of /query requests it has received (SHOW STATS counts itself: +1 per call). */
async function queryRequests(influxd: Influxd): Promise<number> {
  const stats = await influxd.query(`SHOW STATS FOR 'httpd'`);
  const series = stats.results[0].series[0];
  return Number(series.values[0][series.columns.indexOf('queryReq')]);
}

const SELECT_CPU = `SELECT * FROM cpu WHERE ${RANGE}`;
/** Half of `heavy`: a fraction of a second of work, so that it is still in flight when a freezes. */
const HALF_HEAVY = `SELECT percentile(v, 50) FROM heavy WHERE time < ${T0 + BigInt(HEAVY_POINTS / 2) * MS}`;

describe('one proxy (file config), replicas a (preferred) and b', () => {
  let proxy: ProxyProcess;

  beforeAll(async () => {
    proxy = await startProxy({ config: replicaConfig([await freePort()]) });
  });

  afterEach(async () => {
    thawAll();
    await untilHealthy(proxy, 'a');
  });

  it('answers a streamed SELECT from b within 4 s when a freezes as it is sent, and marks a failing at once', async () => {
    const expected = await pq(proxy, SELECT_CPU); // answered by a, live
    expect(expected.status).toBe(200);
    expect(expected.text).toContain('"name":"cpu"');
    const at = freeze(A);
    const got = await timed(proxy, SELECT_CPU, at);
    expectAnswer(got, expected, proxy);
    // failing for this proxy at once: what follows goes to b without waiting
    const detail = (await meta(proxy)).backendDetail.a;
    if (detail.healthy !== false)
      throw new Error(`a is still healthy (answered in ${got.ms} ms): ${JSON.stringify(detail)}\n${proxy.output().slice(-3000)}`);
    expect(detail.lastError).toMatch(/looks frozen/);
    const next = await timed(proxy, SELECT_CPU, Date.now());
    expectAnswer(next, expected, proxy);
    expect(next.ms).toBeLessThan(1_000);
    // writes too: a's share goes to its spool at once instead of waiting for the write timeout (10 s)
    const writeStart = Date.now();
    const write = await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body: `cpu,host=h9 usage=9 ${T0 - 86_400_000n * MS}\n` });
    expect(write.status).toBe(204);
    expect(Date.now() - writeStart).toBeLessThan(1_000);
    expect((await meta(proxy)).backendDetail.a.spool.records).toBeGreaterThan(0);
  });

  it('answers a built answer (statements to different backends, JSON and CSV) from b within 4 s when a freezes', async () => {
    // a SELECT (one backend) and a SHOW (fan-out) in one request: the proxy runs them one by one and
    // writes the answer itself; the SHOW, planned before a froze, must not wait for a a second time
    const mixed = `SELECT * FROM cpu WHERE ${RANGE}; SHOW MEASUREMENTS`;
    const csv = { Accept: 'application/csv' };
    const [expectedJson, expectedCsv] = await Promise.all([pq(proxy, mixed), pq(proxy, mixed, csv)]);
    expect(expectedJson.json().results).toHaveLength(2);
    expect(expectedCsv.headers['content-type']).toBe('text/csv');
    expect(expectedCsv.text).toContain('heavy');
    const at = freeze(A);
    const [gotJson, gotCsv] = await Promise.all([timed(proxy, mixed, at), timed(proxy, mixed, at, csv)]);
    expectAnswer(gotJson, expectedJson, proxy);
    expectAnswer(gotCsv, expectedCsv, proxy);
  });

  it('answers a fan-out SHOW MEASUREMENTS within 4 s without the frozen backend', async () => {
    const expected = await pq(proxy, 'SHOW MEASUREMENTS');
    expect(expected.json().results[0].series[0].values).toEqual([['cpu'], ['disk'], ['heavy'], ['mem']]);
    const at = freeze(A);
    const got = await timed(proxy, 'SHOW MEASUREMENTS', at);
    expectAnswer(got, expected, proxy);
    const id = String(got.res.headers['request-id']);
    await waitUntil(async () => proxy.output().includes(`query ${id}: fan-out answered without a: backend a looks frozen`), {
      attempts: 30,
      intervalMs: 100,
      what: `query ${id} to have been answered without the frozen a`,
      details: () => proxy.output(),
    });
  });

  it('fails over queries already in flight on a when it freezes (streamed and built)', async () => {
    const csv = { Accept: 'application/csv' };
    const [expectedHeavy, expectedCsv, expectedCpu] = await Promise.all([
      pq(proxy, HALF_HEAVY),
      pq(proxy, HALF_HEAVY, csv),
      pq(proxy, SELECT_CPU),
    ]);
    expect(expectedHeavy.json().results[0].series[0].values).toHaveLength(1);
    const sent = Date.now();
    const inFlight = [timed(proxy, HALF_HEAVY, sent), timed(proxy, HALF_HEAVY, sent, csv)];
    await sleep(50); // a is aggregating 150 000 points for them
    const at = freeze(A);
    const arriving = timed(proxy, SELECT_CPU, at);
    const [heavy, heavyCsv] = await Promise.all(inFlight);
    expectAnswer({ res: heavy.res, ms: heavy.ms - (at - sent) }, expectedHeavy, proxy);
    // it was in flight on a, and b answered it
    // it was in flight on a, and b answered it (the proxy's log line may reach its stdout a moment after the answer)
    const id = String(heavy.res.headers['request-id']);
    await waitUntil(async () => proxy.output().includes(`query ${id}: answered by b after a: backend a looks frozen`), {
      attempts: 30,
      intervalMs: 100,
      what: `query ${id} (answered ${heavy.ms} ms after it was sent, a frozen ${at - sent} ms after) to have failed over from a to b`,
      details: () => proxy.output(),
    });
    expectAnswer({ res: heavyCsv.res, ms: heavyCsv.ms - (at - sent) }, expectedCsv, proxy);
    expectAnswer(await arriving, expectedCpu, proxy);
  });

  it('does not re-send a query whose backend is merely paused for less than the bound (b never gets it)', async () => {
    const expected = await pq(proxy, SELECT_CPU);
    const before = await queryRequests(B);
    const at = freeze(A);
    const answer = timed(proxy, SELECT_CPU, at);
    await sleep(1_400); // past the wait that triggers the liveness ping, short of its timeout
    thaw(A);
    const got = await answer;
    expect(got.res.status).toBe(200);
    expect(got.res.body.equals(expected.body)).toBe(true);
    expect(got.ms).toBeGreaterThanOrEqual(1_400); // a answered it, once resumed
    expect((await queryRequests(B)) - before).toBe(1); // only the SHOW STATS itself
    expect((await meta(proxy)).backendDetail.a.healthy).toBe(true);
  });

  it('does not re-send a heavy query that keeps a live backend busy for seconds (b never gets it)', async () => {
    // several percentiles over every point: seconds of work for a live influxd, which still answers /ping
    const slow = `SELECT ${[10, 20, 30, 40, 50, 60, 70, 80, 90].map((p) => `percentile(v, ${p})`).join(', ')} FROM heavy GROUP BY host`;
    const before = await queryRequests(B);
    const got = await timed(proxy, slow, Date.now(), {}, 50_000); // however long a shared machine makes it take
    expect(got.res.status).toBe(200);
    expect(got.res.json().results[0].series).toHaveLength(10);
    expect(got.ms).toBeGreaterThan(1_500); // slow enough that a's liveness was checked at least once
    expect((await queryRequests(B)) - before).toBe(1);
    expect((await meta(proxy)).backendDetail.a.healthy).toBe(true);
  });
});

describe('on etcd: a sentinel and two proxies in two zones', () => {
  const prefix = '/frozen-e2e/';
  /** The sentinel's own probes could not call a frozen backend down within this (its probe timeout alone is longer). */
  const SENTINEL_CHECK_TIMEOUT_S = 10;
  let etcd: Etcd;
  let p1: ProxyProcess;
  let p2: ProxyProcess;
  let sentinel: SentinelProcess;

  beforeAll(async () => {
    etcd = await startEtcd();
    const config = replicaConfig(await freePorts(2));
    for (const [section, entries] of Object.entries(config)) {
      for (const [name, value] of Object.entries(entries as Record<string, unknown>)) {
        await etcd.put(`${prefix}${section}/${name}`, JSON.stringify(value));
      }
    }
    const store = ['--etcd', etcd.url, '--etcd-prefix', prefix];
    sentinel = await startSentinel({
      store,
      name: 's1',
      extraArgs: sentinelFlags({
        checkInterval: 0.5,
        checkTimeout: SENTINEL_CHECK_TIMEOUT_S,
        downAfter: 3,
        upAfter: 2,
        leaderTtl: 3,
        membershipTtl: 3,
        writeFailureReports: 1,
      }),
    });
    [p1, p2] = await Promise.all(
      (['p1', 'p2'] as const).map((node) =>
        startProxy({ store, node, listenAddr: config.proxies[node].listenAddr, extraArgs: ['--membership-ttl', '3'] }),
      ),
    );
    for (const proxy of [p1, p2]) {
      await waitUntil(
        async () => {
          const a = (await meta(proxy)).backendDetail.a;
          return a.source === 'sentinel' && a.healthy === true;
        },
        { attempts: 200, intervalMs: 100, what: `${proxy.url} to follow sentinel s1`, details: () => proxy.output() + sentinel.output() },
      );
    }
  });

  afterAll(() => thawAll());

  it('tells the other proxy through the sentinel: a frozen backend found by p1 is down for p2 within seconds', async () => {
    const expected = await pq(p1, SELECT_CPU);
    const expectedShow = await pq(p2, 'SHOW MEASUREMENTS');
    const at = freeze(A);
    expectAnswer(await timed(p1, SELECT_CPU, at), expected, p1);
    // p1 reports a as failing in its membership record; the sentinel marks it down for every proxy
    const learned = await waitUntil(
      async () => {
        const a = (await meta(p2)).backendDetail.a;
        return a.source === 'sentinel' && a.healthy === false ? { ms: Date.now() - at, a } : undefined;
      },
      {
        attempts: 80,
        intervalMs: 100,
        what: `${p2.url} to see a down by the sentinel`,
        details: () => p1.output() + sentinel.output() + p2.output(),
      },
    );
    expect(learned.a.sentinel.lastError).toMatch(/proxy p1: backend a looks frozen/);
    expect(learned.ms).toBeLessThan(SENTINEL_CHECK_TIMEOUT_S * 1_000);
    // p2 no longer asks a at all: its fan-out does not wait for a liveness check of its own
    const show = await timed(p2, 'SHOW MEASUREMENTS', Date.now());
    expect(show.res.status).toBe(200);
    expect(show.res.body.equals(expectedShow.body)).toBe(true);
    expect(show.ms).toBeLessThan(1_000);
  });
});
