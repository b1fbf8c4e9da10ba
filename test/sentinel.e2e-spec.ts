/**
 * The sentinel end to end, with real faults: two sentinels and two proxies sharing a 3-member etcd
 * cluster (then Redis), two real influxd each behind a counting pass-through that remembers every
 * write it forwarded (when, from which proxy, which points).
 *
 * - the leading sentinel killed with -9 (or frozen past its TTL) is replaced within its TTL, and the
 *   new leader keeps publishing; a frozen one that wakes up publishes nothing more;
 * - an etcd member killed with -9 changes nothing that anyone can see;
 * - an influxd stopped under write load is seen down by both proxies through the sentinel within its
 *   fall threshold, both spool; once it is back, the sentinel's replay slots let one proxy replay at a
 *   time (checked on the wire, in /meta samples and in the slot log) and every acknowledged point
 *   arrives exactly once on each backend.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CountingProxy, ForwardedWrite, startCountingProxy } from './support/counting-proxy';
import { EtcdCluster, startEtcdCluster } from './support/etcd';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePorts } from './support/ports';
import { makeTempDir, removeDir, sleep, stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';
import { Redis, startRedis } from './support/redis';
import { SentinelProcess, sentinelFlags, startSentinel } from './support/sentinel-process';

const DB = 'mydb';
const INTERVAL_MS = 250;
const FALL = 2;
const LEADER_TTL_MS = 2_000;
const SENTINEL_FLAGS = sentinelFlags({
  checkInterval: INTERVAL_MS / 1000,
  checkTimeout: 1,
  downAfter: FALL,
  upAfter: 2,
  leaderTtl: LEADER_TTL_MS / 1000,
  slotTtl: 3,
  membershipTtl: 3,
});
/** How long after a fault the proxies may take to follow the sentinel: its probes, a publication, a poll, and slack for a loaded machine. */
const FOLLOW_MS = FALL * INTERVAL_MS + INTERVAL_MS + INTERVAL_MS + 1_000;

let A: Influxd;
let B: Influxd;
/** What reached each influxd. */
let toA: CountingProxy;
let toB: CountingProxy;

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
  [toA, toB] = await Promise.all([startCountingProxy(A.url), startCountingProxy(B.url)]);
});

afterAll(stopAll);

function clusterConfig(ports: [number, number]): ProxyConfig {
  const backend = (url: string, db: string) => ({
    url,
    db,
    timeout: 1_000,
    checkInterval: 200,
    rewriteInterval: 300,
    downAfter: 2,
    upAfter: 2,
  });
  return {
    backends: { a: backend(toA.url, 'dba'), b: backend(toB.url, 'dbb') },
    keymaps: { _default_: ['a', 'b'] },
    proxies: {
      p1: { listenAddr: `127.0.0.1:${ports[0]}`, db: DB },
      p2: { listenAddr: `127.0.0.1:${ports[1]}`, db: DB },
    },
  };
}

/** Two sentinels and two proxies on one store. */
interface Fleet {
  sentinels: SentinelProcess[];
  proxies: ProxyProcess[];
}

async function startFleet(store: string[], config: ProxyConfig): Promise<Fleet> {
  const sentinels = await Promise.all(['s1', 's2'].map((name) => startSentinel({ store, name, extraArgs: SENTINEL_FLAGS })));
  const proxies = await Promise.all(
    ['p1', 'p2'].map((node) =>
      startProxy({ store, node, listenAddr: config.proxies[node].listenAddr, extraArgs: ['--membership-ttl', '3'] }),
    ),
  );
  return { sentinels, proxies };
}

async function stopFleet(fleet: Fleet | undefined): Promise<void> {
  if (!fleet) return;
  await Promise.all([...fleet.proxies.map((p) => p.stop()), ...fleet.sentinels.map((s) => s.stop())]);
}

async function meta(proxy: ProxyProcess): Promise<any> {
  const res = await request(`${proxy.url}/meta`, { timeoutMs: 5_000 });
  if (res.status !== 200) throw new Error(`/meta answered ${res.status} ${res.text}`);
  return res.json();
}

async function role(sentinel: SentinelProcess): Promise<string | undefined> {
  try {
    return (await request(`${sentinel.url}/health`, { timeoutMs: 1_000 })).json().role;
  } catch {
    return undefined;
  }
}

/** The sentinel that says it leads (waiting for one). */
async function leaderOf(fleet: Fleet): Promise<{ leader: SentinelProcess; follower: SentinelProcess }> {
  return waitUntil(
    async () => {
      const roles = await Promise.all(fleet.sentinels.map(role));
      const i = roles.indexOf('leader');
      return i >= 0 && roles.filter((r) => r === 'leader').length === 1
        ? { leader: fleet.sentinels[i], follower: fleet.sentinels[1 - i] }
        : undefined;
    },
    {
      attempts: 100,
      intervalMs: 100,
      what: 'exactly one leading sentinel',
      details: () => fleet.sentinels.map((s) => s.output()).join('\n'),
    },
  );
}

/** Posts batches of points tagged src=<proxy> with unique timestamps until stopped; remembers what was acknowledged. */
class WriteLoad {
  readonly acked: bigint[] = [];
  readonly failures: string[] = [];
  private next = 0n;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly proxy: ProxyProcess,
    private readonly measurement: string,
    private readonly src: string,
    private readonly base: bigint,
    private readonly lines = 50,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const stamps: bigint[] = [];
      let body = '';
      for (let j = 0; j < this.lines; j++) {
        const ts = this.base + this.next++ * 1000n;
        stamps.push(ts);
        body += `${this.measurement},src=${this.src} v=${j}i ${ts}\n`;
      }
      try {
        const res = await request(`${this.proxy.url}/write?db=${DB}`, { method: 'POST', body, timeoutMs: 15_000 });
        if (res.status === 204) this.acked.push(...stamps);
        else this.failures.push(`${res.status} ${res.text}`);
      } catch (err) {
        this.failures.push((err as Error).message);
      }
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Samples each proxy's /meta `replaying` flag for one backend, as often as it answers. */
class ReplaySampler {
  /** Times (local ms) when more than one proxy said it was replaying. */
  readonly overlaps: number[] = [];
  readonly replayed = new Set<string>();
  samples = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly proxies: ProxyProcess[],
    private readonly backend: string,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const flags = await Promise.all(
        this.proxies.map((p) =>
          meta(p).then(
            (m) => m.backendDetail[this.backend].spool.replaying === true,
            () => false,
          ),
        ),
      );
      this.samples++;
      flags.forEach((f, i) => f && this.replayed.add(this.proxies[i].url));
      if (flags.filter(Boolean).length > 1) this.overlaps.push(Date.now());
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Pairs of writes from different proxies whose [start, end] overlap on the wire. */
function concurrentWrites(writes: ForwardedWrite[]): string[] {
  const out: string[] = [];
  const sorted = [...writes].sort((x, y) => x.start - y.start);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j].start <= sorted[i].end; j++) {
      if (sorted[i].sources.join() !== sorted[j].sources.join()) {
        out.push(
          `${sorted[i].sources} [${sorted[i].start}, ${sorted[i].end}] with ${sorted[j].sources} [${sorted[j].start}, ${sorted[j].end}]`,
        );
      }
    }
  }
  return out;
}

/** How many times each point of `measurement` was delivered (answered 2xx by influxd). */
function deliveries(counting: CountingProxy, measurement: string): Map<bigint, number> {
  const count = new Map<bigint, number>();
  for (const w of counting.writes) {
    if (w.status >= 300 || !w.measurements.includes(measurement)) continue;
    for (const ts of w.stamps) count.set(ts, (count.get(ts) ?? 0) + 1);
  }
  return count;
}

async function backlog(proxy: ProxyProcess, backend: string): Promise<number> {
  return (await meta(proxy)).backendDetail[backend].spool.records;
}

// ---------------------------------------------------------------------------------------------
// the drills, run against each store

/** /meta on each proxy lists both proxies, both sentinels and the one that leads. */
async function expectFleetInMeta(fleet: Fleet): Promise<void> {
  const { leader } = await leaderOf(fleet);
  for (const proxy of fleet.proxies) {
    const m = await waitUntil(
      async () => {
        const j = await meta(proxy);
        const s = j.sentinel;
        return j.proxies.p1?.alive && j.proxies.p2?.alive && s.members.s1 && s.members.s2 && s.leader === leader.name && s.live
          ? j
          : undefined;
      },
      { attempts: 100, intervalMs: 100, what: `${proxy.url}/meta to list p1, p2, s1, s2 and the leader`, details: () => proxy.output() },
    );
    expect(m.sentinel).toMatchObject({
      leader: leader.name,
      members: {
        s1: { alive: true, address: expect.stringMatching(/^127\.0\.0\.1:\d+$/), leader: leader.name === 's1' },
        s2: { alive: true, leader: leader.name === 's2' },
      },
      live: true,
      publication: { leader: leader.name },
    });
    expect(Date.now() - m.sentinel.lastSeen).toBeLessThan(2_000);
    expect(m.backendDetail.a).toMatchObject({ healthy: true, source: 'sentinel', sentinel: { up: true, by: leader.name } });
  }
  const own = await leader.meta();
  expect(own).toMatchObject({ name: leader.name, role: 'leader', leader: leader.name });
  expect(Object.keys(own.proxies).sort()).toEqual(['p1', 'p2']);
  expect(Object.keys(own.sentinels).sort()).toEqual(['s1', 's2']);
  expect(own.backends.b).toMatchObject({ up: true, by: leader.name, version: expect.stringMatching(/^1\./) });
}

/** Kill -9 of the leader: the follower leads within the TTL, publishes on, the proxies follow it. */
async function killTheLeader(fleet: Fleet): Promise<void> {
  const { leader, follower } = await leaderOf(fleet);
  const before = (await follower.meta()).publication;
  const killedAt = Date.now();
  await leader.kill('SIGKILL');
  const took = await waitUntil(async () => ((await role(follower)) === 'leader' ? Date.now() - killedAt : undefined), {
    attempts: 200,
    intervalMs: 25,
    what: `${follower.name} to take over`,
    details: () => follower.output(),
  });
  // its TTL, plus etcd's lease expiry check (every 500 ms) and a loaded machine
  expect(took).toBeLessThan(LEADER_TTL_MS + 1_500);
  const first = await waitUntil(async () => {
    const p = (await follower.meta()).publication;
    return p?.leader === follower.name ? p : undefined;
  });
  expect(first.term).not.toBe(before.term);
  await sleep(4 * INTERVAL_MS);
  const later = (await follower.meta()).publication;
  expect(later).toMatchObject({ leader: follower.name, term: first.term });
  expect(later.seq).toBeGreaterThanOrEqual(first.seq + 2); // keeps publishing
  expect(follower.output()).toMatch(/carrying on from .*'s publication/);
  for (const proxy of fleet.proxies) {
    await waitUntil(
      async () => {
        const s = (await meta(proxy)).sentinel;
        return s.live && s.leader === follower.name && s.publication.leader === follower.name;
      },
      { what: `${proxy.url} to follow ${follower.name}` },
    );
  }
  await leader.restart(); // back as a follower
  expect(await role(leader)).toBe('follower');
  expect((await leaderOf(fleet)).leader).toBe(follower);
}

/** A leader frozen past its TTL is replaced; woken up, it publishes nothing more and steps down. */
async function freezeTheLeader(fleet: Fleet): Promise<void> {
  const { leader, follower } = await leaderOf(fleet);
  process.kill(leader.pid, 'SIGSTOP');
  try {
    await waitUntil(async () => (await role(follower)) === 'leader', {
      attempts: 200,
      intervalMs: 25,
      what: `${follower.name} to take over from a frozen leader`,
    });
    await sleep(2 * INTERVAL_MS);
  } finally {
    process.kill(leader.pid, 'SIGCONT');
  }
  // the woken leader finds its leadership gone: the publication stays the new leader's throughout
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    seen.add((await follower.meta()).publication.leader);
    await sleep(50);
  }
  expect([...seen]).toEqual([follower.name]);
  await waitUntil(async () => (await role(leader)) === 'follower', { what: `${leader.name} to step down`, details: () => leader.output() });
  expect(leader.output()).toMatch(/no longer the leader/);
}

/**
 * b's influxd stopped under write load through both proxies: both see it down through the sentinel and
 * spool; back up, they replay one at a time and every acknowledged point arrives exactly once.
 */
async function backendOutage(fleet: Fleet, measurement: string): Promise<void> {
  const [p1, p2] = fleet.proxies;
  const { leader } = await leaderOf(fleet);
  const loads = [
    new WriteLoad(p1, measurement, 'p1', 1_700_000_000_000_000_000n),
    new WriteLoad(p2, measurement, 'p2', 1_700_001_000_000_000_000n),
  ];
  try {
    await sleep(600);
    const killedAt = Date.now();
    await B.kill('SIGKILL');
    const seenDown = await Promise.all(
      fleet.proxies.map((proxy) =>
        waitUntil(
          async () => {
            const d = (await meta(proxy)).backendDetail.b;
            return d.source === 'sentinel' && d.sentinel.up === false && d.healthy === false ? Date.now() - killedAt : undefined;
          },
          { attempts: 200, intervalMs: 25, what: `${proxy.url} to see b down through the sentinel`, details: () => proxy.output() },
        ),
      ),
    );
    for (const ms of seenDown) expect(ms).toBeLessThan(FOLLOW_MS);
    expect((await meta(p1)).backendDetail.b.sentinel).toMatchObject({
      by: leader.name,
      lastError: expect.stringMatching(/ping|SHOW DATABASES|writes fail/),
    });
    // both spool meanwhile
    await waitUntil(async () => (await backlog(p1, 'b')) > 0 && (await backlog(p2, 'b')) > 0, { what: 'both proxies to spool for b' });
    await sleep(800);
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
  for (const l of loads) {
    expect(l.failures).toEqual([]);
    expect(l.acked.length).toBeGreaterThan(0);
  }
  const sampler = new ReplaySampler(fleet.proxies, 'b');
  const restartedAt = Date.now();
  try {
    await B.restart();
    await waitUntil(async () => (await backlog(p1, 'b')) === 0 && (await backlog(p2, 'b')) === 0, {
      attempts: 300,
      intervalMs: 100,
      what: 'both spools for b to be replayed',
      details: () => `${p1.output().slice(-3000)}\n${p2.output().slice(-3000)}\n${leader.output().slice(-3000)}`,
    });
  } finally {
    await sampler.stop();
  }

  // one proxy at a time: on the wire (only replays reach b after its restart: the load had stopped) …
  const replays = toB.writes.filter((w) => w.start >= restartedAt && w.status < 300 && w.measurements.includes(measurement));
  expect(new Set(replays.flatMap((w) => w.sources))).toEqual(new Set(['p1', 'p2']));
  expect(replays.every((w) => w.sources.length === 1)).toBe(true);
  expect(concurrentWrites(replays)).toEqual([]);
  // … in /meta, sampled all along …
  expect(sampler.samples).toBeGreaterThan(10);
  expect(sampler.overlaps).toEqual([]);
  // … and in the leader's slot log: a slot for b goes to the next proxy only once the last one gave it back
  const slotLog = [...leader.output().matchAll(/replay slot \S+ for backend b (granted to|released by|taken back from) proxy (p\d)/g)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
  expect(slotLog.filter((l) => l.startsWith('granted')).length).toBeGreaterThanOrEqual(2);
  const overlapping = slotLog.filter((l, i) => l.startsWith('granted') && i > 0 && slotLog[i - 1].startsWith('granted'));
  expect({ overlapping, slotLog }).toEqual({ overlapping: [], slotLog });

  // every acknowledged point arrived exactly once on each backend, and is stored there
  const acked = loads.flatMap((l) => l.acked);
  for (const [counting, influxd, db] of [
    [toA, A, 'dba'],
    [toB, B, 'dbb'],
  ] as const) {
    const count = deliveries(counting, measurement);
    expect(acked.filter((ts) => count.get(ts) !== 1).map((ts) => `${ts}: ${count.get(ts) ?? 0}`)).toEqual([]);
    const stored = new Set((await influxd.rows(`SELECT v FROM "${measurement}"`, db)).map((r) => r.time));
    expect(acked.filter((ts) => !stored.has(ts))).toEqual([]);
  }
  // and the sentinel sees b up again
  for (const proxy of fleet.proxies) expect((await meta(proxy)).backendDetail.b).toMatchObject({ healthy: true, source: 'sentinel' });
}

// ---------------------------------------------------------------------------------------------

describe('sentinels on a 3-member etcd cluster', () => {
  const prefix = '/sentinel-e2e/';
  let etcd: EtcdCluster;
  let fleet: Fleet | undefined;
  let store: string[];

  beforeAll(async () => {
    etcd = await startEtcdCluster(3);
    const config = clusterConfig((await freePorts(2)) as [number, number]);
    for (const [section, entries] of Object.entries(config)) {
      for (const [name, value] of Object.entries(entries as Record<string, unknown>))
        await etcd.put(`${prefix}${section}/${name}`, JSON.stringify(value));
    }
    store = ['--etcd', etcd.urls.join(','), '--etcd-prefix', prefix];
    fleet = await startFleet(store, config);
  });

  afterAll(async () => {
    await stopFleet(fleet);
    await etcd?.stop();
  });

  it('/meta on either proxy lists both proxies, both sentinels and the leader', async () => {
    await expectFleetInMeta(fleet!);
    const keys = Object.keys(await etcd.getPrefix(`${prefix}runtime/`));
    expect(keys).toEqual(
      expect.arrayContaining([
        `${prefix}runtime/sentinel/state`,
        `${prefix}runtime/sentinels/s1`,
        `${prefix}runtime/sentinels/s2`,
        `${prefix}runtime/proxies/p1`,
        `${prefix}runtime/proxies/p2`,
      ]),
    );
    expect(keys.filter((k) => k.startsWith(`${prefix}runtime/sentinel/election/leader/`))).toHaveLength(2);
  });

  it('kill -9 of the leading sentinel: the other takes over within its TTL and keeps publishing', async () => {
    await killTheLeader(fleet!);
  });

  it('a leader frozen past its TTL is replaced, and once it wakes up publishes nothing more', async () => {
    await freezeTheLeader(fleet!);
  });

  it('kill -9 of one etcd member (the raft leader): writes, election, publication and /meta keep working', async () => {
    const before = (await (await leaderOf(fleet!)).leader.meta()).publication;
    const member = await etcd.leader();
    await member.kill('SIGKILL');
    // writes never wait for the store
    for (const [i, proxy] of fleet!.proxies.entries()) {
      const res = await request(`${proxy.url}/write?db=${DB}`, {
        method: 'POST',
        body: `etcd_member_down,src=p${i + 1} v=1i 1700000000000000000`,
      });
      expect(res.status).toBe(204);
    }
    // once the two members left have a raft leader again (an election timeout), the sentinels carry on
    // on them: one leads and publishes on, and every /meta is whole again
    const { leader } = await leaderOf(fleet!);
    const after = await waitUntil(
      async () => {
        const p = (await leader.meta()).publication;
        return p && p.leader === leader.name && (p.term !== before.term || p.seq >= before.seq + 3) ? p : undefined;
      },
      { attempts: 100, intervalMs: 100, what: 'publications to go on', details: () => leader.output() },
    );
    expect(after.leader).toBe(leader.name);
    await expectFleetInMeta(fleet!);
    for (const proxy of fleet!.proxies) {
      await waitUntil(async () => (await meta(proxy)).membership.error === undefined, { what: `${proxy.url} membership without error` });
    }
    // the member stays down for the next drill: 2 of 3 keep the quorum
  });

  it('an influxd stopped under write load: both proxies see it down via the sentinel and spool; back up, they replay one at a time and every point arrives exactly once', async () => {
    await backendOutage(fleet!, 'outage_etcd');
  });
});

describe('sentinels on Redis', () => {
  let redis: Redis;
  let fleet: Fleet | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    const config = clusterConfig((await freePorts(2)) as [number, number]);
    const hashes = { backends: 'b:', keymaps: 'm:', proxies: 'n:' } as const;
    for (const [section, key] of Object.entries(hashes)) {
      for (const [name, value] of Object.entries(config[section as keyof ProxyConfig]))
        await redis.command('HSET', key, name, JSON.stringify(value));
    }
    fleet = await startFleet(['-redis', `${redis.host}:${redis.port}`], config);
  });

  afterAll(async () => {
    await stopFleet(fleet);
    await redis?.stop();
  });

  it('/meta on either proxy lists both proxies, both sentinels and the leader', async () => {
    await expectFleetInMeta(fleet!);
    const keys = (await redis.command('KEYS', 'influxdb-proxy:*')) as string[];
    expect(keys.sort()).toEqual(
      [
        'influxdb-proxy:member:p1',
        'influxdb-proxy:member:p2',
        'influxdb-proxy:sentinel:leader',
        'influxdb-proxy:sentinel:member:s1',
        'influxdb-proxy:sentinel:member:s2',
        'influxdb-proxy:sentinel:state',
      ].sort(),
    );
    const ttl = Number(await redis.command('PTTL', 'influxdb-proxy:sentinel:leader'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(LEADER_TTL_MS);
  });

  it('kill -9 of the leading sentinel: the other takes over within its TTL and keeps publishing', async () => {
    await killTheLeader(fleet!);
  });

  it('a leader frozen past its TTL is replaced, and once it wakes up publishes nothing more', async () => {
    await freezeTheLeader(fleet!);
  });

  it('an influxd stopped under write load: both proxies see it down via the sentinel and spool; back up, they replay one at a time and every point arrives exactly once', async () => {
    await backendOutage(fleet!, 'outage_redis');
  });

  it('SIGTERM: the leader resigns and exits 0, and the other takes over at once', async () => {
    const { leader, follower } = await leaderOf(fleet!);
    const stoppedAt = Date.now();
    expect(await leader.stop()).toBe(0);
    const took = await waitUntil(async () => ((await role(follower)) === 'leader' ? Date.now() - stoppedAt : undefined), {
      attempts: 100,
      intervalMs: 25,
    });
    expect(took).toBeLessThan(LEADER_TTL_MS); // no waiting for the lock to expire
    expect(leader.output()).toMatch(/resigned the leadership/);
    expect(await redis.command('GET', 'influxdb-proxy:sentinel:member:' + leader.name)).toBeNull();
  });
});

describe('a sentinel on a config file', () => {
  it('leads alone, probes the backends and serves /meta and /health (nothing is shared)', async () => {
    const dir = await makeTempDir('sentinel-file');
    try {
      const file = path.join(dir, 'config.json');
      await fs.promises.writeFile(file, JSON.stringify(clusterConfig((await freePorts(2)) as [number, number])));
      const solo = await startSentinel({ store: ['--config', file], name: 'solo', extraArgs: SENTINEL_FLAGS });
      const m = await waitUntil(async () => {
        const j = await solo.meta();
        return j.backends.a.up === true && j.backends.b.up === true ? j : undefined;
      });
      expect(m).toMatchObject({ name: 'solo', role: 'leader', leader: 'solo', provider: { kind: 'file', address: file } });
      expect(Object.keys(m.sentinels)).toEqual(['solo']);
      expect(m.proxies).toEqual({});
      expect(solo.output()).toMatch(/the file config store shares nothing/);
      expect(await solo.stop()).toBe(0);
    } finally {
      await removeDir(dir);
    }
  });
});
