/**
 * Data-movement jobs coordinated end to end, with real influxd, Redis, sentinels, proxies and the admin CLI:
 *
 * - recover: a backend killed, its data dir deleted and restarted empty is refilled by `recover` (run by
 *   the sentinel leader, throttled); the leader is killed (SIGKILL) mid-job and the other sentinel resumes
 *   it from the store; every point is back with its types and escapes; no query through the proxy is
 *   answered from the backend while the job runs; writes made during the job are all there at the end.
 * - resync: points written straight into one replica only are on both after `resync`.
 * - rebalance: `cpu` moved from a to b with `rebalance --keymaps` under a steady write load; queries never
 *   miss data meanwhile; afterwards every `cpu` point is on b; `cleanup a` is refused (409) while the
 *   rebalance runs and drops `cpu` from a after it.
 * - etcd: `rebalance --keymaps` records the job under runtime/jobs/, then writes keymaps/; the leader moves the data.
 * - config file: the proxy runs a `recover` itself (`influxdb-proxy-admin --proxy`); killed mid-job and
 *   restarted, it resumes from its state file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { admin, type AdminRun, recordedJobId } from './support/admin-cli';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePorts } from './support/ports';
import { makeTempDir, removeDir, sleep, stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';
import { Etcd, startEtcd } from './support/etcd';
import { Redis, startRedis } from './support/redis';
import { SentinelProcess, sentinelFlags, startSentinel } from './support/sentinel-process';

const DB = 'mydb';
/** 2023-11-14T22:13:20Z: the seeded history, one point a second per series. */
const T0_S = 1_700_000_000;
/** Seeded points per measurement. */
const N = 900;
/** Windows are sized for this many points: the seeded history spans many windows. */
const WINDOW_POINTS = 120;
const SENTINEL_FLAGS = [
  ...sentinelFlags({ checkInterval: 0.25, checkTimeout: 1, downAfter: 2, upAfter: 2, leaderTtl: 2, slotTtl: 3, membershipTtl: 3 }),
  '--job-points-per-window',
  String(WINDOW_POINTS),
];

let A: Influxd;
let B: Influxd;

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase(DB), B.createDatabase(DB)]);
});

/** Temp dirs of the keymaps files the tests write, removed after the run. */
const keymapsDirs: string[] = [];

afterAll(async () => {
  await stopAll();
  await Promise.all(keymapsDirs.map(removeDir));
});

/** Writes `content` as a keymaps file for the admin CLI's --keymaps; returns its path. */
async function keymapsFile(content: object): Promise<string> {
  const dir = await makeTempDir('keymaps');
  keymapsDirs.push(dir);
  const file = path.join(dir, 'keymaps.json');
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
}

/** The proxy sits in b's zone: it reads from b whenever b may answer (so a read from b would show). */
function clusterConfig(port: number, db: string, keymaps: Record<string, string[]>): ProxyConfig {
  const backend = (url: string, zone: string) => ({
    zone,
    url,
    db,
    timeout: 2_000,
    timeoutQuery: 10_000,
    checkInterval: 200,
    rewriteInterval: 300,
    downAfter: 2,
    upAfter: 2,
  });
  return {
    backends: { a: backend(A.url, 'za'), b: backend(B.url, 'zb') },
    keymaps,
    proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db, zone: 'zb' } },
  };
}

/** `n` points of `measurement` from T0, one a second, with every field type and tag values that need escaping. */
function seedLines(measurement: string, n: number, offset = 0): string[] {
  const lines: string[] = [];
  for (let i = offset; i < offset + n; i++) {
    const host = i % 3 === 0 ? 'a\\ b\\,c\\=d' : `h${i % 3}`;
    lines.push(
      `${measurement},host=${host} i=${i}i,f=${i}.25,s="say \\"${i}\\"",b=${i % 2 === 0} ${(BigInt(T0_S + i) * 1_000_000_000n).toString()}`,
    );
  }
  return lines;
}

async function writeThrough(url: string, db: string, lines: string[]): Promise<void> {
  for (let i = 0; i < lines.length; i += 300) {
    const res = await request(`${url}/write?db=${db}`, { method: 'POST', body: lines.slice(i, i + 300).join('\n'), timeoutMs: 15_000 });
    if (res.status !== 204) throw new Error(`write answered ${res.status} ${res.text}`);
  }
}

async function countOn(influxd: Influxd, db: string, measurement: string, where = ''): Promise<number> {
  const rows = await influxd.rows(`SELECT count(i) FROM "${measurement}"${where}`, db).catch(() => []);
  return Number(rows[0]?.count ?? 0);
}

async function rowsOn(influxd: Influxd, db: string, measurement: string): Promise<unknown> {
  const everything = await influxd.query(`SELECT * FROM "${measurement}" GROUP BY *; SHOW FIELD KEYS FROM "${measurement}"`, db);
  return everything.results;
}

async function proxyCount(url: string, db: string, measurement: string, where = ''): Promise<{ status: number; count: number }> {
  const res = await request(`${url}/query?db=${db}&q=${encodeURIComponent(`SELECT count(i) FROM "${measurement}"${where}`)}`, {
    timeoutMs: 10_000,
  });
  return { status: res.status, count: res.status === 200 ? Number(res.json().results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0) : -1 };
}

/** Writes 10 live points of `measurement` through the proxy every 100 ms until stopped; counts the acknowledged ones. */
function liveWriter(url: string, db: string, measurement: string) {
  let stopped = false;
  let acked = 0;
  let failures = 0;
  const run = (async () => {
    for (let round = 0; round < 2_000 && !stopped; round++) {
      const now = BigInt(Date.now()) * 1_000_000n;
      const body = Array.from(
        { length: 10 },
        (_, j) => `${measurement},host=live i=${round * 10 + j}i,f=1.5,s="x",b=true ${now + BigInt(j)}`,
      ).join('\n');
      const res = await request(`${url}/write?db=${db}`, { method: 'POST', body, timeoutMs: 10_000 }).catch(() => undefined);
      if (res?.status === 204) acked += 10;
      else failures++;
      await sleep(100);
    }
  })();
  return {
    get acked() {
      return acked;
    },
    async stop() {
      stopped = true;
      await run;
      return { acked, failures };
    },
  };
}

/** Samples `probe` every 250 ms until stopped. */
function sampler<T>(probe: () => Promise<T>) {
  let stopped = false;
  const samples: T[] = [];
  const run = (async () => {
    for (let i = 0; i < 1_000 && !stopped; i++) {
      samples.push(await probe());
      await sleep(250);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await run;
      return samples;
    },
  };
}

/** Points in the largest window of a plan's copy steps, for data of one point a second. */
function largestWindow(plan: { steps: { op: string; windowMs?: number }[] }): number {
  return Math.max(...plan.steps.map((s) => (s.op === 'copy' ? Math.ceil((s.windowMs ?? 0) / 1000) : 0)));
}

function expectOk(run: AdminRun): void {
  if (run.code !== 0) throw new Error(`influxdb-proxy-admin exited ${run.code}: ${run.stdout} ${run.stderr}`);
}

describe('jobs run by the sentinel leader, state in Redis', () => {
  let redis: Redis;
  let port: number;
  let proxy: ProxyProcess;
  let sentinels: SentinelProcess[];
  let store: string[];

  /** A job as the proxy's admin endpoint shows it. */
  async function job(id: string): Promise<any> {
    const res = await request(`${proxy.url}/admin/jobs/${id}`, { timeoutMs: 5_000 });
    if (res.status !== 200) throw new Error(`GET /admin/jobs/${id} answered ${res.status} ${res.text}`);
    return res.json();
  }

  async function until(id: string, state: string, timeoutS = 60): Promise<any> {
    return waitUntil(
      async () => {
        const j = await job(id);
        if (j.state === 'failed' || j.state === 'cancelled') throw new Error(`job ${id} ${j.state}: ${j.error}`);
        return j.state === state ? j : undefined;
      },
      { attempts: timeoutS * 5, intervalMs: 200, what: `job ${id} ${state}`, details: () => sentinels.map((s) => s.output()).join('\n') },
    );
  }

  async function leader(): Promise<SentinelProcess> {
    return waitUntil(
      async () => {
        for (const s of sentinels) {
          if (!s.isRunning()) continue;
          const res = await request(`${s.url}/health`, { timeoutMs: 1_000 }).catch(() => undefined);
          if (res?.json().role === 'leader') return s;
        }
        return undefined;
      },
      { attempts: 100, intervalMs: 100, what: 'a leading sentinel' },
    );
  }

  beforeAll(async () => {
    redis = await startRedis();
    [port] = await freePorts(1);
    const config = clusterConfig(port, DB, { _default_: ['a', 'b'], cpu: ['a'] });
    const hashes = { backends: 'b:', keymaps: 'm:', proxies: 'n:' } as const;
    for (const [section, key] of Object.entries(hashes)) {
      for (const [name, value] of Object.entries(config[section as keyof ProxyConfig]))
        await redis.command('HSET', key, name, JSON.stringify(value));
    }
    store = ['--redis', `${redis.host}:${redis.port}`];
    sentinels = await Promise.all(['s1', 's2'].map((name) => startSentinel({ store, name, extraArgs: SENTINEL_FLAGS })));
    proxy = await startProxy({ store, listenAddr: `127.0.0.1:${port}`, extraArgs: ['--membership-ttl', '3'] });
    await writeThrough(proxy.url, DB, [...seedLines('mem', N), ...seedLines('net', N), ...seedLines('cpu', N)]);
    await waitUntil(async () => (await countOn(B, DB, 'net')) === N && (await countOn(A, DB, 'cpu')) === N, {
      what: 'the seed on both replicas',
    });
  });

  afterAll(async () => {
    await Promise.all([proxy?.stop(), ...(sentinels ?? []).map((s) => s.stop())]);
    await redis?.stop();
  });

  it('recover refills a wiped backend, read-behind all along; the leader killed mid-job, the other sentinel finishes it', async () => {
    // the disk is lost: killed, data gone, back empty (no database either)
    await B.kill('SIGKILL');
    for (const sub of ['meta', 'data', 'wal']) fs.rmSync(path.join(B.dir, sub), { recursive: true, force: true });
    await B.restart();
    expect(await B.query('SHOW DATABASES')).not.toMatchObject({ results: [{ series: [{ values: [[DB]] }] }] });

    const recorded = await admin([...store, 'recover', 'b', '--points-per-second', '250']);
    expectOk(recorded);
    const id = recordedJobId(recorded);
    // every proxy fences the backend before any data moves (the runner waits for them)
    const fenced = await waitUntil(
      async () => ((await (await request(`${proxy.url}/meta`)).json()).recovering.includes('b') ? job(id) : undefined),
      {
        what: 'the proxy to fence b',
      },
    );
    expect(fenced.windowsDone).toBe(0);
    const reads = sampler(async () => ({ mem: await proxyCount(proxy.url, DB, 'mem'), net: await proxyCount(proxy.url, DB, 'net') }));
    // writes during the job (a measurement the plan does not know: b gets them from the proxy itself)
    const writer = liveWriter(proxy.url, DB, 'live');

    // the leader dies mid-job
    await waitUntil(async () => ((await job(id)).windowsDone >= 3 ? true : undefined), {
      attempts: 200,
      intervalMs: 100,
      what: 'three windows copied',
    });
    const first = await leader();
    const before = await job(id);
    expect(before.state).toBe('running');
    await first.kill('SIGKILL');
    const done = await until(id, 'done');
    expect(done.runner).not.toBe(first.name);
    // no point copied twice but the window in flight when the leader died (one point a second per series)
    expect(done.pointsCopied).toBeLessThanOrEqual(done.record.plan.estimatedPoints + largestWindow(done.record.plan));
    expect(done.windowsDone).toBe(done.windowsTotal);

    const samples = await reads.stop();
    const { acked } = await writer.stop();
    // no query was answered from b while it was refilled (it had none of the seeded points)
    expect(samples.length).toBeGreaterThan(5);
    expect(samples.filter((s) => s.mem.count !== N || s.net.count !== N)).toEqual([]);
    // every seeded point is back, types and escapes as on the replica; the writes made meanwhile too
    for (const m of ['mem', 'net']) expect(await rowsOn(B, DB, m)).toEqual(await rowsOn(A, DB, m));
    await waitUntil(async () => ((await countOn(B, DB, 'live')) === acked ? true : undefined), {
      attempts: 150,
      what: `all ${acked} live points on b`,
    });
    expect(await countOn(A, DB, 'live')).toBe(acked);
    // cpu maps to a only: nothing of it was copied to b
    expect(await countOn(B, DB, 'cpu')).toBe(0);
    // the proxy fences b no more; /meta of the proxy and of the live sentinel show the job done
    await waitUntil(async () => ((await (await request(`${proxy.url}/meta`)).json()).recovering.length === 0 ? true : undefined), {
      what: 'the fence lifted',
    });
    const second = sentinels.find((s) => s !== first)!;
    expect((await second.meta()).jobs).toEqual(expect.arrayContaining([expect.objectContaining({ id, state: 'done' })]));
    const metrics = await request(`${second.url}/metrics`);
    expect(metrics.text).toMatch(/influxdb_sentinel_job_points_copied_total\{kind="recover"\} [1-9]/);
    await first.restart();
  });

  it('resync makes replicas agree on points written to one of them only', async () => {
    const onlyA = seedLines('disk', 300);
    const onlyB = seedLines('disk', 200, 300);
    expect((await A.write(DB, onlyA.join('\n'))).status).toBe(204);
    expect((await B.write(DB, onlyB.join('\n'))).status).toBe(204);
    const run = await admin([...store, 'resync', 'disk', '--points-per-second', '0', '--wait'], 90_000);
    expectOk(run);
    expect(await countOn(A, DB, 'disk')).toBe(500);
    expect(await countOn(B, DB, 'disk')).toBe(500);
  });

  it('rebalance moves cpu from a to b under write load, reads never miss data; cleanup a is refused until it is done, then drops cpu there', async () => {
    const keymaps = await keymapsFile({ _default_: ['a', 'b'], cpu: ['b'] });
    const writer = liveWriter(proxy.url, DB, 'cpu');
    await sleep(500);
    const seen = sampler(() => proxyCount(proxy.url, DB, 'cpu'));
    const dry = await admin([...store, 'rebalance', '--keymaps', keymaps, '--dry-run']);
    expectOk(dry);
    expect(dry.stdout).toMatch(/copy +cpu .*a → b/);
    // plan: which measurements would move, from the store and through a proxy's POST /admin/plan
    const planned = await admin([...store, 'plan', '--keymaps', keymaps]);
    expectOk(planned);
    expect(planned.stdout).toMatch(/^(\w+\.)?cpu: a → b$/m);
    expect(planned.stdout).toMatch(/^1 of [2-9]\d* measurements would move$/m);
    const viaProxy = await admin(['--proxy', proxy.url, 'plan', '--keymaps', keymaps, '--json']);
    expectOk(viaProxy);
    expect(JSON.parse(viaProxy.stdout)).toMatchObject({ moving: 1, moves: [{ name: 'cpu', from: ['a'], to: ['b'] }] });
    const recorded = await admin([...store, 'rebalance', '--keymaps', keymaps, '--points-per-second', '300']);
    expectOk(recorded);
    const id = recordedJobId(recorded);
    // the job was recorded before the keymaps were written
    expect(JSON.parse(String(await redis.command('HGET', 'm:', 'cpu')))).toEqual(['b']);
    const refused = await admin([...store, 'cleanup', 'a', '--yes']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`job ${id}`);
    await until(id, 'done');
    await sleep(500);
    const samples = await seen.stop();
    const { acked } = await writer.stop();
    // every read saw at least the history (never a new owner without it), and never went backwards
    expect(samples.filter((s) => s.status !== 200 || s.count < N)).toEqual([]);
    for (let i = 1; i < samples.length; i++) expect(samples[i].count).toBeGreaterThanOrEqual(samples[i - 1].count);
    await waitUntil(async () => ((await countOn(B, DB, 'cpu')) === N + acked ? true : undefined), {
      what: `all ${N + acked} cpu points on b`,
    });
    expect((await proxyCount(proxy.url, DB, 'cpu')).count).toBe(N + acked);

    const cleanup = await admin([...store, 'cleanup', 'a', '--yes', '--wait'], 60_000);
    expectOk(cleanup);
    expect(await countOn(A, DB, 'cpu')).toBe(0);
    expect(await countOn(B, DB, 'cpu')).toBe(N + acked);
    expect(await countOn(A, DB, 'net')).toBe(N);
  });
});

describe('jobs in etcd', () => {
  const EDB = 'etcddb';
  let etcd: Etcd;
  let sentinel: SentinelProcess;
  let proxy: ProxyProcess;
  const prefix = '/influx-proxy/';

  beforeAll(async () => {
    etcd = await startEtcd();
    await Promise.all([A.createDatabase(EDB), B.createDatabase(EDB)]);
    const [port] = await freePorts(1);
    const config = clusterConfig(port, EDB, { _default_: ['a', 'b'], load: ['a'] });
    for (const section of ['backends', 'keymaps', 'proxies'] as const) {
      for (const [name, value] of Object.entries(config[section])) await etcd.put(`${prefix}${section}/${name}`, JSON.stringify(value));
    }
    const store = ['--etcd', etcd.url];
    sentinel = await startSentinel({ store, name: 'e1', extraArgs: SENTINEL_FLAGS });
    proxy = await startProxy({ store, listenAddr: `127.0.0.1:${port}` });
    await writeThrough(proxy.url, EDB, seedLines('load', 500));
    await waitUntil(async () => ((await countOn(A, EDB, 'load')) === 500 ? true : undefined), { what: 'the seed on a' });
  });

  afterAll(async () => {
    await Promise.all([proxy?.stop(), sentinel?.stop()]);
    await etcd?.stop();
  });

  it('rebalance --keymaps records the job under runtime/jobs/, writes keymaps/ in one transaction, and the leader moves the data', async () => {
    const keymaps = await keymapsFile({ keymaps: { _default_: ['a', 'b'], load: ['b'] } });
    const run = await admin(['--etcd', etcd.url, 'rebalance', '--keymaps', keymaps, '--points-per-second', '0', '--wait'], 90_000);
    expectOk(run);
    const id = recordedJobId(run);
    expect(JSON.parse((await etcd.get(`${prefix}keymaps/load`))!)).toEqual(['b']);
    expect(JSON.parse((await etcd.get(`${prefix}runtime/jobs/${id}`))!)).toMatchObject({
      state: 'done',
      runner: 'e1',
      request: { keymapsBefore: { load: ['a'] } },
    });
    expect(await countOn(B, EDB, 'load')).toBe(500);
    expect(await rowsOn(B, EDB, 'load')).toEqual(await rowsOn(A, EDB, 'load'));
    // the proxy routes load by the new keymaps alone now
    await waitUntil(
      async () => ((await (await request(`${proxy.url}/meta`)).json()).measurementToBackends.load?.[0] === 'b' ? true : undefined),
      {
        what: 'the proxy on the new keymaps',
      },
    );
  });

  it('while _default_ moves to a backend without its data, a read of any measurement (a regex) is answered from the old owner', async () => {
    // the default's measurements on a alone first
    await etcd.put(`${prefix}keymaps/_default_`, JSON.stringify(['a']));
    await waitUntil(
      async () =>
        JSON.stringify((await (await request(`${proxy.url}/meta`)).json()).measurementToBackends._default_) === '["a"]' ? true : undefined,
      { what: 'the proxy on _default_ → a' },
    );
    await writeThrough(proxy.url, EDB, [...seedLines('dflt1', 1000), ...seedLines('dflt2', 1000)]);
    expect(await countOn(B, EDB, 'dflt1')).toBe(0);

    const keymaps = await keymapsFile({ keymaps: { _default_: ['b'], load: ['b'] } });
    const seen = sampler(async () => {
      const res = await request(`${proxy.url}/query?db=${EDB}&q=${encodeURIComponent('SELECT count(i) FROM /^dflt/')}`, {
        timeoutMs: 10_000,
      });
      const series: { name: string; values: unknown[][] }[] = res.status === 200 ? (res.json().results?.[0]?.series ?? []) : [];
      return `${res.status} ${series.map((x) => `${x.name}=${String(x.values[0][1])}`).join(',')}`;
    });
    const run = await admin(['--etcd', etcd.url, 'rebalance', '--keymaps', keymaps, '--points-per-second', '200', '--wait'], 90_000);
    expectOk(run);
    const samples = await seen.stop();
    // the copy took seconds (2000 points at 200/s): many reads fell inside it, and each saw everything
    expect(samples.length).toBeGreaterThan(10);
    expect(samples.filter((x) => x !== '200 dflt1=1000,dflt2=1000')).toEqual([]);
    expect(await countOn(B, EDB, 'dflt1')).toBe(1000);
    expect(await countOn(B, EDB, 'dflt2')).toBe(1000);
  });
});

describe('jobs run by the proxy itself on a config file', () => {
  const FDB = 'filedb';
  let proxy: ProxyProcess;

  beforeAll(async () => {
    await Promise.all([A.createDatabase(FDB), B.createDatabase(FDB)]);
    const [port] = await freePorts(1);
    proxy = await startProxy({
      config: clusterConfig(port, FDB, { _default_: ['a', 'b'] }),
      extraArgs: ['--job-points-per-window', String(WINDOW_POINTS)],
    });
    await writeThrough(proxy.url, FDB, seedLines('load', 600));
    await waitUntil(async () => ((await countOn(B, FDB, 'load')) === 600 ? true : undefined), { what: 'the seed on b' });
  });

  afterAll(async () => proxy?.stop());

  it('recover through --proxy; killed mid-job and restarted, the proxy resumes it from its state file', async () => {
    await B.query(`DROP DATABASE "${FDB}"`);
    const recorded = await admin(['--proxy', proxy.url, 'recover', 'b', '--points-per-second', '150']);
    expectOk(recorded);
    const id = recordedJobId(recorded);
    const get = async () => (await request(`${proxy.url}/admin/jobs/${id}`, { timeoutMs: 5_000 })).json();
    await waitUntil(async () => ((await get()).windowsDone >= 2 ? true : undefined), {
      attempts: 200,
      intervalMs: 100,
      what: 'two windows copied',
    });
    const stateFile = path.join(proxy.spoolDir, 'jobs.json');
    expect(JSON.parse(fs.readFileSync(stateFile, 'utf8')).jobs).toEqual([expect.objectContaining({ id, state: 'running' })]);
    await proxy.kill('SIGKILL');
    await proxy.restart();
    const follow = await admin(['--proxy', proxy.url, 'job', id, '--json']);
    expectOk(follow);
    const done = await waitUntil(async () => ((await get()).state === 'done' ? get() : undefined), {
      attempts: 300,
      intervalMs: 200,
      what: `job ${id} done`,
    });
    expect(done.windowsDone).toBe(done.windowsTotal);
    expect(done.pointsCopied).toBeLessThanOrEqual(done.record.plan.estimatedPoints + WINDOW_POINTS);
    expect(await countOn(B, FDB, 'load')).toBe(600);
    expect(await rowsOn(B, FDB, 'load')).toEqual(await rowsOn(A, FDB, 'load'));
    const jobs = await admin(['--proxy', proxy.url, 'jobs']);
    expectOk(jobs);
    expect(jobs.stdout).toContain(`${id}  recover b  done`);
  });

  it('POST /admin/jobs refuses what cannot run (400) and a busy backend (409); cancel stops a running job', async () => {
    const post = (body: unknown) =>
      request(`${proxy.url}/admin/jobs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const noConfirm = await post({ kind: 'cleanup', backend: 'a' });
    expect([noConfirm.status, noConfirm.json().error]).toEqual([400, expect.stringContaining('confirm')]);
    expect((await post({ kind: 'recover', backend: 'nope' })).status).toBe(400);
    const slow = await post({ kind: 'recover', backend: 'b', pointsPerSecond: 20 });
    expect(slow.status).toBe(201);
    const id = slow.json().id as string;
    const busy = await post({ kind: 'resync' });
    expect([busy.status, busy.json().error]).toEqual([409, expect.stringContaining(id)]);
    const get = async () => (await request(`${proxy.url}/admin/jobs/${id}`)).json();
    await waitUntil(async () => ((await get()).windowsDone >= 1 ? true : undefined), {
      attempts: 300,
      intervalMs: 100,
      what: 'a window copied',
    });
    const cancelled = await admin(['--proxy', proxy.url, 'cancel', id]);
    expectOk(cancelled);
    expect(cancelled.stdout).toContain(`${id}  recover b  cancelled`);
    const at = (await get()).pointsCopied;
    await sleep(1_500);
    expect(await get()).toMatchObject({ state: 'cancelled', pointsCopied: at });
    expect((await request(`${proxy.url}/meta`)).json().recovering).toEqual([]);
  });
});
