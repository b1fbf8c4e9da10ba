/**
 * `--workers 2`: two worker processes behind one port, against real influxd replicas and a real etcd.
 * Every request here goes on a connection of its own, so the supervisor's round robin spreads them over
 * both workers; the tests check through /meta's `workers` that both really served.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Etcd, startEtcd } from './support/etcd';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { descendantPids, pidAlive, stopAll, waitUntil } from './support/processes';
import { PROXY_BIN, ProxyConfig, startProxy } from './support/proxy-process';

const DB = 'wk';
const T0 = 1_700_000_000_000_000_000n;

let A: Influxd;
let B: Influxd;
let etcd: Etcd;
let tmp: string;

beforeAll(async () => {
  [A, B, etcd] = await Promise.all([startInfluxd(), startInfluxd(), startEtcd()]);
  await Promise.all([A.createDatabase(DB), B.createDatabase(DB)]);
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'influxdb-proxy-e2e-workers-'));
});

afterAll(async () => {
  await stopAll();
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

function backend(influxd: Influxd, extra: Record<string, unknown> = {}) {
  return { url: influxd.url, db: DB, interval: 20, timeout: 3_000, checkInterval: 300, rewriteInterval: 300, ...extra };
}

function config(
  port: number,
  keymaps: Record<string, string[]> = { _default_: ['a', 'b'] },
  extra: Record<string, unknown> = {},
): ProxyConfig {
  return {
    backends: { a: backend(A, extra), b: backend(B, extra) },
    keymaps,
    proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db: DB } },
  };
}

/** Writes one point per request (each on a fresh connection); resolves with the status. */
async function writePoint(url: string, measurement: string, seq: number): Promise<number> {
  const res = await request(`${url}/write?db=${DB}`, {
    body: `${measurement},src=w seq=${seq}i ${T0 + BigInt(seq)}`,
    timeoutMs: 20_000,
  });
  return res.status;
}

/** The seq values stored in `influxd` for `measurement`. */
async function seqs(influxd: Influxd, measurement: string): Promise<number[]> {
  const rows = await influxd.rows(`SELECT seq FROM "${measurement}"`, DB);
  return rows.map((r) => Number(r.seq)).sort((x, y) => x - y);
}

async function meta(url: string): Promise<any> {
  const res = await request(`${url}/meta`);
  expect(res.status).toBe(200);
  return res.json();
}

/** The value of one series in a Prometheus text answer (NaN when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}

/** Runs `tasks` with at most `parallel` at a time. */
async function inParallel<T>(count: number, parallel: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

/** The harness is ready at the first /ping answered: one worker may still be starting. */
async function bothWorkersListening(url: string): Promise<void> {
  await waitUntil(async () => (await meta(url)).workers?.length === 2, { what: 'both workers listening' });
}

/** The worker PIDs (the supervisor's children). */
function workerPids(supervisorPid: number): number[] {
  return descendantPids(supervisorPid);
}

describe('--workers 2', () => {
  it('writes from many connections land exactly once on every replica, and /metrics counts the writes of both workers', async () => {
    const port = await freePort();
    const proxy = await startProxy({ config: config(port), workers: 2 });
    await bothWorkersListening(proxy.url);
    const N = 200;
    const statuses = await inParallel(N, 16, (i) => writePoint(proxy.url, 'wk_many', i));
    expect(statuses.filter((s) => s !== 204)).toEqual([]);
    const all = Array.from({ length: N }, (_v, i) => i);
    for (const influxd of [A, B]) {
      await waitUntil(async () => (await seqs(influxd, 'wk_many')).length === N, { what: `${N} points on ${influxd.url}` });
      expect(await seqs(influxd, 'wk_many')).toEqual(all);
    }
    // both workers served (round robin over fresh connections), and the group's counts add up
    const m = await meta(proxy.url);
    expect(m.workers).toHaveLength(2);
    for (const w of m.workers) expect(w.writeStats.requests).toBeGreaterThan(0);
    expect(m.writeStats.requests).toBe(N);
    expect(m.workers[0].writeStats.requests + m.workers[1].writeStats.requests).toBe(N);
    // influxd keeps one copy of a repeated point, so "exactly once" is read from what the proxy sent
    const text = (await request(`${proxy.url}/metrics`)).text;
    expect(sample(text, 'influxdb_proxy_points_received_total')).toBe(N);
    expect(sample(text, 'influxdb_proxy_points_written_total{backend="a"}')).toBe(N);
    expect(sample(text, 'influxdb_proxy_points_written_total{backend="b"}')).toBe(N);
    expect(sample(text, 'influxdb_proxy_backend_healthy{backend="a"}')).toBe(1);
    // /debug/vars answers for the group too (whichever worker takes the request)
    for (let i = 0; i < 4; i++) {
      const vars = JSON.parse((await request(`${proxy.url}/debug/vars`)).text) as Record<string, { values: Record<string, number> }>;
      expect(vars.write.values.req).toBe(N);
      expect(vars.write.values.pointsReceived).toBe(N);
      expect(vars['backend:a:' + A.url].values.pointsWritten).toBe(N);
      expect(vars['backend:a:' + A.url].values.healthy).toBe(1);
    }
    await proxy.stop();
  });

  it('applies a config change from etcd in both workers', async () => {
    const port = await freePort();
    const prefix = '/wk-workers/';
    const initial = config(port);
    for (const [section, entries] of Object.entries(initial)) {
      for (const [name, value] of Object.entries(entries)) await etcd.put(`${prefix}${section}/${name}`, JSON.stringify(value));
    }
    const proxy = await startProxy({
      store: ['--etcd', etcd.url, '--etcd-prefix', prefix],
      listenAddr: `127.0.0.1:${port}`,
      workers: 2,
      extraArgs: ['--membership-ttl', '1'], // a heartbeat every 333 ms
    });
    await bothWorkersListening(proxy.url);
    await etcd.put(`${prefix}keymaps/wk_moved`, '["b"]');
    // every answer (each worker's, round robin) shows the new keymap, several times in a row
    let inARow = 0;
    await waitUntil(
      async () => {
        const m = await meta(proxy.url);
        inARow = m.measurementToBackends.wk_moved?.[0] === 'b' ? inARow + 1 : 0;
        return inARow >= 6;
      },
      { what: 'both workers to show keymaps/wk_moved', attempts: 200, intervalMs: 50 },
    );
    const before = (await meta(proxy.url)).workers.map((w: any) => w.writeStats.requests);
    const N = 40;
    const statuses = await inParallel(N, 8, (i) => writePoint(proxy.url, 'wk_moved', i));
    expect(statuses.filter((s) => s !== 204)).toEqual([]);
    const after = (await meta(proxy.url)).workers.map((w: any) => w.writeStats.requests);
    expect(after[0]).toBeGreaterThan(before[0]);
    expect(after[1]).toBeGreaterThan(before[1]);
    await waitUntil(async () => (await seqs(B, 'wk_moved')).length === N, { what: `${N} wk_moved points on B` });
    expect(await seqs(A, 'wk_moved')).toEqual([]);
    // ONE membership record for the proxy, always written by the same worker (not by each in turn)
    const writers = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const records = await etcd.getPrefix(`${prefix}runtime/proxies/`);
      expect(Object.keys(records)).toEqual([`${prefix}runtime/proxies/p1`]);
      writers.add(JSON.parse(records[`${prefix}runtime/proxies/p1`]).pid);
      await new Promise((resolve) => setTimeout(resolve, 250)); // sampling several heartbeats, not waiting for a state
    }
    expect(writers.size).toBe(1);
    expect(workerPids(proxy.pid)).toContain([...writers][0]);
    await proxy.stop();
  });

  it('loses no acknowledged point when a worker is killed with SIGKILL under load: its successor replays its spool', async () => {
    const port = await freePort();
    const proxy = await startProxy({ config: config(port), workers: 2 });
    await bothWorkersListening(proxy.url);
    // B down: every acknowledged point for B is in some worker's spool
    await B.kill('SIGKILL');
    const acked: number[] = [];
    let seq = 0;
    let stopLoad = false;
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let n = 0; n < 2_000 && !stopLoad; n++) {
          const s = seq++;
          const status = await writePoint(proxy.url, 'wk_kill', s).catch(() => 0); // a killed worker's connection resets
          if (status === 204) acked.push(s);
        }
      }),
    );
    await waitUntil(async () => acked.length >= 100, { what: '100 acknowledged writes before the kill', intervalMs: 50 });
    const [victim] = workerPids(proxy.pid);
    process.kill(victim, 'SIGKILL');
    await waitUntil(async () => workerPids(proxy.pid).length === 2 && !workerPids(proxy.pid).includes(victim), {
      what: 'a successor worker',
      intervalMs: 100,
    });
    // the successor takes connections (and answers /meta's gather) only once it listens
    await bothWorkersListening(proxy.url);
    const afterKill = acked.length;
    await waitUntil(async () => acked.length >= afterKill + 100, { what: '100 acknowledged writes after the restart', intervalMs: 50 });
    stopLoad = true;
    await load;
    // while B is down: /meta, /health and the membership view show the two workers' backlogs summed
    const m = await meta(proxy.url);
    const perWorker: number[] = m.workers.map((w: any) => w.backlog.b.records);
    expect(perWorker).toHaveLength(2);
    for (const records of perWorker) expect(records).toBeGreaterThan(0);
    const total = perWorker[0] + perWorker[1];
    expect(m.proxies.p1.backlog.b.records).toBe(total);
    const health = (await request(`${proxy.url}/health`)).json();
    expect(health.checks.find((c: any) => c.name === 'backend:b')).toMatchObject({ status: 'fail', spool: { records: total } });
    await B.restart();
    const expected = [...acked].sort((x, y) => x - y);
    for (const influxd of [A, B]) {
      await waitUntil(
        async () => {
          const have = new Set(await seqs(influxd, 'wk_kill'));
          return expected.every((s) => have.has(s));
        },
        { what: `every acknowledged point (${expected.length}) on ${influxd.url}`, attempts: 300 },
      );
    }
    // the spools are empty again: the successor replayed the dead worker's backlog
    await waitUntil(async () => (await meta(proxy.url)).proxies.p1.backlog.b?.records === 0, { what: 'an empty backlog for b' });
    await proxy.stop();
  });

  it('drains both workers on SIGTERM to the supervisor: batches waiting to be sent are sent and acknowledged', async () => {
    const port = await freePort();
    // a 2 s batch interval: the writes sit in the workers' batches when SIGTERM comes
    const proxy = await startProxy({ config: config(port, undefined, { interval: 2_000 }), workers: 2 });
    await bothWorkersListening(proxy.url);
    const workers = workerPids(proxy.pid);
    expect(workers).toHaveLength(2);
    const N = 20;
    const writes = Array.from({ length: N }, (_v, i) => writePoint(proxy.url, 'wk_drain', i).catch(() => 0));
    // every point received (and waiting in a batch) before the signal
    await waitUntil(async () => sample((await request(`${proxy.url}/metrics`)).text, 'influxdb_proxy_points_received_total') === N, {
      what: `${N} points received`,
      intervalMs: 50,
    });
    proxy.signal('SIGTERM');
    expect(await Promise.all(writes)).toEqual(new Array(N).fill(204));
    const exit = await proxy.exited();
    expect(exit.code).toBe(0);
    for (const pid of workers) expect(pidAlive(pid)).toBe(false);
    const all = Array.from({ length: N }, (_v, i) => i);
    expect(await seqs(A, 'wk_drain')).toEqual(all);
    expect(await seqs(B, 'wk_drain')).toEqual(all);
    expect(proxy.output()).toMatch(/worker 0 \(pid \d+\) stopped \(exit code 0\)/);
    expect(proxy.output()).toMatch(/worker 1 \(pid \d+\) stopped \(exit code 0\)/);
    await proxy.stop();
  });

  it('refuses a second proxy on the same spool directory, with exit code 3', async () => {
    const spoolDir = path.join(tmp, 'shared-spool');
    const first = await startProxy({ config: config(await freePort()), workers: 2, spoolDir });
    await bothWorkersListening(first.url);
    const configPath = path.join(tmp, 'second.json');
    await fs.promises.writeFile(configPath, JSON.stringify(config(await freePort())));
    for (const workers of ['1', '2']) {
      const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
        execFile(
          PROXY_BIN,
          ['--config', configPath, '--spool-dir', spoolDir, '--workers', workers],
          { timeout: 20_000 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, output: stdout + stderr }),
        );
      });
      expect(result.code).toBe(3);
      expect(result.output).toContain(
        `cannot start: ${path.join(spoolDir, '+lock')} is held by the live process ${first.pid}: another proxy owns this spool directory`,
      );
    }
    // the first one is untouched
    expect(await writePoint(first.url, 'wk_lock', 1)).toBe(204);
    await first.stop();
  });
});
