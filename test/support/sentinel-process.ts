/**
 * Runs the built sentinel (`bin/influxdb-sentinel`) as a separate process, the way an operator would:
 * store flags + --name + --listen on a free loopback port, ready once it answers GET /health.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from './http';
import { freePort } from './ports';
import { REPO_ROOT, ServiceApi, ServiceLifecycle, ServiceRunner, spawnManaged, untilServing } from './processes';

export const SENTINEL_BIN = path.join(REPO_ROOT, 'bin', 'influxdb-sentinel');

export interface StartSentinelOptions {
  /** Flags choosing the config store, e.g. ['--etcd', url] or ['-redis', 'host:port']. */
  store: string[];
  name: string;
  /** Timing flags and the like (--check-interval, --leader-ttl, …). */
  extraArgs?: string[];
}

export interface SentinelProcess extends ServiceLifecycle {
  readonly name: string;
  /** http://127.0.0.1:PORT of its /meta and /health. */
  readonly url: string;
  /** GET /meta as JSON. */
  meta(): Promise<any>;
  /** SIGTERM, wait for exit (bounded, then SIGKILL); returns the exit code. */
  stop(): Promise<number | null>;
}

export async function startSentinel(options: StartSentinelOptions): Promise<SentinelProcess> {
  if (!fs.existsSync(SENTINEL_BIN)) throw new Error(`${SENTINEL_BIN} does not exist; build first`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [...options.store, '--name', options.name, '--listen', `127.0.0.1:${port}`, ...(options.extraArgs ?? [])];
  const runner = new ServiceRunner({
    what: `influxdb-sentinel ${options.name}`,
    stopTimeoutMs: 15_000,
    spawn: () => spawnManaged(`sentinel:${options.name}`, SENTINEL_BIN, args, { cwd: REPO_ROOT }),
    ready: (proc) =>
      untilServing(
        proc,
        `influxdb-sentinel ${options.name} on ${url} to answer GET /health with 200`,
        async () => (await request(`${url}/health`, { timeoutMs: 2_000 })).status === 200,
      ),
  });
  const handle: SentinelProcess = runner.handle<ServiceApi<SentinelProcess>>({
    name: options.name,
    url,
    async meta() {
      const res = await request(`${url}/meta`, { timeoutMs: 5_000 });
      if (res.status !== 200) throw new Error(`sentinel ${options.name} /meta answered ${res.status} ${res.text}`);
      return res.json();
    },
  });
  await runner.start();
  return handle;
}

/** The sentinel's timing flags, in seconds or counts, as tests tune them (an absent one keeps its default). */
export interface SentinelTimings {
  checkInterval?: number;
  checkTimeout?: number;
  downAfter?: number;
  upAfter?: number;
  leaderTtl?: number;
  slotTtl?: number;
  membershipTtl?: number;
  writeFailureReports?: number;
}

/** `{ checkInterval: 0.25, downAfter: 2 }` → `['--check-interval', '0.25', '--down-after', '2']`. */
export function sentinelFlags(timings: SentinelTimings): string[] {
  return Object.entries(timings).flatMap(([name, value]) =>
    value === undefined ? [] : [`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(value)],
  );
}
