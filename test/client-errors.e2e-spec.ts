/**
 * A client's mistake is an answer, not an outage (#12): two real influxd replicas behind the proxy.
 * influxd's client-class answers (a 4xx about the lines, the 500s `retention policy not found` and
 * a measurement name that is not UTF-8) go back to the client as influxd gave them, are never spooled
 * and never mark a backend down; each client gets the answer to its own lines only; an answer that
 * blames the backend's state (its database is gone) keeps the lines until it takes them; a replayed
 * record refused for good is set aside where an operator sees it, never deleted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startEtcd } from './support/etcd';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort, freePorts } from './support/ports';
import { makeTempDir, removeDir, sleep, stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';
import { sentinelFlags, startSentinel } from './support/sentinel-process';

const DB = 'mydb';
let A: Influxd;
let B: Influxd;
let proxy: ProxyProcess;

function config(port: number, backendExtra: Record<string, unknown> = {}): ProxyConfig {
  const backend = (url: string, db: string) => ({
    url,
    db,
    timeout: 2_000,
    checkInterval: 200,
    rewriteInterval: 300,
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

const write = (body: string | Buffer, params = '') =>
  request(`${proxy.url}/write?db=${DB}${params}`, { method: 'POST', body, timeoutMs: 15_000 });
const meta = async () => (await request(`${proxy.url}/meta`)).json();
const countOn = async (influxd: Influxd, db: string, measurement: string, rp = '') => {
  const from = rp ? `"${rp}"."${measurement}"` : `"${measurement}"`;
  const rows = await influxd.rows(`SELECT count(v) FROM ${from}`, db);
  return rows.length ? Number(rows[0].count) : 0;
};

/** Both backends up in this proxy's view, with nothing spooled for either. */
async function expectBothUpAndNothingSpooled(): Promise<void> {
  const m = await meta();
  expect(m.backendStatus).toEqual({ a: true, b: true });
  for (const name of ['a', 'b']) {
    expect(m.backendDetail[name].spool.records).toBe(0);
    expect(m.backendDetail[name].refusing).toBeUndefined();
  }
}

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
});

afterAll(stopAll);

afterEach(async () => {
  await proxy?.stop();
  if (!B.isRunning()) await B.restart();
});

it("answers a write to a missing retention policy with influxd's 500, spools nothing and keeps both backends up", async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const res = await write('cons v=1', '&rp=nosuchrp');
  expect(res.status).toBe(500);
  expect(res.json()).toEqual({ error: 'retention policy not found: nosuchrp' });
  expect(res.headers['x-influxdb-error']).toBe('retention policy not found: nosuchrp');
  // what used to follow: spooled for both, both marked down, queries 503 on every replay attempt
  const until = Date.now() + 4_000;
  while (Date.now() < until) {
    const q = await request(`${proxy.url}/query?db=${DB}&q=${encodeURIComponent('SHOW MEASUREMENTS')}`);
    expect(q.status).toBe(200);
    await expectBothUpAndNothingSpooled();
    await sleep(300);
  }
  expect((await write('cons v=2')).status).toBe(204);
});

it('answers a field type conflict with influxd’s partial write, without spooling it', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  expect((await write('conflict v=1i 1700000000000000000')).status).toBe(204);
  const res = await write('conflict v=1.5 1700000000000000001');
  expect(res.status).toBe(400);
  expect(res.json().error).toBe(
    'partial write: field type conflict: input field "v" on measurement "conflict" is type float, already exists as type integer dropped=1',
  );
  await expectBothUpAndNothingSpooled();
});

it('answers the first write of a measurement name that is not UTF-8 as influxd does (its 500), without marking a backend down', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  // a shard of its own: influxd 1.6 fails to save a new shard's field index over such a name once, then takes it
  const line = (v: number) => Buffer.concat([Buffer.from('utf8bad'), Buffer.from([0xdd]), Buffer.from(` v=${v} 1500000000000000000\n`)]);
  const res = await write(line(1));
  expect(res.status).toBe(500);
  expect(res.json()).toEqual({ error: 'proto: field "tsdb.MeasurementFields.Name" contains invalid UTF-8' });
  // what used to follow: "backend a is down", both spooled, every client's reads moved off them
  await sleep(500);
  await expectBothUpAndNothingSpooled();
  expect((await write(line(2))).status).toBe(204);
  for (const [influxd, db] of [
    [A, 'dba'],
    [B, 'dbb'],
  ] as const) {
    const rows = await influxd.rows('SELECT last(v) FROM /^utf8bad/', db);
    expect(rows.map((r) => r.last)).toEqual([2]);
  }
  await expectBothUpAndNothingSpooled();
});

it('reads an answer whose header carries a control character as the 400 it is', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const res = await write(Buffer.from('ctl v=\x01 1700000000000000000\n', 'latin1'));
  expect(res.status).toBe(400);
  expect(res.json().error).toBe("unable to parse 'ctl v=\u0001 1700000000000000000': invalid boolean");
  await sleep(500);
  await expectBothUpAndNothingSpooled();
});

it("never gives one client another client's error, and writes the good client's points", async () => {
  // one batch in flight per backend: concurrent requests are merged into shared batches
  proxy = await startProxy({ config: config(await freePort(), { concurrency: 1 }) });
  const good: number[] = [];
  const bad: number[] = [];
  const goodErrors: string[] = [];
  const base = 1_700_000_000_000_000_000n;
  const goodClient = async (worker: number) => {
    for (let i = 0; i < 60; i++) {
      const ts = base + BigInt(worker * 1000 + i);
      const res = await write(`shared,client=good v=${i}i ${ts}\n`);
      good.push(res.status);
      if (res.status !== 204) goodErrors.push(res.text);
    }
  };
  const badClient = async () => {
    for (let i = 0; i < 60; i++) {
      const res = await write(`secret,token=HUNTER2 v=abc ${base + BigInt(i)}\nshared,client=bad v=1i ${base + BigInt(i)}\n`);
      bad.push(res.status);
    }
  };
  await Promise.all([goodClient(0), goodClient(1), goodClient(2), badClient()]);
  expect(goodErrors).toEqual([]);
  expect(good.every((s) => s === 204)).toBe(true);
  expect(bad.every((s) => s === 400)).toBe(true);
  for (const [influxd, db] of [
    [A, 'dba'],
    [B, 'dbb'],
  ] as const) {
    const rows = await influxd.rows(`SELECT count(v) FROM shared WHERE client = 'good'`, db);
    expect(Number(rows[0].count)).toBe(180);
  }
  await expectBothUpAndNothingSpooled();
});

it('sets aside a spooled record that the backend refuses for good on replay, and retries it on an operator’s word', async () => {
  await Promise.all([
    A.query(`CREATE RETENTION POLICY short ON dba DURATION 2d REPLICATION 1`),
    B.query(`CREATE RETENTION POLICY short ON dbb DURATION 2d REPLICATION 1`),
  ]);
  const cfg = config(await freePort());
  const spoolDir = await makeTempDir('spool'); // outlives the first proxy process
  proxy = await startProxy({ config: cfg, spoolDir });
  await B.kill('SIGKILL');
  const now = BigInt(Date.now()) * 1_000_000n;
  expect((await write(`poison v=1i ${now}\npoison v=2i ${now + 1n}\n`, '&rp=short')).status).toBe(204);
  expect((await write(`after v=1i ${now}\n`)).status).toBe(204);
  await waitUntil(async () => (await meta()).backendDetail.b.spool.records === 2 || false, { what: 'two records spooled for b' });
  // the proxy stops (its spool stays), b comes back without the rp, the proxy replays to it
  await proxy.stop();
  await B.restart();
  await B.query('DROP RETENTION POLICY short ON dbb');
  proxy = await startProxy({ config: cfg, spoolDir });
  const detail = await waitUntil(
    async () => {
      const d = (await meta()).backendDetail.b;
      return d.spool.records === 0 && d.rejected.records === 1 ? d : false;
    },
    { what: 'the poison record set aside', details: () => proxy.output?.() ?? '' },
  );
  expect(detail.refusing).toBeUndefined();
  expect((await meta()).backendStatus.b).toBe(true);
  expect(await countOn(B, 'dbb', 'after')).toBe(1); // the replay went on past it
  const listed = (await request(`${proxy.url}/admin/rejected?backend=b`)).json();
  expect(listed.backends.b.records).toBe(1);
  expect(listed.backends.b.entries).toEqual([
    expect.objectContaining({
      rp: 'short',
      lines: 2,
      status: 500,
      reason: 'retention policy not found: short',
      firstLine: `poison v=1i ${now}`,
    }),
  ]);
  const metrics = (await request(`${proxy.url}/metrics`)).text;
  expect(metrics).toMatch(/influxdb_proxy_rejected_records\{backend="b"\} 1/);
  expect(metrics).toMatch(/influxdb_proxy_points_set_aside_total\{backend="b"\} 2/);
  // the operator restores the rp and retries: the points arrive
  await B.query(`CREATE RETENTION POLICY short ON dbb DURATION 2d REPLICATION 1`);
  const retried = await request(`${proxy.url}/admin/rejected/retry?backend=b`, { method: 'POST' });
  expect(retried.status).toBe(200);
  expect(retried.json()).toEqual({ b: { records: 1, lines: 2 } });
  await waitUntil(async () => (await countOn(B, 'dbb', 'poison', 'short')) === 2 || false);
  expect((await meta()).backendDetail.b.rejected.records).toBe(0);
  // dropping needs a backend named, and deletes nothing else
  expect((await request(`${proxy.url}/admin/rejected/drop`, { method: 'POST' })).status).toBe(400);
  await proxy.stop();
  await removeDir(spoolDir);
});

it('replays a spooled record holding a measurement name that is not UTF-8 (influxd refuses it once, then takes it) instead of setting it aside', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  await B.kill('SIGKILL');
  // a shard of its own for this case, so that b sees the name for the first time when the record is replayed
  const t = 1400000000000000000n;
  const body = Buffer.concat([Buffer.from(`replay_good v=1 ${t}\nutf8replay`), Buffer.from([0xdd]), Buffer.from(` v=2 ${t}\n`)]);
  // a (up) answers influxd's 500 for the lines it refused; b's copy is spooled
  expect((await write(body)).status).toBe(500);
  await waitUntil(async () => (await meta()).backendDetail.b.spool.records === 1 || false, { what: 'a record spooled for b' });
  await B.restart();
  const detail = await waitUntil(
    async () => {
      const d = (await meta()).backendDetail.b;
      return d.spool.records === 0 ? d : false;
    },
    { what: 'the record replayed to b', details: () => proxy.output?.() ?? '' },
  );
  // before: the first 500 set the whole record aside, the good line with it
  expect(detail.rejected.records).toBe(0);
  expect(detail.spool.rejectedOnReplay).toBe(0);
  expect(await countOn(B, 'dbb', 'replay_good')).toBe(1);
  expect((await B.rows('SELECT count(v) FROM /^utf8replay/', 'dbb')).map((r) => r.count)).toEqual([1]);
});

it('keeps the lines for a replica that alone refuses them (an rp only its peer has), and delivers them once it has it', async () => {
  await A.query('CREATE RETENTION POLICY only_on_a ON dba DURATION 2d REPLICATION 1');
  proxy = await startProxy({ config: config(await freePort()) });
  const now = BigInt(Date.now()) * 1_000_000n;
  // a writes them, b answers 500 retention policy not found: b's state, not the request's
  const res = await write(`lonely v=1i ${now}\nlonely v=2i ${now + 1n}\n`, '&rp=only_on_a');
  expect(res.status).toBe(204);
  expect(await countOn(A, 'dba', 'lonely', 'only_on_a')).toBe(2);
  const b = await waitUntil(
    async () => {
      const d = (await meta()).backendDetail.b;
      return d.refusing ? d : false;
    },
    { what: 'b marked refusing' },
  );
  expect(b.refusing.error).toContain('retention policy not found: only_on_a');
  expect(b.spool.records).toBe(1);
  expect((await meta()).backendStatus).toEqual({ a: true, b: true });
  await B.query('CREATE RETENTION POLICY only_on_a ON dbb DURATION 2d REPLICATION 1');
  await waitUntil(async () => (await countOn(B, 'dbb', 'lonely', 'only_on_a')) === 2 || false, {
    attempts: 300,
    what: 'the kept lines on b',
  });
  await waitUntil(async () => ((await meta()).backendDetail.b.refusing === undefined ? true : false), { what: 'b taking writes again' });
});

it('keeps every acknowledged point for a backend rebuilt without its database, and delivers them once it exists', async () => {
  const cfg = config(await freePort());
  proxy = await startProxy({ config: cfg });
  await B.kill('SIGKILL');
  const base = 1_700_000_000_000_000_000n;
  let acked = 0;
  for (let i = 0; i < 20; i++) {
    let body = '';
    for (let j = 0; j < 50; j++) body += `rebuilt v=${j}i ${base + BigInt(i * 50 + j)}\n`;
    if ((await write(body)).status === 204) acked += 50;
  }
  expect(acked).toBe(1000);
  // b's disk is lost: it comes back empty, without dbb
  for (const sub of ['meta', 'data', 'wal']) fs.rmSync(path.join(B.dir, sub), { recursive: true, force: true });
  await B.restart();
  const refusing = await waitUntil(async () => (await meta()).backendDetail.b.refusing ?? false);
  expect(refusing).toMatchObject({ status: 404, error: 'database not found: "dbb"' });
  // writes meanwhile wait behind the backlog; nothing was dropped or set aside
  expect((await write(`rebuilt v=0i ${base + 5000n}\n`)).status).toBe(204);
  const held = (await meta()).backendDetail.b;
  expect(held.spool.records).toBeGreaterThan(0);
  expect(held.rejected.records).toBe(0);
  expect((await request(`${proxy.url}/metrics`)).text).toMatch(/influxdb_proxy_backend_refusing\{backend="b"\} 1/);
  const check = (await request(`${proxy.url}/health`)).json().checks.find((c: { name: string }) => c.name === 'backend:b');
  expect(check).toMatchObject({ status: 'fail', refusing: { status: 404 } });
  expect(check.message).toContain('refuses writes');
  await B.createDatabase('dbb');
  await waitUntil(async () => (await countOn(B, 'dbb', 'rebuilt')) === 1001 || false, {
    attempts: 300,
    intervalMs: 200,
    what: 'every point on the rebuilt b',
  });
  await waitUntil(async () => ((await meta()).backendDetail.b.refusing === undefined ? true : false));
  expect(await countOn(A, 'dba', 'rebuilt')).toBe(1001);
});

it('on etcd with sentinels and two proxies in two zones, a bad-rp write leaves every backend up and every query answered for 25 s', async () => {
  const etcd = await startEtcd();
  const prefix = '/client-errors/';
  const [p1Port, p2Port] = await freePorts(2);
  const backend = (url: string, db: string, zone: string) => ({ url, db, zone, timeout: 2_000, checkInterval: 200, rewriteInterval: 300 });
  const cluster = {
    backends: { a: backend(A.url, 'dba', 'za'), b: backend(B.url, 'dbb', 'zb') },
    keymaps: { _default_: ['a', 'b'] },
    proxies: {
      p1: { listenAddr: `127.0.0.1:${p1Port}`, db: DB, zone: 'za' },
      p2: { listenAddr: `127.0.0.1:${p2Port}`, db: DB, zone: 'zb' },
    },
  };
  for (const [section, entries] of Object.entries(cluster)) {
    for (const [name, value] of Object.entries(entries)) await etcd.put(`${prefix}${section}/${name}`, JSON.stringify(value));
  }
  const store = ['--etcd', etcd.url, '--etcd-prefix', prefix];
  const flags = sentinelFlags({ checkInterval: 0.25, checkTimeout: 1, downAfter: 2, upAfter: 2, leaderTtl: 2, membershipTtl: 3 });
  const sentinels = await Promise.all(['s1', 's2'].map((name) => startSentinel({ store, name, extraArgs: flags })));
  const proxies = await Promise.all(
    (['p1', 'p2'] as const).map((node) =>
      startProxy({ store, node, listenAddr: cluster.proxies[node].listenAddr, extraArgs: ['--membership-ttl', '3'] }),
    ),
  );
  try {
    await expect(
      request(`${proxies[0].url}/write?db=${DB}`, { method: 'POST', body: 'fleet v=1i 1700000000000000000' }),
    ).resolves.toMatchObject({ status: 204 });
    for (const proxy of proxies) {
      const res = await request(`${proxy.url}/write?db=${DB}&rp=nosuchrp`, { method: 'POST', body: 'cons v=1' });
      expect(res.status).toBe(500);
      expect(res.json()).toEqual({ error: 'retention policy not found: nosuchrp' });
    }
    const until = Date.now() + 25_000;
    let samples = 0;
    while (Date.now() < until) {
      for (const proxy of proxies) {
        const q = await request(`${proxy.url}/query?db=${DB}&q=${encodeURIComponent('SELECT count(v) FROM fleet')}`);
        expect(q.status).toBe(200);
        expect(q.json().results[0].series[0].values[0][1]).toBe(1);
        const m = (await request(`${proxy.url}/meta`)).json();
        expect(m.backendStatus).toEqual({ a: true, b: true });
        expect(m.backendDetail.a.spool.records + m.backendDetail.b.spool.records).toBe(0);
      }
      samples++;
      await sleep(500);
    }
    expect(samples).toBeGreaterThan(10);
  } finally {
    await Promise.all([...proxies.map((p) => p.stop()), ...sentinels.map((s) => s.stop())]);
    await etcd.stop();
  }
}, 90_000);
