/**
 * The control plane end to end: config.py writes the config into a real redis-server or etcd, proxies
 * started on that store serve it, follow live changes (keymaps, backends), refuse invalid ones, survive
 * the store going away, and list each other in /meta through membership records with a TTL.
 *
 * Two real influxd: a → db "dba", b → db "dbb"; every data assertion queries them directly. Each test has
 * its own redis-server (they start in milliseconds) or its own etcd prefix, and its own measurements.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Etcd, startEtcd } from './support/etcd';
import { HttpResponse, request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort, freePorts } from './support/ports';
import { REPO_ROOT, sleep, stopAll, waitUntil } from './support/processes';
import { PROXY_BIN, ProxyConfig, ProxyProcess, reload, startProxy } from './support/proxy-process';
import { Redis, startRedis } from './support/redis';

const PROXY_DB = 'mydb';
const DB_A = 'dba';
const DB_B = 'dbb';
const CHANNEL = 'influxdb-proxy:config-changed';
const TTL = 3;

let A: Influxd;
let B: Influxd;
let etcd: Etcd;
let tmp: string;

beforeAll(async () => {
  [A, B, etcd] = await Promise.all([startInfluxd(), startInfluxd(), startEtcd()]);
  await Promise.all([A.createDatabase(DB_A), B.createDatabase(DB_B)]);
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'influxdb-proxy-e2e-control-'));
});

afterAll(async () => {
  await stopAll();
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// config and stores

type BackendName = 'a' | 'b';

function cluster(
  proxies: Record<string, number>,
  keymaps: Record<string, BackendName[]>,
  backends: BackendName[] = ['a', 'b'],
  extra: Partial<Record<BackendName, Record<string, unknown>>> = {},
): ProxyConfig {
  const backend = (influxd: Influxd, db: string) => ({
    url: influxd.url,
    db,
    zone: 'z',
    interval: 20,
    timeout: 5_000,
    checkInterval: 500,
    rewriteInterval: 500,
  });
  const all = { a: backend(A, DB_A), b: backend(B, DB_B) };
  return {
    backends: Object.fromEntries(backends.map((n) => [n, { ...all[n], ...(extra[n] ?? {}) }])),
    keymaps,
    proxies: Object.fromEntries(
      Object.entries(proxies).map(([name, port]) => [name, { listenAddr: `127.0.0.1:${port}`, db: PROXY_DB, zone: 'z' }]),
    ),
  };
}

let configFiles = 0;

/** Runs `python3 config.py ARGS -f <config as JSON>`; resolves with its output, fails on a non-zero exit. */
async function configPy(args: string[], config: ProxyConfig): Promise<string> {
  const file = path.join(tmp, `config-${++configFiles}.json`);
  await fs.promises.writeFile(file, JSON.stringify(config));
  return new Promise((resolve, reject) => {
    execFile('python3', [path.join(REPO_ROOT, 'config.py'), ...args, '-f', file], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`config.py ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** One store under test, seen through the flags a proxy takes and what config.py does to it. */
interface Store {
  kind: 'redis' | 'etcd';
  /** Flags choosing this store on the proxy's command line. */
  flags: string[];
  /** config.py: replaces the whole config and notifies the proxies. */
  push(config: ProxyConfig): Promise<string>;
  /** Writes one raw value behind config.py's back (section: backends | keymaps | proxies). */
  putRaw(section: 'backends' | 'keymaps' | 'proxies', name: string, text: string): Promise<void>;
  deleteRaw(section: 'backends' | 'keymaps' | 'proxies', name: string): Promise<void>;
  /** Kills the store's server (SIGKILL). */
  kill(): Promise<void>;
  /** Starts it again on the same port (Redis runs without persistence here: its data is gone). */
  restart(): Promise<void>;
}

const REDIS_KEY = { backends: 'b:', keymaps: 'm:', proxies: 'n:' } as const;

async function redisStore(redis?: Redis): Promise<Store & { redis: Redis }> {
  const r = redis ?? (await startRedis());
  const auth = r.password ? ['-P', r.password] : [];
  return {
    kind: 'redis',
    redis: r,
    flags: ['-redis', `${r.host}:${r.port}`, ...(r.password ? ['--redis-pwd', r.password] : [])],
    push: (config) => configPy(['-H', r.host, '-p', String(r.port), ...auth], config),
    async putRaw(section, name, text) {
      await r.command('HSET', REDIS_KEY[section], name, text);
      await r.command('PUBLISH', CHANNEL, '{"db":0}');
    },
    async deleteRaw(section, name) {
      await r.command('HDEL', REDIS_KEY[section], name);
      await r.command('PUBLISH', CHANNEL, '{"db":0}');
    },
    kill: async () => void (await r.kill('SIGKILL')),
    restart: () => r.restart(),
  };
}

let prefixes = 0;

function etcdStore(): Store & { prefix: string } {
  const prefix = `/ip-test-${++prefixes}/`;
  return {
    kind: 'etcd',
    prefix,
    flags: ['--etcd', etcd.url, '--etcd-prefix', prefix],
    push: (config) => configPy(['--etcd', etcd.url, '--prefix', prefix], config),
    putRaw: (section, name, text) => etcd.put(`${prefix}${section}/${name}`, text),
    deleteRaw: (section, name) => etcd.delete(`${prefix}${section}/${name}`),
    kill: async () => void (await etcd.kill('SIGKILL')),
    restart: () => etcd.restart(),
  };
}

function makeStore(kind: 'redis' | 'etcd'): Promise<Store> {
  return kind === 'redis' ? redisStore() : Promise.resolve(etcdStore());
}

function startOn(store: Store, port: number, node = 'p1', extra: string[] = []): Promise<ProxyProcess> {
  return startProxy({
    store: store.flags,
    listenAddr: `127.0.0.1:${port}`,
    node,
    extraArgs: ['--membership-ttl', String(TTL), ...extra],
  });
}

// ---------------------------------------------------------------------------------------------
// proxies and data

function write(proxy: ProxyProcess, body: string): Promise<HttpResponse> {
  return request(`${proxy.url}/write?db=${PROXY_DB}`, { method: 'POST', body });
}

async function expectWritten(proxy: ProxyProcess, body: string): Promise<void> {
  const res = await write(proxy, body);
  if (res.status !== 204) {
    throw new Error(`write answered ${res.status} ${res.text}\n--- proxy output ---\n${proxy.output().slice(-4000)}`);
  }
}

async function meta(proxy: ProxyProcess): Promise<any> {
  const res = await request(`${proxy.url}/meta`);
  if (res.status !== 200) throw new Error(`/meta answered ${res.status} ${res.text}`);
  return res.json();
}

function metaUntil(proxy: ProxyProcess, what: string, ok: (m: any) => boolean, attempts = 100): Promise<any> {
  return waitUntil(
    async () => {
      const m = await meta(proxy);
      return ok(m) ? m : undefined;
    },
    { attempts, intervalMs: 100, what: `${proxy.url}/meta to show ${what}`, details: () => proxy.output() },
  );
}

/** `seq` values of `measurement` on each backend (field seq, one point per write). */
async function placement(measurement: string): Promise<{ a: number[]; b: number[] }> {
  const [a, b] = await Promise.all([A.rows(`SELECT seq FROM "${measurement}"`, DB_A), B.rows(`SELECT seq FROM "${measurement}"`, DB_B)]);
  return { a: a.map((r) => Number(r.seq)), b: b.map((r) => Number(r.seq)) };
}

const T0 = 1_700_000_000_000_000_000n;

/** Writes one point at a time through the proxy (seq 0, 1, 2, …) until stopped; records what was acknowledged. */
class WriteFlow {
  /** The next seq to be issued. */
  next = 0;
  readonly acked: number[] = [];
  readonly failures: string[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly proxy: ProxyProcess,
    private readonly measurement: string,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const seq = this.next++;
      try {
        const res = await write(this.proxy, `${this.measurement} seq=${seq}i ${T0 + BigInt(seq) * 1000n}`);
        if (res.status === 204) this.acked.push(seq);
        else this.failures.push(`seq ${seq}: ${res.status} ${res.text}`);
      } catch (err) {
        this.failures.push(`seq ${seq}: ${(err as Error).message}`);
      }
      await sleep(5);
    }
  }

  /** Waits until `count` more writes than now have been acknowledged. */
  async more(count: number): Promise<void> {
    const target = this.acked.length + count;
    await waitUntil(async () => this.acked.length >= target || this.failures.length > 0, {
      attempts: 200,
      intervalMs: 25,
      what: `${count} more acknowledged writes`,
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Every acknowledged write is on exactly one backend of `allowed`, and nowhere else. */
function expectNothingLost(flow: WriteFlow, where: { a: number[]; b: number[] }): void {
  expect(flow.failures).toEqual([]);
  const a = new Set(where.a);
  const b = new Set(where.b);
  const missing = flow.acked.filter((s) => !a.has(s) && !b.has(s));
  expect(missing).toEqual([]);
}

// ---------------------------------------------------------------------------------------------

describe('configuration stores', () => {
  it('config.py writes the config into Redis and a proxy started on it serves that config', async () => {
    const store = await redisStore();
    const r = store.redis;
    const port = await freePort();
    const config = cluster({ p1: port }, { cp_redis: ['a'], _default_: ['b'] });

    const dry = await configPy(['-H', r.host, '-p', String(r.port), '-d', '3', '--dry-run'], config);
    expect(dry).toContain('dry run, not written');
    expect(dry).toContain(`HSET b: a {`);
    expect(dry).toContain('HSET m: cp_redis ["a"]');
    expect(await r.command('DBSIZE')).toBe(0);

    const out = await configPy(['-H', r.host, '-p', String(r.port), '-d', '3'], config);
    expect(out).toContain('Redis 127.0.0.1');
    expect(out).toContain('HSET n: p1 {');
    expect(out).toMatch(/written; 0 proxies notified on influxdb-proxy:config-changed/);
    expect(await r.command('HLEN', 'b:')).toBe(0); // db 0 untouched: it went to -d 3

    const proxy = await startProxy({
      store: ['--redis', `redis://127.0.0.1:${r.port}/3`],
      listenAddr: `127.0.0.1:${port}`,
    });
    const m = await meta(proxy);
    expect(m.provider).toEqual({ kind: 'redis', address: `redis://127.0.0.1:${r.port}/3` });
    expect(m.measurementToBackends).toEqual({ cp_redis: ['a'], _default_: ['b'] });
    expect(Object.keys(m.backends).sort()).toEqual(['a', 'b']);
    expect(m.backendStatus).toEqual({ a: true, b: true });

    await expectWritten(proxy, `cp_redis seq=1i ${T0}\ncp_other seq=2i ${T0}`);
    expect(await placement('cp_redis')).toEqual({ a: [1], b: [] });
    expect(await placement('cp_other')).toEqual({ a: [], b: [2] });
    await proxy.stop();
  });

  it('config.py writes the config into etcd and a proxy started on it serves that config', async () => {
    const store = etcdStore();
    const port = await freePort();
    const out = await store.push(cluster({ p1: port }, { cp_etcd: ['b'], _default_: ['a'] }));
    expect(out).toContain(`PUT ${store.prefix}backends/a {`);
    expect(out).toContain(`PUT ${store.prefix}keymaps/cp_etcd ["b"]`);
    expect(await etcd.get(`${store.prefix}keymaps/cp_etcd`)).toBe('["b"]');

    const proxy = await startOn(store, port);
    const m = await meta(proxy);
    expect(m.provider).toEqual({ kind: 'etcd', address: `${etcd.url} prefix ${store.prefix}` });
    expect(m.measurementToBackends).toEqual({ cp_etcd: ['b'], _default_: ['a'] });

    await expectWritten(proxy, `cp_etcd seq=1i ${T0}\ncp_etcd_other seq=2i ${T0}`);
    expect(await placement('cp_etcd')).toEqual({ a: [], b: [1] });
    expect(await placement('cp_etcd_other')).toEqual({ a: [2], b: [] });

    // a second push replaces the whole config: keys that are no longer there are deleted
    const again = await store.push(cluster({ p1: port }, { _default_: ['a'] }));
    expect(again).toContain(`DELETE ${store.prefix}keymaps/cp_etcd`);
    await metaUntil(proxy, 'cp_etcd gone from the keymaps', (j) => !('cp_etcd' in j.measurementToBackends));
    await proxy.stop();
  });

  it('start-up with an unreachable store fails fast with a message naming it', async () => {
    const port = await freePort();
    for (const flags of [
      ['--redis', `127.0.0.1:${port}`],
      ['--etcd', `http://127.0.0.1:${port}`],
    ]) {
      const started = Date.now();
      const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
        execFile(PROXY_BIN, [...flags, '--spool-dir', path.join(tmp, 'spool-failfast')], { timeout: 20_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, output: stdout + stderr }),
        );
      });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(new RegExp(`cannot start: cannot reach the config store (Redis|etcd) .*127\\.0\\.0\\.1:${port}`));
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  });
});

describe.each(['redis', 'etcd'] as const)('live reconfiguration from %s', (kind) => {
  it(`changes a keymap while writes flow: the next write follows it and nothing is lost`, async () => {
    const store = await makeStore(kind);
    const port = await freePort();
    const m = `km_${kind}`;
    await store.push(cluster({ p1: port }, { [m]: ['a'], _default_: ['a'] }));
    const proxy = await startOn(store, port);

    const flow = new WriteFlow(proxy, m);
    await flow.more(10);
    const beforeChange = flow.next;
    await store.push(cluster({ p1: port }, { [m]: ['b'], _default_: ['a'] }));
    await metaUntil(proxy, `${m} → b`, (j) => j.measurementToBackends[m]?.[0] === 'b');
    const afterChange = flow.next;
    await flow.more(10);
    await flow.stop();

    const where = await placement(m);
    expectNothingLost(flow, where);
    expect(where.a.length + where.b.length).toBe(flow.acked.length); // and nothing twice
    expect(where.a.filter((s) => s >= afterChange)).toEqual([]); // every write after the change went to b
    expect(where.b.filter((s) => s < beforeChange)).toEqual([]);
    expect(where.b).toEqual(expect.arrayContaining(flow.acked.filter((s) => s >= afterChange)));
    await proxy.stop();
  });

  it('changes a backend’s settings while writes flow: its replacement takes over without refusing one write', async () => {
    const store = await makeStore(kind);
    const port = await freePort();
    const measurements = [0, 1, 2, 3].map((i) => `chg_${kind}_${i}`);
    const keymaps = Object.fromEntries(measurements.map((m) => [m, ['a'] as BackendName[]]));
    await store.push(cluster({ p1: port }, { ...keymaps, _default_: ['a'] }, ['a']));
    const proxy = await startOn(store, port);

    const flows = measurements.map((m) => new WriteFlow(proxy, m));
    await Promise.all(flows.map((f) => f.more(5)));
    // each change replaces backend a (same name, so the same spool directory) while four writers keep going
    for (const timeout of [5_001, 5_002, 5_003, 5_004, 5_005]) {
      await store.push(cluster({ p1: port }, { ...keymaps, _default_: ['a'] }, ['a'], { a: { timeout } }));
      await metaUntil(proxy, `backend a with timeout ${timeout}`, (j) => j.backends.a?.timeout === timeout);
      await Promise.all(flows.map((f) => f.more(3)));
    }
    await Promise.all(flows.map((f) => f.stop()));

    for (const [i, flow] of flows.entries()) {
      const where = await placement(measurements[i]);
      expectNothingLost(flow, where);
      expect(where.a.sort((x, y) => x - y)).toEqual(flow.acked);
    }
    await proxy.stop();
  });

  it('adds and removes a backend while writes flow: the new one receives, the removed one is drained, nothing lost', async () => {
    const store = await makeStore(kind);
    const port = await freePort();
    const m = `addrm_${kind}`;
    await store.push(cluster({ p1: port }, { [m]: ['a'], _default_: ['a'] }, ['a']));
    const proxy = await startOn(store, port);
    expect(Object.keys((await meta(proxy)).backends)).toEqual(['a']);

    const flow = new WriteFlow(proxy, m);
    await flow.more(5);
    // add b: etcd key by key (backend first, then the keymap naming it); Redis through config.py
    if (kind === 'etcd') {
      await store.putRaw('backends', 'b', JSON.stringify(cluster({}, {}).backends.b));
      await store.putRaw('keymaps', m, '["a","b"]');
    } else {
      await store.push(cluster({ p1: port }, { [m]: ['a', 'b'], _default_: ['a'] }));
    }
    await metaUntil(proxy, 'backend b added', (j) => j.backendStatus.b === true && j.measurementToBackends[m]?.length === 2);
    const added = flow.next;
    await flow.more(10);
    const removing = flow.next;
    if (kind === 'etcd') {
      await store.putRaw('keymaps', m, '["a"]');
      await store.deleteRaw('backends', 'b');
    } else {
      await store.push(cluster({ p1: port }, { [m]: ['a'], _default_: ['a'] }, ['a']));
    }
    await metaUntil(proxy, 'backend b removed', (j) => !('b' in j.backends) && !('b' in j.backendStatus));
    const removed = flow.next;
    await flow.more(5);
    await flow.stop();

    const where = await placement(m);
    expectNothingLost(flow, where);
    expect(where.a.sort((x, y) => x - y)).toEqual(flow.acked); // a held the measurement all along
    // b got every write acknowledged while it was in the keymap (drained, not dropped) and none after
    const whileB = flow.acked.filter((s) => s >= added && s < removing);
    expect(whileB.length).toBeGreaterThan(0);
    expect(where.b).toEqual(expect.arrayContaining(whileB));
    expect(where.b.filter((s) => s >= removed)).toEqual([]);
    await proxy.stop();
  });

  it('refuses an invalid config pushed to the store and keeps serving with the last good one', async () => {
    const store = await makeStore(kind);
    const port = await freePort();
    const m = `inv_${kind}`;
    await store.push(cluster({ p1: port }, { [m]: ['a'], _default_: ['a'] }));
    const proxy = await startOn(store, port);

    await store.putRaw('keymaps', m, '["nope"]');
    await waitUntil(async () => /refused, keeping the last good one: keymaps\.inv_\w+: unknown backend \\"nope\\"/.test(proxy.output()), {
      what: 'the proxy to log that it refused the config',
      details: () => proxy.output(),
    });
    expect((await meta(proxy)).measurementToBackends[m]).toEqual(['a']);
    await expectWritten(proxy, `${m} seq=1i ${T0}`);
    expect(await placement(m)).toEqual({ a: [1], b: [] });

    const res = await reload(proxy.url);
    expect(res.status).toBe(400);
    expect(res.json().error).toBe(`keymaps.${m}: unknown backend "nope"`);

    await store.putRaw('keymaps', m, 'not json');
    await waitUntil(async () => /keymaps\.inv_\w+: not valid JSON/.test(proxy.output()), { what: 'the JSON error to be logged' });
    expect(proxy.isRunning()).toBe(true);

    // a good config after the bad ones is applied
    await store.putRaw('keymaps', m, '["b"]');
    await metaUntil(proxy, `${m} → b`, (j) => j.measurementToBackends[m]?.[0] === 'b');
    await expectWritten(proxy, `${m} seq=2i ${T0 + 1n}`);
    expect(await placement(m)).toEqual({ a: [1], b: [2] });
    await proxy.stop();
  });

  it('survives the store restarting under it and picks up a change made after the restart', async () => {
    const store = await makeStore(kind);
    const port = await freePort();
    const m = `rst_${kind}`;
    await store.push(cluster({ p1: port }, { [m]: ['a'], _default_: ['a'] }));
    const proxy = await startOn(store, port);
    await expectWritten(proxy, `${m} seq=1i ${T0}`);

    await store.kill();
    // still serving: writes, pings and /meta (membership shows the last list read, with the error)
    await expectWritten(proxy, `${m} seq=2i ${T0 + 1n}`);
    expect((await request(`${proxy.url}/ping`)).status).toBe(204);
    expect((await meta(proxy)).measurementToBackends[m]).toEqual(['a']);
    await waitUntil(async () => /unreachable .*serving with the last good config/.test(proxy.output()), {
      what: 'the outage to be logged',
      details: () => proxy.output(),
    });

    await store.restart();
    await store.push(cluster({ p1: port }, { [m]: ['b'], _default_: ['a'] }));
    await metaUntil(proxy, `${m} → b after the restart`, (j) => j.measurementToBackends[m]?.[0] === 'b', 150);
    await expectWritten(proxy, `${m} seq=3i ${T0 + 2n}`);
    expect(await placement(m)).toEqual({ a: [1, 2], b: [3] });
    // its membership record is back too (Redis lost it with the restart)
    await metaUntil(proxy, 'p1 listed again', (j) => j.proxies.p1.alive === true && j.membership.error === undefined, 150);
    await proxy.stop();
  });
});

describe.each(['redis', 'etcd'] as const)('membership in %s', (kind) => {
  it('lists proxies sharing the store in each one’s /meta; killed -9 disappears after its TTL, stopped gracefully at once', async () => {
    const store = await makeStore(kind);
    const [port1, port2, port3] = await freePorts(3);
    await store.push(cluster({ p1: port1, p2: port2, p3: port3 }, { _default_: ['a', 'b'] }));
    const [p1, p2, p3] = await Promise.all([startOn(store, port1, 'p1'), startOn(store, port2, 'p2'), startOn(store, port3, 'p3')]);

    for (const proxy of [p1, p2, p3]) {
      const m = await metaUntil(proxy, 'three live proxies', (j) => ['p1', 'p2', 'p3'].every((n) => j.proxies[n]?.alive));
      expect(m.proxies.p2).toMatchObject({
        configured: true,
        alive: true,
        address: `127.0.0.1:${port2}`,
        listenAddr: `127.0.0.1:${port2}`,
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        backlog: { a: { records: 0, bytes: 0, oldestAt: null }, b: { records: 0, bytes: 0, oldestAt: null } },
      });
      expect(Date.now() - m.proxies.p2.lastSeen).toBeLessThan(TTL * 1000);
      expect(m.membership).toEqual({ scope: 'store', ttl: TTL });
    }

    const killed = Date.now();
    await p2.kill('SIGKILL');
    // its record outlives it until the TTL runs out (the last heartbeat was at most TTL/3 ago)
    expect((await meta(p1)).proxies.p2.alive).toBe(true);

    await p3.stop();
    const afterStop = await meta(p1);
    expect(afterStop.proxies.p3.alive).toBe(false); // deregistered on the way out
    expect(afterStop.proxies.p3.lastSeen).toBeNull();

    await metaUntil(p1, 'p2 expired', (j) => j.proxies.p2.alive === false, 100);
    const gone = Date.now() - killed;
    expect(gone).toBeGreaterThan(1_000);
    expect(gone).toBeLessThan(TTL * 1000 + 3_000);
    expect((await meta(p1)).proxies.p1.alive).toBe(true);
    await p1.stop();
  });
});

describe('secrets', () => {
  it('never shows a password in /meta: backend passwords, URL credentials, the Redis password', async () => {
    const secrets = ['redis-S3cret', 'backend-S3cret', 'url-S3cret'];
    const store = await redisStore(await startRedis({ password: 'redis-S3cret' }));
    const port = await freePort();
    const config = cluster({ p1: port }, { sec: ['a', 'b'] }, ['a', 'b'], {
      a: { username: 'writer', password: 'backend-S3cret' },
      b: { url: B.url.replace('http://', 'http://writer:url-S3cret@') },
    });
    const out = await store.push(config);
    for (const s of secrets) expect(out).not.toContain(s);

    const proxy = await startOn(store, port);
    await expectWritten(proxy, `sec seq=1i ${T0}`);
    expect(await placement('sec')).toEqual({ a: [1], b: [1] });

    const res = await request(`${proxy.url}/meta`);
    expect(res.status).toBe(200);
    for (const s of secrets) expect(res.text).not.toContain(s);
    const m = res.json();
    expect(m.backends.a.password).toBe('******');
    expect(m.backends.a.username).toBe('writer');
    expect(m.backends.b.url).toContain('writer:******@');
    expect(m.provider.address).toBe(`redis://127.0.0.1:${store.redis.port}/0`);
    await proxy.stop();
  });
});
