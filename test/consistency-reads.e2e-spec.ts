/**
 * Reads stay consistent while replicas catch up, and the fleet's runtime records tell the truth:
 *
 * - catch-up fencing: a backend with replay backlog anywhere in the fleet is read-behind. On etcd with a
 *   sentinel, the proxy of the recovering zone (which prefers that backend) keeps reading from the
 *   caught-up replica while another proxy replays into it, and reads from it again once the replay is
 *   done; with a file config, one proxy judges by its own spool. When every replica is behind, the
 *   least-behind answers and says so in X-Influxdb-Proxy-Read-Behind (streamed and built answers).
 * - /meta shows a backend's backlog at once (the proxy's own membership record too);
 * - a dead proxy's failing-write report stops counting within seconds, not after its membership TTL;
 * - a second `--node p2` that cannot listen leaves the running p2's membership record alone (etcd, Redis).
 */
import * as path from 'node:path';
import { Etcd, startEtcd } from './support/etcd';
import { HttpResponse, request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePorts } from './support/ports';
import { makeTempDir, removeDir, sleep, spawnManaged, stopAll, waitForExit, waitUntil } from './support/processes';
import { PROXY_BIN, ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';
import { Redis, startRedis } from './support/redis';
import { SENTINEL_BIN, SentinelProcess, sentinelFlags, startSentinel } from './support/sentinel-process';

const DB = 'mydb';
const READ_BEHIND = 'x-influxdb-proxy-read-behind';
/** Points written while b is down, 20 to a request. */
const N = 600;
/** Replay pace: N points take 12 s to replay, long enough to sample reads all along. */
const REPLAY_LINES_PER_SECOND = 50;
const SENTINEL_FLAGS = sentinelFlags({
  checkInterval: 0.25,
  checkTimeout: 1,
  downAfter: 2,
  upAfter: 2,
  leaderTtl: 2,
  slotTtl: 3,
  membershipTtl: 3,
});

let A: Influxd;
let B: Influxd;

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase(DB), B.createDatabase(DB)]);
});

afterAll(stopAll);

function clusterConfig(proxies: Record<string, { port: number; zone: string }>): ProxyConfig {
  const backend = (url: string, zone: string) => ({
    url,
    db: DB,
    zone,
    interval: 20,
    timeout: 1_000,
    checkInterval: 200,
    rewriteInterval: 300,
    downAfter: 2,
    upAfter: 2,
    replayLinesPerSecond: REPLAY_LINES_PER_SECOND,
  });
  return {
    backends: { a: backend(A.url, 'za'), b: backend(B.url, 'zb') },
    keymaps: { _default_: ['a', 'b'] },
    proxies: Object.fromEntries(
      Object.entries(proxies).map(([name, p]) => [name, { listenAddr: `127.0.0.1:${p.port}`, db: DB, zone: p.zone }]),
    ),
  };
}

async function meta(proxy: ProxyProcess): Promise<any> {
  const res = await request(`${proxy.url}/meta`, { timeoutMs: 5_000 });
  if (res.status !== 200) throw new Error(`/meta answered ${res.status} ${res.text}`);
  return res.json();
}

/** N points of `measurement` through `proxy`, 20 to a request, each acknowledged with 204. */
async function writePoints(proxy: ProxyProcess, measurement: string, base: bigint): Promise<void> {
  for (let i = 0; i < N / 20; i++) {
    let body = '';
    for (let j = 0; j < 20; j++) body += `${measurement} v=${i * 20 + j}i ${base + BigInt(i * 20 + j) * 1000n}\n`;
    const res = await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body, timeoutMs: 15_000 });
    if (res.status !== 204) throw new Error(`write answered ${res.status} ${res.text}`);
  }
}

function query(proxy: ProxyProcess, q: string): Promise<HttpResponse> {
  return request(`${proxy.url}/query?db=${DB}&q=${encodeURIComponent(q)}`, { timeoutMs: 10_000 });
}

function countOf(res: HttpResponse): number {
  return Number(res.json().results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
}

interface Sample {
  status: number;
  count: number;
  readBehind?: string;
}

/** `SELECT count(v)` through `proxy` every 0.3 s until `done()` (bounded: 60 s). */
async function sampleCounts(proxy: ProxyProcess, measurement: string, done: () => Promise<boolean>): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < 200; i++) {
    const res = await query(proxy, `SELECT count(v) FROM "${measurement}"`);
    samples.push({
      status: res.status,
      count: res.status === 200 ? countOf(res) : -1,
      readBehind: res.headers[READ_BEHIND] as string | undefined,
    });
    if (await done().catch(() => false)) return samples;
    await sleep(300);
  }
  throw new Error(`the replay did not end within 60 s; samples: ${JSON.stringify(samples)}`);
}

async function countOn(influxd: Influxd, measurement: string): Promise<number> {
  const rows = await influxd.rows(`SELECT count(v) FROM "${measurement}"`, DB);
  return Number(rows[0]?.count ?? 0);
}

/** Writes one point of `measurement` straight into `influxd` (not through a proxy): whoever reads it read from there. */
async function markOnly(influxd: Influxd, measurement: string): Promise<void> {
  const res = await influxd.write(DB, `${measurement} v=1i 1700000000000000000`);
  if (res.status !== 204) throw new Error(`write to ${influxd.url} answered ${res.status} ${res.text}`);
}

/**
 * Starts a second process under a name that is running (`bin`, `args`: its listen address is taken),
 * waits for it to fail, and checks that the running one's record stays its own all along.
 */
async function duplicateFails(
  bin: string,
  args: string[],
  runningPid: number,
  readRecord: () => Promise<string | null | undefined>,
): Promise<void> {
  const before = JSON.parse((await readRecord())!);
  expect(before.pid).toBe(runningPid);
  const dup = spawnManaged(`duplicate:${path.basename(bin)}`, bin, args);
  const exit = await waitForExit(dup, 30_000);
  expect(exit).toBeDefined();
  expect(exit!.code).not.toBe(0);
  expect(dup.output()).toMatch(/EADDRINUSE/);
  // the record stays the running process's: never deleted, never overwritten by the duplicate
  for (let i = 0; i < 10; i++) {
    const record = await readRecord();
    expect(record ? JSON.parse(record).pid : 'deleted').toBe(runningPid);
    await sleep(100);
  }
}

/** A second proxy as `node` on the store, while `running` serves as that node. */
async function duplicateNodeFails(
  store: string[],
  node: string,
  running: ProxyProcess,
  readRecord: () => Promise<string | null | undefined>,
) {
  const dir = await makeTempDir('dup-node');
  try {
    await duplicateFails(PROXY_BIN, [...store, '--node', node, '--spool-dir', path.join(dir, 'spool')], running.pid, readRecord);
  } finally {
    await removeDir(dir);
  }
  expect((await query(running, 'SHOW MEASUREMENTS')).status).toBe(200); // and it serves on
}

// ---------------------------------------------------------------------------------------------

describe('on etcd with a sentinel: two zones, a proxy in each', () => {
  const prefix = '/consistency-e2e/';
  let etcd: Etcd;
  let store: string[];
  let sentinel: SentinelProcess;
  let p1: ProxyProcess;
  let p2: ProxyProcess;
  let config: ProxyConfig;

  beforeAll(async () => {
    etcd = await startEtcd();
    const [port1, port2, port3] = await freePorts(3);
    config = clusterConfig({ p1: { port: port1, zone: 'za' }, p2: { port: port2, zone: 'zb' }, p3: { port: port3, zone: 'za' } });
    for (const [section, entries] of Object.entries(config)) {
      for (const [name, value] of Object.entries(entries as Record<string, unknown>))
        await etcd.put(`${prefix}${section}/${name}`, JSON.stringify(value));
    }
    store = ['--etcd', etcd.url, '--etcd-prefix', prefix];
    sentinel = await startSentinel({ store, name: 's1', extraArgs: SENTINEL_FLAGS });
    [p1, p2] = await Promise.all(
      ['p1', 'p2'].map((node) =>
        startProxy({ store, node, listenAddr: config.proxies[node].listenAddr, extraArgs: ['--membership-ttl', '3'] }),
      ),
    );
    for (const proxy of [p1, p2]) {
      await waitUntil(
        async () => {
          const d = (await meta(proxy)).backendDetail;
          return d.a.source === 'sentinel' && d.b.source === 'sentinel' && d.a.healthy && d.b.healthy;
        },
        { what: `${proxy.url} to follow the sentinel`, details: () => proxy.output() },
      );
    }
  });

  afterAll(async () => {
    await Promise.all([p1?.stop(), p2?.stop(), sentinel?.stop()]);
    await etcd?.stop();
  });

  it('reads through the recovering zone’s proxy never go backwards while another proxy replays into its backend, and come back to it once caught up', async () => {
    const m = 'fence_etcd';
    await B.kill('SIGKILL');
    await waitUntil(async () => (await meta(p1)).backendDetail.b.healthy === false, { what: 'p1 to see b down' });
    await writePoints(p1, m, 1_700_000_000_000_000_000n);
    expect(await countOn(A, m)).toBe(N);
    // the leader has read p1's backlog before b is back
    await waitUntil(async () => ((await sentinel.meta()).proxies.p1?.backlog?.b?.records ?? 0) > 0, {
      what: 'the sentinel to see p1’s backlog for b',
    });

    await B.restart();
    const samples = await sampleCounts(p2, m, async () => (await meta(p1)).backendDetail.b.spool.records === 0);
    expect(samples.length).toBeGreaterThan(10); // the replay took a while: reads were sampled all along
    expect(samples.filter((s) => s.status !== 200 || s.count < N)).toEqual([]);
    expect(samples.filter((s) => s.readBehind !== undefined)).toEqual([]); // a was caught up: no behind read was needed
    expect(await countOn(B, m)).toBe(N);

    // caught up: p2 reads from b again (a point that only b holds is seen through p2), no header
    await markOnly(B, 'only_on_b_etcd');
    const back = await waitUntil(
      async () => {
        const res = await query(p2, 'SELECT count(v) FROM "only_on_b_etcd"');
        return res.status === 200 && countOf(res) === 1 ? res : undefined;
      },
      { attempts: 50, intervalMs: 100, what: 'p2 to read from b again', details: () => p2.output() },
    );
    expect(back.headers[READ_BEHIND]).toBeUndefined();
    expect((await meta(p2)).readBehind).toEqual({});
    expect(countOf(await query(p2, `SELECT count(v) FROM "${m}"`))).toBe(N);
  });

  it('a second --node p2 that fails with EADDRINUSE leaves the running p2’s membership record alone', async () => {
    await duplicateNodeFails(store, 'p2', p2, () => etcd.get(`${prefix}runtime/proxies/p2`));
  });

  it('a second sentinel --name s1 that fails with EADDRINUSE leaves the running s1’s record alone', async () => {
    const listen = new URL(sentinel.url).host;
    await duplicateFails(SENTINEL_BIN, [...store, '--name', 's1', '--listen', listen, ...SENTINEL_FLAGS], sentinel.pid, () =>
      etcd.get(`${prefix}runtime/sentinels/s1`),
    );
    expect((await sentinel.meta()).role).toBe('leader');
  });

  it('a proxy killed with -9 while it reports failing writes no longer holds the backend down once it is back', async () => {
    // p3 keeps its record for 30 s after its last heartbeat
    const p3 = await startProxy({ store, node: 'p3', listenAddr: config.proxies.p3.listenAddr, extraArgs: ['--membership-ttl', '30'] });
    await waitUntil(async () => (await meta(p3)).backendDetail.b.source === 'sentinel', { what: 'p3 to follow the sentinel' });
    await B.kill('SIGKILL');
    // written before the sentinel sees b down, so p3 tries b and fails
    const res = await request(`${p3.url}/write?db=${DB}`, { method: 'POST', body: 'failing_report v=1i 1700000000000000000\n' });
    expect(res.status).toBe(204);
    await waitUntil(async () => (await sentinel.meta()).proxies.p3?.failing?.b !== undefined, {
      what: 'p3 to report failing writes to b',
      details: () => p3.output(),
    });
    await waitUntil(async () => (await sentinel.meta()).backends.b.up === false, { what: 'the sentinel to publish b down' });
    await p3.kill('SIGKILL');
    await B.restart();
    const restartedAt = Date.now();
    const upAfter = await waitUntil(async () => ((await sentinel.meta()).backends.b.up === true ? Date.now() - restartedAt : undefined), {
      attempts: 100,
      intervalMs: 100,
      what: 'the sentinel to see b up again',
      details: () => sentinel.output().slice(-4000),
    });
    expect(upAfter).toBeLessThan(8_000);
    // well before the membership TTL: p3's record (and its report) is still in the store
    expect((await sentinel.meta()).proxies.p3?.failing?.b).toBeDefined();
  });
});

describe('with a file config: one proxy, its own spool', () => {
  let proxy: ProxyProcess;

  beforeAll(async () => {
    const [port] = await freePorts(1);
    // in b's zone: it prefers b; a heartbeat only every 10 s, so /meta must not wait for one
    proxy = await startProxy({ config: clusterConfig({ p1: { port, zone: 'zb' } }), node: 'p1', extraArgs: ['--membership-ttl', '30'] });
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  it('/meta shows spooled records at once; reads never go backwards during the replay; all replicas behind → the least-behind answers, with the header', async () => {
    const m = 'fence_file';
    await B.kill('SIGKILL');
    await waitUntil(async () => (await meta(proxy)).backendDetail.b.healthy === false, { what: 'the proxy to see b down' });
    await writePoints(proxy, m, 1_700_000_000_000_000_000n);
    const now = await meta(proxy);
    const spooled = now.backendDetail.b.spool.records;
    expect(spooled).toBeGreaterThan(0);
    expect(now.proxies.p1.backlog.b.records).toBe(spooled);
    // the read fence samples the spools a few times a second
    await waitUntil(async () => (await meta(proxy)).readBehind.b === spooled, {
      attempts: 20,
      intervalMs: 50,
      what: 'b to be read-behind',
    });

    await B.restart();
    await waitUntil(async () => (await meta(proxy)).backendDetail.b.spool.replaying === true, { what: 'the replay to start' });
    const replaying = async () => (await meta(proxy)).backendDetail.b.spool.records;
    // reads while b catches up: from a, whole
    const samples: Sample[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await query(proxy, `SELECT count(v) FROM "${m}"`);
      samples.push({
        status: res.status,
        count: res.status === 200 ? countOf(res) : -1,
        readBehind: res.headers[READ_BEHIND] as string | undefined,
      });
      await sleep(300);
    }
    expect(samples.filter((s) => s.status !== 200 || s.count < N || s.readBehind !== undefined)).toEqual([]);
    expect(await replaying()).toBeGreaterThan(0);

    // a goes away mid-replay: b, behind, is all there is, and the answers say so
    await A.kill('SIGKILL');
    try {
      await waitUntil(async () => (await meta(proxy)).backendDetail.a.healthy === false, { what: 'the proxy to see a down' });
      const streamed = await query(proxy, `SELECT count(v) FROM "${m}"`);
      expect(streamed.status).toBe(200);
      expect(streamed.headers[READ_BEHIND]).toMatch(/^b \(\d+ records waiting\)$/);
      expect(countOf(streamed)).toBeLessThan(N);
      const built = await query(proxy, 'SHOW MEASUREMENTS'); // a fan-out, answered by the proxy
      expect(built.status).toBe(200);
      expect(built.headers[READ_BEHIND]).toMatch(/^b \(\d+ records waiting\)$/);
    } finally {
      await A.restart();
    }
    await waitUntil(async () => (await meta(proxy)).backendDetail.a.healthy === true, { what: 'the proxy to see a up' });

    const rest = await sampleCounts(proxy, m, async () => (await replaying()) === 0);
    expect(rest.filter((s) => s.status !== 200 || s.count < N)).toEqual([]);
    expect(await countOn(B, m)).toBe(N);

    await markOnly(B, 'only_on_b_file');
    const back = await waitUntil(
      async () => {
        const res = await query(proxy, 'SELECT count(v) FROM "only_on_b_file"');
        return res.status === 200 && countOf(res) === 1 ? res : undefined;
      },
      { attempts: 30, intervalMs: 100, what: 'the proxy to read from b again' },
    );
    expect(back.headers[READ_BEHIND]).toBeUndefined();
    const after = await meta(proxy);
    expect(after.readBehind).toEqual({});
    expect(after.proxies.p1.backlog.b.records).toBe(0);
  });
});

describe('on Redis', () => {
  let redis: Redis;
  let p2: ProxyProcess;
  let store: string[];

  beforeAll(async () => {
    redis = await startRedis();
    const [port] = await freePorts(1);
    const config = clusterConfig({ p2: { port, zone: 'zb' } });
    const hashes = { backends: 'b:', keymaps: 'm:', proxies: 'n:' } as const;
    for (const [section, key] of Object.entries(hashes)) {
      for (const [name, value] of Object.entries(config[section as keyof ProxyConfig]))
        await redis.command('HSET', key, name, JSON.stringify(value));
    }
    store = ['-redis', `${redis.host}:${redis.port}`];
    p2 = await startProxy({ store, node: 'p2', listenAddr: config.proxies.p2.listenAddr });
  });

  afterAll(async () => {
    await p2?.stop();
    await redis?.stop();
  });

  it('a second --node p2 that fails with EADDRINUSE leaves the running p2’s membership record alone', async () => {
    await waitUntil(async () => (await redis.command('GET', 'influxdb-proxy:member:p2')) !== null, { what: 'p2’s record' });
    await duplicateNodeFails(store, 'p2', p2, async () => (await redis.command('GET', 'influxdb-proxy:member:p2')) as string | null);
    // and a graceful stop still deletes its own
    await p2.stop();
    expect(await redis.command('GET', 'influxdb-proxy:member:p2')).toBeNull();
  });
});
