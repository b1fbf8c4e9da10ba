/**
 * The write path under hostile or unlucky conditions (#13): a spool disk that fills up, gzip bombs,
 * clients that trickle their bodies, huge bad lines, clients that go away. Real influxd, a real proxy
 * process, a real 20 MB tmpfs (the tests run as root).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createGzip } from 'node:zlib';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { makeTempDir, removeDir, sleep, stopAll, waitUntil } from './support/processes';
import { ProxyConfig, ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'mydb';
let A: Influxd;
let B: Influxd;
let proxy: ProxyProcess | undefined;

function config(port: number, node: Record<string, unknown> = {}): ProxyConfig {
  const backend = (url: string, db: string) => ({
    url,
    db,
    timeout: 2_000,
    checkInterval: 200,
    rewriteInterval: 300,
    downAfter: 2,
    upAfter: 2,
  });
  return {
    backends: { a: backend(A.url, 'dba'), b: backend(B.url, 'dbb') },
    keymaps: { _default_: ['a', 'b'] },
    proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db: DB, idleTimeout: 10, ...node } },
  };
}

const write = (body: string | Buffer, headers: Record<string, string> = {}) =>
  request(`${proxy!.url}/write?db=${DB}`, { method: 'POST', body, headers, timeoutMs: 30_000 });

/** Peak RSS (VmHWM) of the proxy's node process, in MB. */
function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
});

afterAll(stopAll);

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  if (!B.isRunning()) await B.restart();
});

it('survives a spool disk that fills up during replay, delivers every acknowledged point once there is room, and gives the space back', async () => {
  const mnt = await makeTempDir('spool-tmpfs');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt]);
  try {
    proxy = await startProxy({ config: config(await freePort()), spoolDir: path.join(mnt, 'spool') });
    await B.kill('SIGKILL');
    // fill the spool disk with acknowledged writes for b until it says no
    const base = 1_700_000_000_000_000_000n;
    let acked = 0;
    let refusal: { status: number; error: string } | undefined;
    for (let i = 0; i < 1_000 && !refusal; i++) {
      let body = '';
      for (let j = 0; j < 2_000; j++) body += `fill,host=h${j % 10} v=${j}i ${base + BigInt(i * 2_000 + j)}\n`;
      const res = await write(body);
      if (res.status === 204) acked += 2_000;
      else refusal = { status: res.status, error: res.json().error };
    }
    expect(refusal?.status).toBe(503);
    expect(refusal?.error).toBe('backend b is unavailable and its spool cannot take the write (its spool disk is full)');
    expect(refusal?.error).not.toMatch(/ENOSPC|\//);
    expect(acked).toBeGreaterThan(0);
    // the disk is now filled to the last byte, and b comes back: the replay cannot persist its position
    const filler = path.join(mnt, 'filler');
    const fd = fs.openSync(filler, 'w');
    try {
      const block = Buffer.alloc(64 * 1024, 1);
      for (let i = 0; i < 1_000; i++) fs.writeSync(fd, block);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    await B.restart();
    const health = await waitUntil(
      async () => {
        const check = (await request(`${proxy!.url}/health`)).json().checks.find((c: { name: string }) => c.name === 'backend:b');
        return check?.spool.diskError ? check : false;
      },
      { what: 'the disk error shown in /health' },
    );
    expect(health.spool.diskError.problem).toBe('its spool disk is full');
    await sleep(2_000);
    expect(proxy.isRunning()).toBe(true);
    expect((await request(`${proxy.url}/ping`)).status).toBe(204);
    // room again: the replay resumes by itself and delivers everything
    fs.rmSync(filler);
    await waitUntil(
      async () => {
        const rows = await B.rows('SELECT count(v) FROM fill', 'dbb');
        return rows.length > 0 && Number(rows[0].count) === acked;
      },
      { attempts: 600, intervalMs: 200, what: `all ${acked} acknowledged points on b` },
    );
    await waitUntil(async () => (await request(`${proxy!.url}/meta`)).json().backendDetail.b.spool.records === 0 || false);
    const used = await waitUntil(
      async () => {
        const st = fs.statfsSync(mnt);
        const bytes = (st.blocks - st.bfree) * st.bsize;
        return bytes < 4 * 1024 * 1024 ? bytes : false;
      },
      { what: 'the spool disk space given back' },
    );
    expect(used).toBeLessThan(4 * 1024 * 1024);
    expect(proxy.isRunning()).toBe(true);
  } finally {
    await proxy?.stop();
    proxy = undefined;
    execFileSync('umount', ['-l', mnt]);
    await removeDir(mnt);
  }
});

/** A gzip body that inflates to `mb` MB of one repeated line. */
function gzipBomb(mb: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gz = createGzip({ level: 9 });
    const out: Buffer[] = [];
    gz.on('data', (d: Buffer) => out.push(d));
    gz.on('end', () => resolve(Buffer.concat(out)));
    gz.on('error', reject);
    const block = Buffer.alloc(1 << 20, 'bomb v=1i 1700000000000000000\n');
    for (let i = 0; i < mb; i++) gz.write(block);
    gz.end();
  });
}

it('keeps 12 concurrent gzip bombs under 700 MB of peak RSS, refusing them', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const bomb = await gzipBomb(240);
  expect(bomb.length).toBeLessThan(1_000_000);
  const answers = await Promise.all(Array.from({ length: 12 }, () => write(bomb, { 'Content-Encoding': 'gzip' }).then((r) => r.status)));
  expect(answers.every((s) => s === 413 || s === 503)).toBe(true);
  expect(peakRssMb(proxy.pid)).toBeLessThan(700);
  expect((await write('after_bombs v=1i')).status).toBe(204);
});

it('answers a huge bad line with a bounded error, not the line echoed whole', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const line = `huge v=${'x'.repeat(5_000_000)}\n`;
  const res = await write(line);
  expect(res.status).toBe(400);
  expect(res.text.length).toBeLessThan(70 * 1024);
  expect(Number(res.headers['content-length'])).toBeLessThan(70 * 1024);
});

it('keeps answering a normal writer while 12 clients trickle 1 MB and 22 MB bodies at 10 B/s, and ends the trickles', async () => {
  proxy = await startProxy({ config: config(await freePort()) });
  const { port } = new URL(proxy.url);
  // 1 MB bodies are read by the raw write front, 22 MB ones (past MAX_FAST_BODY) by node:http
  const lengths = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 1 << 20 : 22369621));
  const slow = await Promise.all(
    lengths.map((length) => {
      return new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(Number(port), '127.0.0.1', () => {
          s.write(`POST /write?db=${DB} HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\nslow v=1`);
          resolve(s);
        });
        s.on('error', () => undefined);
        s.once('error', reject);
      });
    }),
  );
  const answered: string[] = [];
  slow.forEach((s, i) => s.on('data', (d: Buffer) => (answered[i] = d.toString('latin1'))));
  const trickle = setInterval(() => slow.forEach((s) => s.writable && s.write('0000000000')), 1_000);
  try {
    const statuses: number[] = [];
    const until = Date.now() + 13_000;
    for (let i = 0; Date.now() < until && i < 10_000; i++) {
      statuses.push((await write(`normal v=${i}i ${1_700_000_000_000_000_000 + i}\n`)).status);
      await sleep(100);
    }
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s !== 204)).toEqual([]);
    // past the 10 s grace, each trickle got 408 and its connection closed
    await waitUntil(async () => slow.every((s) => s.destroyed || s.readableEnded) || false, { what: 'the trickling sockets closed' });
    expect(answered.filter((a) => a?.startsWith('HTTP/1.1 408'))).toHaveLength(12);
    // both paths answer alike: the same headers in the same order, influxd's error body
    const names = (answer: string) =>
      answer
        .split('\r\n\r\n')[0]
        .split('\r\n')
        .slice(1)
        .map((l) => l.split(':')[0]);
    expect(names(answered[0])).toEqual(names(answered[1]));
    expect(answered[0]).toMatch(/"error":"request body too slow: \d+ bytes in \d+ s/);
    expect(answered[1]).toMatch(/"error":"request body too slow: \d+ bytes in \d+ s/);
  } finally {
    clearInterval(trickle);
    slow.forEach((s) => s.destroy());
  }
});

it('counts a client that goes away mid-body, and does not log it as an error', async () => {
  const logFile = path.join(await makeTempDir('log'), 'proxy.log');
  proxy = await startProxy({ config: config(await freePort()), logFile });
  const { port } = new URL(proxy.url);
  for (let i = 0; i < 50; i++) {
    await new Promise<void>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1', () => {
        s.write(`POST /write?db=${DB} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabort v=1`);
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 5);
      });
      s.on('error', () => resolve());
    });
  }
  const metrics = await waitUntil(
    async () => {
      const text = (await request(`${proxy!.url}/metrics`)).text;
      return /influxdb_proxy_client_aborted_writes_total 50/.test(text) ? text : false;
    },
    { what: '50 aborted writes counted' },
  );
  expect(metrics).toBeDefined();
  const errors = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l && JSON.parse(l).level >= 50);
  expect(errors).toEqual([]);
  // kept when an expectation above fails: the log is the evidence
  await removeDir(path.dirname(logFile));
});
