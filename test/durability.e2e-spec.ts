/**
 * The write contract under real faults: two real influxd behind the proxy, every line routed to both,
 * a steady write load from the test, and after each drill an exact comparison — every point the proxy
 * acknowledged with 204 is on every backend (influxd keeps one point per series and timestamp, so a
 * replayed duplicate cannot inflate the count; we compare sets of timestamps).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { sleep, stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'mydb';
let A: Influxd;
let B: Influxd;

function config(port: number, backendExtra: Record<string, unknown> = {}): ProxyConfig {
  const backend = (url: string, db: string) => ({
    url,
    db,
    timeout: 1_000,
    checkInterval: 200,
    rewriteInterval: 200,
    downAfter: 2,
    upAfter: 2,
    ...backendExtra,
  });
  return {
    backends: { a: backend(A.url, 'dba'), b: backend(B.url, 'dbb') },
    keymaps: { _default_: ['a', 'b'] },
    proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db: DB, idleTimeout: 10 } },
  };
}

/** Posts batches of `lines` points (unique timestamps) in a loop until stopped; remembers which were acknowledged. */
class WriteLoad {
  readonly acked: bigint[] = [];
  readonly statuses = new Map<number, number>();
  private next = 0n;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly proxyUrl: () => string,
    private readonly measurement: string,
    private readonly lines = 200,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    const base = 1_700_000_000_000_000_000n;
    for (let i = 0; this.running && i < 100_000; i++) {
      const stamps: bigint[] = [];
      let body = '';
      for (let j = 0; j < this.lines; j++) {
        const ts = base + this.next++ * 1000n;
        stamps.push(ts);
        body += `${this.measurement},load=1 v=${j}i ${ts}\n`;
      }
      let status = 0;
      try {
        status = (await request(`${this.proxyUrl()}/write?db=${DB}`, { method: 'POST', body, timeoutMs: 15_000 })).status;
      } catch {
        status = -1; // connection refused or reset: the proxy is down or restarting
        await sleep(50);
      }
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      if (status === 204) this.acked.push(...stamps);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

async function timestamps(influxd: Influxd, db: string, measurement: string): Promise<Set<bigint>> {
  const rows = await influxd.rows(`SELECT v FROM "${measurement}"`, db);
  return new Set(rows.map((r) => r.time));
}

/** Waits until every acknowledged point is on both backends (replay may take a moment), then checks exactly. */
async function expectAllAcknowledgedOnBothBackends(load: WriteLoad, measurement: string): Promise<void> {
  expect(load.acked.length).toBeGreaterThan(0);
  for (const [influxd, db] of [
    [A, 'dba'],
    [B, 'dbb'],
  ] as const) {
    const missing = await waitUntil(
      async () => {
        const present = await timestamps(influxd, db, measurement);
        const lost = load.acked.filter((ts) => !present.has(ts));
        return lost.length === 0 ? lost : false;
      },
      { attempts: 300, intervalMs: 200, what: `every acknowledged ${measurement} point on ${db}` },
    );
    expect(missing).toEqual([]);
  }
}

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
});

afterAll(stopAll);

let proxy: ProxyProcess;
afterEach(async () => {
  await proxy?.stop();
  if (!B.isRunning()) await B.restart();
});

it('loses no acknowledged point when a backend is killed with -9 mid-load and restarted', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const load = new WriteLoad(() => proxy.url, 'kill9');
  await sleep(500);
  await B.kill('SIGKILL');
  await sleep(1_500);
  await B.restart();
  await sleep(1_000);
  await load.stop();
  expect(load.statuses.get(503) ?? 0).toBe(0); // the spool takes the outage: no 503
  await expectAllAcknowledgedOnBothBackends(load, 'kill9');
});

it('loses no acknowledged point when a backend hangs (SIGSTOP) past the write timeout', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const load = new WriteLoad(() => proxy.url, 'hung');
  await sleep(500);
  process.kill(B.pid, 'SIGSTOP');
  try {
    await sleep(3_000); // write timeout is 1 s
  } finally {
    process.kill(B.pid, 'SIGCONT');
  }
  await sleep(1_000);
  await load.stop();
  await expectAllAcknowledgedOnBothBackends(load, 'hung');
});

it('delivers every acknowledged point when the proxy gets SIGTERM mid-load and is restarted', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const load = new WriteLoad(() => proxy.url, 'sigterm');
  await sleep(800);
  proxy.signal('SIGTERM');
  const exit = await proxy.exited();
  expect(exit.code).toBe(0);
  await proxy.restart();
  await sleep(500);
  await load.stop();
  await expectAllAcknowledgedOnBothBackends(load, 'sigterm');
});

it('replays after kill -9 of the proxy while a backend was down', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  await B.kill('SIGKILL');
  const load = new WriteLoad(() => proxy.url, 'crash');
  await sleep(1_500);
  await proxy.kill('SIGKILL'); // acknowledged points for b exist only in its spool now
  await load.stop();
  const spooled = fs.readdirSync(path.join(proxy.spoolDir, 'b'));
  expect(spooled.length).toBeGreaterThan(0);
  await B.restart();
  await proxy.restart();
  await expectAllAcknowledgedOnBothBackends(load, 'crash');
});

it('recovers from a torn spool tail on start-up and still delivers every whole record', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  await B.kill('SIGKILL');
  const load = new WriteLoad(() => proxy.url, 'torn');
  await sleep(1_000);
  await load.stop();
  await proxy.kill('SIGKILL');
  // a crash in the middle of an append: garbage after the last whole record
  const dir = path.join(proxy.spoolDir, 'b');
  const segments = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();
  expect(segments.length).toBeGreaterThan(0);
  fs.appendFileSync(path.join(dir, segments[segments.length - 1]), Buffer.from('\x01\x02torn-record-garbage'));
  await B.restart();
  await proxy.restart();
  await expectAllAcknowledgedOnBothBackends(load, 'torn');
  expect(proxy.output()).toMatch(/torn or corrupt tail/);
  const health = await request(`${proxy.url}/ping`);
  expect(health.status).toBe(204);
});

it('answers 503 "spool full for backend b" once the spool reaches its cap, and never drops silently', async () => {
  proxy = await startProxy({ config: config(await freePort(), { spoolMaxBytes: 64 * 1024 }) });
  await B.kill('SIGKILL');
  let full: { status: number; error: string } | undefined;
  for (let i = 0; i < 200 && !full; i++) {
    let body = '';
    for (let j = 0; j < 100; j++) body += `full,load=1 v=${j}i ${1_700_000_000_000_000_000n + BigInt(i * 100 + j)}\n`;
    const res = await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body });
    if (res.status !== 204) full = { status: res.status, error: res.json().error };
  }
  expect(full).toEqual({ status: 503, error: 'spool full for backend b' });
});

it('shows the spool backlog in /meta while a backend is down, and an empty spool once replayed', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  await B.kill('SIGKILL');
  const load = new WriteLoad(() => proxy.url, 'meta', 50);
  await sleep(800);
  await load.stop();
  const spoolOf = async () => (await request(`${proxy.url}/meta`)).json().backendDetail.b.spool;
  const during = await spoolOf();
  expect(during.records).toBeGreaterThan(0);
  expect(during.bytes).toBeGreaterThan(0);
  expect(during.oldestAgeMs).toBeGreaterThanOrEqual(0);
  expect((await request(`${proxy.url}/meta`)).json().backendStatus.b).toBe(false);
  await B.restart();
  await expectAllAcknowledgedOnBothBackends(load, 'meta');
  const after = await waitUntil(async () => {
    const s = await spoolOf();
    return s.records === 0 ? s : false;
  });
  expect(after).toMatchObject({ records: 0, bytes: 0, oldestAgeMs: null });
  expect(after.replayedRecords).toBeGreaterThan(0);
});

it('in buffered ack mode answers before delivery and still delivers through the spool', async () => {
  const cfg = config(await freePort());
  cfg.proxies.p1.ackMode = 'buffered';
  proxy = await startProxy({ config: cfg });
  process.kill(B.pid, 'SIGSTOP'); // b hangs: a durable write would wait for its 1 s timeout
  const spoolOfB = async () => (await request(`${proxy.url}/meta`)).json().backendDetail.b.spool;
  let load: WriteLoad;
  try {
    const res = await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body: 'buffered v=1i 1700000000000000000\n' });
    expect(res.status).toBe(204);
    // Answered before delivery: the hung b cannot have acknowledged the line, and its batch is not yet in
    // b's spool either (that takes the 1 s write timeout) — a durable 204 would come only after that fsync.
    expect((await spoolOfB()).records).toBe(0);
    load = new WriteLoad(() => proxy.url, 'buffered', 50);
    // keep the load on while b hangs, until batches that timed out on b have gone to its spool
    await waitUntil(async () => (await spoolOfB()).records > 0 && load.acked.length > 0, {
      attempts: 100,
      intervalMs: 100,
      what: "b's timed-out batches in its spool while the load runs",
      details: () => proxy.output(),
    });
  } finally {
    process.kill(B.pid, 'SIGCONT');
  }
  await load.stop();
  await expectAllAcknowledgedOnBothBackends(load, 'buffered');
  // SIGTERM drains what is buffered before exiting
  expect(await proxy.stop()).toBe(0);
});

it('in buffered ack mode counts and logs each batch lost after its 204 (a full spool), and gives its memory back', async () => {
  const cfg = config(await freePort(), { spoolMaxBytes: 64 * 1024 });
  cfg.proxies.p1.ackMode = 'buffered';
  // 100 writes of about 4 KB: bytes still held for lost batches would fill this and turn writes into 503s
  cfg.proxies.p1.maxBufferedWriteBytes = 128 * 1024;
  proxy = await startProxy({ config: cfg });
  await B.kill('SIGKILL');
  const statuses: number[] = [];
  for (let i = 0; i < 100; i++) {
    let body = '';
    for (let j = 0; j < 100; j++) body += `lost,load=1 v=${j}i ${1_700_000_000_000_000_000n + BigInt(i * 100 + j)}\n`;
    statuses.push((await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body })).status);
  }
  expect(new Set(statuses)).toEqual(new Set([204]));
  const lost = await waitUntil(
    async () => {
      const m = /influxdb_proxy_batches_lost_after_ack_total\{backend="b"\} (\d+)/.exec((await request(`${proxy.url}/metrics`)).text);
      return m && Number(m[1]) > 0 ? Number(m[1]) : false;
    },
    { what: 'batches lost after ack counted for b', details: () => proxy.output() },
  );
  expect(proxy.output()).toMatch(/buffered write \S+: backend b lost a batch: spool full for backend b/);
  expect(lost).toBeLessThanOrEqual(100);
  expect((await request(`${proxy.url}/metrics`)).text).not.toMatch(/influxdb_proxy_batches_lost_after_ack_total\{backend="a"\} [1-9]/);
  // a took every line
  expect((await timestamps(A, 'dba', 'lost')).size).toBe(100 * 100);
});

/** influxd's count of /write requests it served (its /debug/vars httpd statistics). */
async function writeRequestsServed(influxd: Influxd): Promise<number> {
  const vars = (await request(`${influxd.url}/debug/vars`)).json() as Record<string, { name?: string; values?: { writeReq?: number } }>;
  const httpd = Object.values(vars).find((v) => v?.name === 'httpd');
  if (typeof httpd?.values?.writeReq !== 'number') throw new Error('no httpd writeReq in /debug/vars');
  return httpd.values.writeReq;
}

it("in buffered ack mode gathers small writes for the backend's interval into one backend write, and SIGTERM sends what waits", async () => {
  const cfg = config(await freePort(), { interval: 3_000 });
  cfg.proxies.p1.ackMode = 'buffered';
  proxy = await startProxy({ config: cfg });
  const base = 1_700_000_100_000_000_000n;
  const stamps = Array.from({ length: 40 }, (_, i) => base + BigInt(i) * 1000n);
  const before = await Promise.all([writeRequestsServed(A), writeRequestsServed(B)]);
  const statuses = await Promise.all(
    stamps.map((ts, i) =>
      request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body: `lingered v=${i}i ${ts}\n` }).then((r) => r.status),
    ),
  );
  expect(statuses).toEqual(stamps.map(() => 204));
  // answered at once, and still gathering: nothing has reached a backend yet
  expect((await timestamps(A, 'dba', 'lingered')).size).toBe(0);
  const load = { acked: stamps } as unknown as WriteLoad;
  await expectAllAcknowledgedOnBothBackends(load, 'lingered');
  const after = await Promise.all([writeRequestsServed(A), writeRequestsServed(B)]);
  expect([after[0] - before[0], after[1] - before[1]]).toEqual([1, 1]); // 40 writes, one backend write each

  // what still waits for its interval when SIGTERM comes is sent before the proxy exits
  const late = Array.from({ length: 5 }, (_, i) => base + 1_000_000n + BigInt(i) * 1000n);
  for (const [i, ts] of late.entries()) {
    expect((await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body: `lingered v=${i}i ${ts}\n` })).status).toBe(204);
  }
  expect(await proxy.stop()).toBe(0);
  for (const [influxd, db] of [
    [A, 'dba'],
    [B, 'dbb'],
  ] as const) {
    const present = await timestamps(influxd, db, 'lingered');
    expect(late.filter((ts) => !present.has(ts))).toEqual([]);
  }
});

it("in durable ack mode never waits for a backend's interval", async () => {
  const cfg = config(await freePort(), { interval: 5_000 });
  proxy = await startProxy({ config: cfg });
  const started = performance.now();
  const res = await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body: 'durable_interval v=1i 1700000200000000000\n' });
  expect(res.status).toBe(204);
  expect(performance.now() - started).toBeLessThan(2_500);
  // a durable 204: on both backends already
  expect((await timestamps(A, 'dba', 'durable_interval')).size).toBe(1);
  expect((await timestamps(B, 'dbb', 'durable_interval')).size).toBe(1);
});
