/**
 * A request's total work and memory on the query path are bounded (#13): fifty merged statements in one
 * 4 KB request used to hold every answer whole (2.1 GB peak). Real influxd, a real proxy process.
 */
import * as fs from 'node:fs';
import { request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'mydb';
let A: Influxd;
let B: Influxd;
let proxy: ProxyProcess;

function peakRssMb(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase('dba'), B.createDatabase('dbb')]);
  const port = await freePort();
  const backend = (url: string, db: string) => ({ url, db, timeout: 5_000, timeoutQuery: 60_000 });
  proxy = await startProxy({
    config: {
      backends: { a: backend(A.url, 'dba'), b: backend(B.url, 'dbb') },
      keymaps: { only_a: ['a'], only_b: ['b'], _default_: ['a', 'b'] },
      proxies: { p1: { listenAddr: `127.0.0.1:${port}`, db: DB } },
    },
  });
  const now = BigInt(Date.now()) * 1_000_000n;
  let body = '';
  for (let i = 0; i < 100; i++)
    body += `only_a v=${i} ${now - BigInt(i) * 60_000_000_000n}\nonly_b v=${i} ${now - BigInt(i) * 60_000_000_000n}\n`;
  expect((await request(`${proxy.url}/write?db=${DB}`, { method: 'POST', body })).status).toBe(204);
});

afterAll(stopAll);

it('answers fifty merged day-by-second statements in one request within 700 MB of peak RSS, with clear errors past the limits', async () => {
  const statement = 'SELECT mean(v) FROM only_a, only_b WHERE time > now() - 1d GROUP BY time(1s)';
  const q = Array.from({ length: 50 }, () => statement).join('; ');
  expect(q.length).toBeLessThan(4096);
  const res = await request(`${proxy.url}/query?db=${DB}`, {
    method: 'POST',
    body: `q=${encodeURIComponent(q)}`,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    timeoutMs: 120_000,
  });
  expect(res.status).toBe(200);
  const results = res.json().results as { statement_id: number; series?: unknown[]; error?: string }[];
  expect(results).toHaveLength(50);
  const refused = results.findIndex((r) => r.error);
  expect(refused).toBeGreaterThan(0);
  expect(results[0].series).toBeDefined();
  expect(results[refused].error).toMatch(/maxRequestBuckets|maxQueryAnswerBytes/);
  const peak = peakRssMb(proxy.pid);
  console.log(`[hardening-query] proxy peak RSS ${peak.toFixed(0)} MB (${refused} statements answered before the limits)`);
  expect(peak).toBeLessThan(700);
});
