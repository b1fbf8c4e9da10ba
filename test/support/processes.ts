/**
 * Child processes and temp dirs started by the e2e tests, tracked so that a test file's
 * `afterAll(stopAll)` can never leak one.
 *
 * Every process is spawned with `detached: false` and a known PID; stopping sends SIGTERM to
 * that PID, waits (bounded), then SIGKILLs it. Descendants seen before the signal (e.g. when an
 * entry point is a shell wrapper that does not `exec`) are stopped the same way.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (/work/main), found from this file rather than hard-coded. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves once the process has exited and been reaped. */
  readonly exited: Promise<ExitInfo>;
  /** Last output (stdout and stderr interleaved), for failure messages. */
  output(): string;
  isRunning(): boolean;
}

/** Anything holding processes or dirs; `stopAll()` calls `stop()` on each, newest first. */
export interface Stoppable {
  stop(): Promise<unknown>;
}

const OUTPUT_LIMIT = 256 * 1024;
const resources = new Set<Stoppable>();
const running = new Set<ManagedProcess>();

export function track<T extends Stoppable>(resource: T): T {
  resources.add(resource);
  return resource;
}

export function untrack(resource: Stoppable): void {
  resources.delete(resource);
}

/** Stops every tracked resource (newest first) and then any process still running. */
export async function stopAll(): Promise<void> {
  const errors: unknown[] = [];
  for (const resource of [...resources].reverse()) {
    try {
      await resource.stop();
    } catch (err) {
      errors.push(err);
    }
    resources.delete(resource);
  }
  for (const proc of [...running]) {
    try {
      await terminate(proc);
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) {
    throw new Error(`stopAll: ${errors.length} failure(s): ${errors.map(String).join('; ')}`);
  }
}

// Last resort when the test process exits without afterAll (crash, forced exit): SIGKILL by PID.
const EXIT_HOOK = Symbol.for('influxdb-proxy.e2e.exit-hook');
const g = globalThis as unknown as Record<symbol, Set<Set<ManagedProcess>>>;
if (!g[EXIT_HOOK]) {
  const registries = new Set<Set<ManagedProcess>>();
  g[EXIT_HOOK] = registries;
  process.once('exit', () => {
    for (const registry of registries) {
      for (const proc of registry) {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
  });
}
g[EXIT_HOOK].add(running);

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Spawns a tracked process with piped stdout/stderr collected into a bounded buffer. */
export function spawnManaged(name: string, command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  let buffer = '';
  const append = (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    if (buffer.length > OUTPUT_LIMIT) buffer = buffer.slice(buffer.length - OUTPUT_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      append(Buffer.from(`\n[harness] failed to spawn ${command}: ${err.message}\n`));
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null };
        resolve(exitInfo);
      }
    });
  });
  const proc: ManagedProcess = {
    name,
    pid: child.pid ?? -1,
    child,
    exited,
    output: () => buffer,
    isRunning: () => exitInfo === undefined && child.pid !== undefined,
  };
  if (proc.isRunning()) {
    running.add(proc);
    void exited.then(() => running.delete(proc));
  }
  return proc;
}

/** PIDs of all live descendants of `pid`, read from /proc (children before grandchildren). */
export function descendantPids(pid: number): number[] {
  const parents = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      /* raced with exit */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = parents.get(queue.shift()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for `proc` to exit, at most `timeoutMs`; returns undefined on timeout. */
export async function waitForExit(proc: ManagedProcess, timeoutMs: number): Promise<ExitInfo | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `signal` to the process by PID, waits for it to exit (bounded by `timeoutMs`), then
 * SIGKILLs it if it is still there. Descendants that outlive it get the same treatment.
 */
export async function terminate(proc: ManagedProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<ExitInfo> {
  if (!proc.isRunning()) return proc.exited;
  const descendants = descendantPids(proc.pid);
  try {
    process.kill(proc.pid, signal);
  } catch {
    /* already gone */
  }
  let info = await waitForExit(proc, timeoutMs);
  if (!info) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    info = await waitForExit(proc, 5_000);
    if (!info) throw new Error(`${proc.name} (pid ${proc.pid}) did not exit after SIGKILL`);
  }
  await killStragglers(descendants, timeoutMs);
  return info;
}

async function killStragglers(pids: number[], timeoutMs: number): Promise<void> {
  let alive = pids.filter(pidAlive);
  if (alive.length === 0) return;
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter(pidAlive);
  }
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  /** Number of attempts (bounded loop). */
  attempts?: number;
  /** Pause between attempts. */
  intervalMs?: number;
  /** What is being waited for, for the error message. */
  what?: string;
  /** Extra text for the error message (e.g. process output), computed on failure. */
  details?: () => string;
  /** Stop early with an error when this returns a reason (e.g. the process exited). */
  abort?: () => string | undefined;
}

/**
 * Calls `probe` until it returns a value other than undefined/false, at most `attempts` times.
 * Exceptions thrown by `probe` count as "not yet" (the last one is reported).
 */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false>, options: WaitOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 150;
  const intervalMs = options.intervalMs ?? 100;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const reason = options.abort?.();
    if (reason) {
      throw new Error(`gave up waiting for ${options.what ?? 'condition'}: ${reason}${formatDetails(options)}`);
    }
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (i < attempts - 1) await sleep(intervalMs);
  }
  const last = lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : '';
  throw new Error(
    `timed out after ${attempts} x ${intervalMs} ms waiting for ${options.what ?? 'condition'}${last}${formatDetails(options)}`,
  );
}

function formatDetails(options: WaitOptions): string {
  const text = options.details?.();
  return text ? `\n--- output ---\n${text.slice(-8000)}` : '';
}

/** fs.mkdtemp under os.tmpdir(), with a recognisable prefix. */
export function makeTempDir(label: string): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), `influxdb-proxy-e2e-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

// ---------------------------------------------------------------------------------------------
// services: a process the harness starts, kills, restarts and stops by PID

/** What every service handle (influxd, redis-server, etcd, a proxy, a sentinel) offers. */
export interface ServiceLifecycle {
  /** PID of the running process (changes on restart); -1 when not running. */
  readonly pid: number;
  isRunning(): boolean;
  /** Its last output, for failure messages. */
  output(): string;
  /** Sends `signal` (default SIGKILL) by PID and waits for the exit; its dir is kept for restart(). */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Starts it again on the same ports and dir (stopping it first if it is running). */
  restart(): Promise<void>;
}

/** A service handle's own API, without the lifecycle ServiceRunner.handle() adds. */
export type ServiceApi<H> = Omit<H, keyof ServiceLifecycle | 'stop'>;

export interface ServiceSpec {
  /** How it is named in errors ("influxd on http://127.0.0.1:PORT"). */
  what: string;
  spawn: () => ManagedProcess;
  /** Resolves once the fresh process serves (see untilServing). */
  ready: (proc: ManagedProcess) => Promise<unknown>;
  /** Removed on stop(): the service's own temp dir. */
  dir?: string;
  /** How long a stop's SIGTERM may take before SIGKILL. */
  stopTimeoutMs?: number;
}

/**
 * Runs one service process: start() spawns it and waits until it serves; kill/restart/stop act on it
 * by PID; it is tracked for stopAll() until stopped. `handle()` puts its lifecycle on a service's own API.
 */
export class ServiceRunner implements Stoppable {
  private proc?: ManagedProcess;
  private stopped = false;

  constructor(private readonly spec: ServiceSpec) {}

  get pid(): number {
    return this.proc?.isRunning() ? this.proc.pid : -1;
  }

  get process(): ManagedProcess | undefined {
    return this.proc;
  }

  isRunning(): boolean {
    return this.proc?.isRunning() ?? false;
  }

  output(): string {
    return this.proc?.output() ?? '';
  }

  /** Starts it (tracked from now on); when it does not come up it is stopped and the error thrown. */
  async start(): Promise<void> {
    track(this);
    try {
      await this.launch();
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    const proc = this.proc;
    if (!proc) return { code: null, signal: null };
    if (!proc.isRunning()) return proc.exited;
    try {
      process.kill(proc.pid, signal);
    } catch {
      /* gone */
    }
    const info = await waitForExit(proc, 20_000);
    if (!info) throw new Error(`${this.spec.what} (pid ${proc.pid}) did not exit after ${signal}`);
    return info;
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`${this.spec.what} was stopped; start a new one`);
    if (this.proc?.isRunning()) await terminate(this.proc, 'SIGTERM', this.spec.stopTimeoutMs);
    await this.launch();
  }

  /** SIGTERM by PID (SIGKILL after stopTimeoutMs), then its dir is removed; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.stopped) return this.proc ? (await this.proc.exited).code : null;
    this.stopped = true;
    untrack(this);
    try {
      return this.proc ? (await terminate(this.proc, 'SIGTERM', this.spec.stopTimeoutMs)).code : null;
    } finally {
      if (this.spec.dir) await removeDir(this.spec.dir);
    }
  }

  /** `api` with this runner's lifecycle (pid, isRunning, output, kill, restart, stop) added; getters in `api` stay getters. */
  handle<T extends object>(api: T): T & ServiceLifecycle & { stop(): Promise<number | null> } {
    const handle = Object.defineProperties(
      {},
      {
        pid: { get: () => this.pid, enumerable: true },
        isRunning: { value: () => this.isRunning() },
        output: { value: () => this.output() },
        kill: { value: (signal?: NodeJS.Signals) => this.kill(signal) },
        restart: { value: () => this.restart() },
        stop: { value: () => this.stop() },
      },
    );
    return Object.defineProperties(handle, Object.getOwnPropertyDescriptors(api)) as T &
      ServiceLifecycle & { stop(): Promise<number | null> };
  }

  private async launch(): Promise<void> {
    const proc = this.spec.spawn();
    this.proc = proc;
    await this.spec.ready(proc);
  }
}

/** Waits (150 x 100 ms unless told) until `probe` says the fresh `proc` serves; gives up at once if it exits. */
export function untilServing(proc: ManagedProcess, what: string, probe: () => Promise<boolean>, attempts = 150): Promise<true> {
  return waitUntil(async () => (await probe()) || undefined, {
    attempts,
    intervalMs: 100,
    what,
    abort: () => (proc.isRunning() ? undefined : `${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode})`),
    details: () => proc.output(),
  });
}
