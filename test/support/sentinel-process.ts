/**
 * Runs the built sentinel (`bin/influxdb-sentinel`) as a separate process, the way an operator would:
 * store flags + --name + --listen on a free loopback port, ready once it answers GET /health.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from './http';
import { freePort } from './ports';
import { ExitInfo, ManagedProcess, REPO_ROOT, spawnManaged, terminate, track, untrack, waitForExit, waitUntil } from './processes';

export const SENTINEL_BIN = path.join(REPO_ROOT, 'bin', 'influxdb-sentinel');

export interface StartSentinelOptions {
  /** Flags choosing the config store, e.g. ['--etcd', url] or ['-redis', 'host:port']. */
  store: string[];
  name: string;
  /** Timing flags and the like (--check-interval, --leader-ttl, …). */
  extraArgs?: string[];
}

export interface SentinelProcess {
  readonly name: string;
  /** http://127.0.0.1:PORT of its /meta and /health. */
  readonly url: string;
  readonly pid: number;
  isRunning(): boolean;
  output(): string;
  /** GET /meta as JSON. */
  meta(): Promise<any>;
  /** SIGTERM, wait for exit (bounded, then SIGKILL); returns the exit code. */
  stop(): Promise<number | null>;
  /** Sends `signal` (default SIGKILL) and waits for exit; restart() may follow. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Starts it again with the same arguments. */
  restart(): Promise<void>;
}

export async function startSentinel(options: StartSentinelOptions): Promise<SentinelProcess> {
  if (!fs.existsSync(SENTINEL_BIN)) throw new Error(`${SENTINEL_BIN} does not exist; build first`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [...options.store, '--name', options.name, '--listen', `127.0.0.1:${port}`, ...(options.extraArgs ?? [])];
  let proc: ManagedProcess | undefined;
  let stopped = false;

  const launch = async () => {
    proc = spawnManaged(`sentinel:${options.name}`, SENTINEL_BIN, args, { cwd: REPO_ROOT });
    const current = proc;
    await waitUntil(async () => (await request(`${url}/health`, { timeoutMs: 2_000 })).status === 200, {
      attempts: 150,
      intervalMs: 100,
      what: `influxdb-sentinel ${options.name} on ${url} to answer GET /health with 200`,
      abort: () => (current.isRunning() ? undefined : `influxdb-sentinel exited (${current.child.exitCode ?? current.child.signalCode})`),
      details: () => current.output(),
    });
  };

  const handle: SentinelProcess = {
    name: options.name,
    url,
    get pid() {
      return proc?.isRunning() ? proc.pid : -1;
    },
    isRunning: () => proc?.isRunning() ?? false,
    output: () => proc?.output() ?? '',
    async meta() {
      const res = await request(`${url}/meta`, { timeoutMs: 5_000 });
      if (res.status !== 200) throw new Error(`sentinel ${options.name} /meta answered ${res.status} ${res.text}`);
      return res.json();
    },
    async stop() {
      if (stopped) return proc ? (await proc.exited).code : null;
      stopped = true;
      untrack(handle);
      if (!proc) return null;
      return (await terminate(proc, 'SIGTERM', 15_000)).code;
    },
    async kill(signal = 'SIGKILL') {
      if (!proc?.isRunning()) return proc ? proc.exited : { code: null, signal: null };
      try {
        process.kill(proc.pid, signal);
      } catch {
        /* gone */
      }
      const info = await waitForExit(proc, 15_000);
      if (!info) throw new Error(`influxdb-sentinel pid ${proc.pid} did not exit after ${signal}`);
      return info;
    },
    async restart() {
      if (stopped) throw new Error('sentinel was stopped; start a new one');
      if (proc?.isRunning()) await terminate(proc, 'SIGTERM', 15_000);
      await launch();
    },
  };
  track(handle);
  try {
    await launch();
  } catch (err) {
    await handle.stop().catch(() => undefined);
    throw err;
  }
  return handle;
}
