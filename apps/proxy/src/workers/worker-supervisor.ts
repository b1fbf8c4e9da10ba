import { SpoolDirLock, SpoolLockedError } from '@app/spool';
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ProxyOptions } from '../cli/proxy-options';
import { type CollectMessage, COLLECT_TIMEOUT_MS, type SupervisorMessage, type WorkerAnswer, type WorkerMessage } from './group-channel';
import { EXIT_SPOOL_LOCKED, groupLockPath, orphanSpoolWarnings, WORKER_SLOT_ENV } from './worker-layout';

/** A worker that ran this long before dying starts the back-off from the beginning again. */
const HEALTHY_RUN_MS = 30_000;
/** First restart delay, doubled per quick death, at most RESTART_MAX_MS. */
const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 15_000;

interface Slot {
  readonly index: number;
  worker?: Worker;
  startedAt: number;
  /** Deaths in a row, each before HEALTHY_RUN_MS. */
  quickDeaths: number;
  restartTimer?: NodeJS.Timeout;
  ready: boolean;
}

/**
 * The primary of `--workers N` (N ≥ 2): holds the spool root's group lock, forks one worker per slot
 * (each listens on the shared port through node's cluster module, owns its spool and its backend
 * writers, and runs its own config provider), restarts a worker that dies with a bounded back-off
 * (the successor replays the slot's spool), relays the workers' group questions (group-channel.ts),
 * and on SIGTERM/SIGINT has every worker drain before it exits. It runs no Nest app and opens no
 * backend or store connection itself.
 *
 * A worker that fails before the group has ever been ready (bad config, port taken, spool locked) ends
 * the whole group with its exit code: a proxy that cannot start must say so, not retry forever.
 */
export class WorkerSupervisor {
  private readonly slots: Slot[];
  private lock?: SpoolDirLock;
  private stopping = false;
  private started = false;
  private nextCollectId = 1;
  private readonly collecting = new Map<number, { answers: WorkerAnswer<unknown>[]; waiting: Set<number>; done: () => void }>();

  constructor(
    private readonly options: ProxyOptions,
    private readonly logger: Logger,
    private readonly exit: (code: number) => Promise<never>,
    private readonly shutdownLimitMs: number,
  ) {
    this.slots = Array.from({ length: options.workers }, (_v, index) => ({ index, startedAt: 0, quickDeaths: 0, ready: false }));
  }

  async run(): Promise<void> {
    const root = this.options.spoolDir;
    try {
      mkdirSync(root, { recursive: true });
      this.lock = SpoolDirLock.acquire(groupLockPath(root));
    } catch (err) {
      this.logger.fatal(`cannot start: ${(err as Error).message}`);
      await this.exit(err instanceof SpoolLockedError ? EXIT_SPOOL_LOCKED : 1);
    }
    process.on('exit', () => this.lock?.release());
    for (const warning of orphanSpoolWarnings(root, this.slots.length)) this.logger.warn(warning);
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
    cluster.on('message', (worker, msg: WorkerMessage) => this.message(worker, msg));
    process.once('SIGTERM', () => void this.stop('SIGTERM'));
    process.once('SIGINT', () => void this.stop('SIGINT'));
    // with a log file, SIGHUP reopens it (an external logrotate moved it): the supervisor's own logger
    // reopens by itself (openRootLogger), the workers reopen theirs; without one, SIGHUP stays node's default
    if (this.options.logFilePath) process.on('SIGHUP', () => this.eachWorker((w) => w.process.kill('SIGHUP')));
    this.logger.info(`starting ${this.slots.length} workers`);
    for (const slot of this.slots) this.fork(slot);
  }

  private fork(slot: Slot): void {
    slot.restartTimer = undefined;
    slot.ready = false;
    slot.startedAt = Date.now();
    slot.worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.index) });
  }

  private slotOf(worker: Worker): Slot | undefined {
    return this.slots.find((s) => s.worker === worker);
  }

  private message(worker: Worker, msg: WorkerMessage): void {
    const slot = this.slotOf(worker);
    if (!slot || !msg || typeof msg !== 'object') return;
    switch (msg.kind) {
      case 'influxdb-proxy:ready':
        slot.ready = true;
        if (!this.started && this.slots.every((s) => s.ready)) {
          this.started = true;
          this.logger.info(`all ${this.slots.length} workers listening`);
        }
        break;
      case 'influxdb-proxy:ask':
        void this.collect(msg.what).then((answers) => {
          const reply: SupervisorMessage = { kind: 'influxdb-proxy:answers', id: msg.id, answers };
          if (worker.isConnected()) worker.send(reply);
        });
        break;
      case 'influxdb-proxy:collected': {
        const c = this.collecting.get(msg.id);
        if (!c || !c.waiting.delete(slot.index)) break;
        if (msg.error === undefined) c.answers.push({ slot: slot.index, pid: worker.process.pid ?? 0, value: msg.value });
        if (c.waiting.size === 0) c.done();
        break;
      }
    }
  }

  /** Asks every ready worker `what`; answers in slot order, without those that did not answer in time. */
  private collect(what: string): Promise<WorkerAnswer<unknown>[]> {
    const id = this.nextCollectId++;
    const asked = this.slots.filter((s) => s.ready && s.worker?.isConnected());
    return new Promise((resolve) => {
      const entry = { answers: [] as WorkerAnswer<unknown>[], waiting: new Set(asked.map((s) => s.index)), done: () => {} };
      const timer = setTimeout(() => entry.done(), COLLECT_TIMEOUT_MS);
      entry.done = () => {
        clearTimeout(timer);
        this.collecting.delete(id);
        resolve(entry.answers.sort((a, b) => a.slot - b.slot));
      };
      this.collecting.set(id, entry);
      if (asked.length === 0) return entry.done();
      const msg: CollectMessage = { kind: 'influxdb-proxy:collect', id, what };
      for (const s of asked) s.worker!.send(msg);
    });
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.worker = undefined;
    slot.ready = false;
    for (const c of this.collecting.values()) if (c.waiting.delete(slot.index) && c.waiting.size === 0) c.done();
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.stopping) {
      this.logger.info(`worker ${slot.index} (pid ${worker.process.pid}) stopped (${how})`);
      if (code !== 0) this.failedStop = true;
      if (this.slots.every((s) => !s.worker)) void this.finish();
      return;
    }
    if (!this.started) {
      // start-up failed: the worker has logged why; the group ends with its code
      this.logger.fatal(`worker ${slot.index} could not start (${how}); stopping the others`);
      void this.stop('start-up failure', code && code > 0 ? code : 1);
      return;
    }
    slot.quickDeaths = Date.now() - slot.startedAt < HEALTHY_RUN_MS ? slot.quickDeaths + 1 : 0;
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** Math.max(0, slot.quickDeaths - 1));
    this.logger.error(`worker ${slot.index} (pid ${worker.process.pid}) died (${how}); restarting it in ${delay} ms to replay its spool`);
    slot.restartTimer = setTimeout(() => this.fork(slot), delay);
  }

  private failedStop = false;
  private exitCode = 0;

  private async stop(why: string, exitCode = 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.exitCode = exitCode;
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
    }
    this.logger.info(`${why}: every worker stops accepting and drains`);
    // each worker bounds its own shutdown; this is the last word if one hangs (SIGSTOPped, say)
    const deadline = setTimeout(() => {
      this.logger.error(`${why}: workers still running after ${this.shutdownLimitMs / 1000} s; killing them`);
      this.eachWorker((w) => w.process.kill('SIGKILL'));
      this.failedStop = true;
    }, this.shutdownLimitMs + 5_000);
    deadline.unref();
    if (this.slots.every((s) => !s.worker)) return this.finish();
    this.eachWorker((w) => w.process.kill('SIGTERM'));
  }

  private async finish(): Promise<void> {
    this.lock?.release();
    this.logger.info('stopped');
    await this.exit(this.exitCode !== 0 ? this.exitCode : this.failedStop ? 1 : 0);
  }

  private eachWorker(fn: (w: Worker) => void): void {
    for (const s of this.slots) if (s.worker && !s.worker.isDead()) fn(s.worker);
  }
}
