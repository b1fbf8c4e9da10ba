import type { BackendConfig } from '@app/config';
import { Spool, SpoolFullError, type SpoolBacklog } from '@app/spool';
import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendClient } from './backend-client';
import { type BackendObserver, NO_OBSERVER } from './backend-observer';
import type { BufferPool } from './buffer-pool';
import { type HealthOverride, OPEN_REPLAY_GATE, type ReplayGate } from './replay-gate';
import { WriteBatcher } from './write-batcher';
import type { WriteOutcome } from './write-outcome';

export interface BackendStatus {
  /** Whether writes and queries go to it now: the sentinel's view while a live sentinel publishes one, else the own checks. */
  healthy: boolean;
  since: number;
  lastError?: string;
  version?: string;
  /** Where `healthy` comes from. */
  source?: 'sentinel' | 'self';
  /** This proxy's own checks (pings every checkInterval, failed writes), whichever the source. */
  own?: { healthy: boolean; since: number; lastError?: string; writeFailed: boolean };
  /** The sentinel's view, while it counts. */
  sentinel?: { up: boolean; since: number; lastError: string | null; by: string };
  spool: SpoolBacklog & {
    /** Age of the oldest record waiting, in ms (null when the spool is empty). */
    oldestAgeMs: number | null;
    replaying: boolean;
    replayedRecords: number;
    rejectedOnReplay: number;
    /** The spool's cap (spoolMaxBytes). */
    maxBytes: number;
    /** Whether the spool refused its last append for lack of room (and nothing has been freed since). */
    full: boolean;
    /** A backlog that waits for a replay slot from the leading sentinel. */
    waitingForSlot?: boolean;
  };
}

/**
 * One configured InfluxDB: its HTTP client, its write batcher, its spool and its health as this
 * proxy sees it. A batch is acknowledged when the backend took it or when it is fsynced in the spool:
 * while the backend is down or has a backlog, batches join the spool behind what is already there,
 * and a replay loop delivers the backlog oldest-first, one record in flight, once the backend is up.
 */
export class Backend {
  private readonly logger = new Logger(Backend.name);
  readonly client: BackendClient;
  readonly batcher: WriteBatcher;
  private spool?: Spool;
  /** The own checks' verdict (pings, failed writes). */
  private healthy = true;
  private since = Date.now();
  /** Down by a failed write (not only by pings): this holds even against a sentinel that says up. */
  private writeFailed = false;
  private override?: HealthOverride;
  private failures = 0;
  private successes = 0;
  private lastError?: string;
  private timer?: NodeJS.Timeout;
  private checking = false;
  private replay?: Promise<void>;
  private replayedRecords = 0;
  private rejectedOnReplay = 0;
  private closing = false;
  private replayNotBefore = 0;
  /** Set when the spool refuses an append for lack of room; cleared by a later append or ack. */
  private spoolFull = false;
  /** The backend that replaces this one (same name, changed settings): batches sent after the drain go to it. */
  private successor?: Promise<Backend>;

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
    private readonly pool?: BufferPool,
    private readonly observer: BackendObserver = NO_OBSERVER,
    private readonly gate: ReplayGate = OPEN_REPLAY_GATE,
  ) {
    this.client = new BackendClient(name, config);
    this.batcher = new WriteBatcher(
      (rp, precision, chunks, bytes, lines) => this.sendBatch(rp, precision, chunks, bytes, lines),
      {
        maxRowLimit: config.maxRowLimit,
        concurrency: config.concurrency,
        release: pool ? (chunk: Buffer) => pool.release(chunk) : undefined,
      },
    );
  }

  /** Opens the spool in `dir` (recovering it) and starts health checks; the first check runs at once. */
  async start(spoolDir: string): Promise<void> {
    this.spool = await Spool.open(spoolDir, {
      name: this.name,
      maxBytes: this.config.spoolMaxBytes,
      onCorruptTail: ({ file, offset, droppedBytes }) =>
        this.logger.error(
          `backend ${this.name}: spool ${file} had a torn or corrupt tail at ${offset}; truncated ${droppedBytes} bytes`,
        ),
    });
    if (!this.spool.isEmpty) {
      const b = this.spool.backlog;
      this.logger.log(`backend ${this.name}: spool holds ${b.records} records (${b.bytes} bytes) to replay`);
    }
    void this.check();
    this.timer = setInterval(() => void this.check(), this.config.checkInterval);
    this.timer.unref();
  }

  /** The sentinel's view while one counts (and no write failed here since), else the own checks. */
  get isHealthy(): boolean {
    const o = this.liveOverride();
    return o ? o.up && !this.writeFailed : this.healthy;
  }

  /**
   * Feeds the health the leading sentinel published (undefined: none). It counts until its `expiresAt`;
   * after that, or without one, the own checks decide.
   */
  setHealthOverride(override: HealthOverride | undefined): void {
    this.override = override;
    this.kickReplay();
  }

  /** Tries to start the replay loop now (e.g. a replay slot was just granted). */
  resumeReplay(): void {
    this.kickReplay();
  }

  markFailing(error: string): void {
    this.markDown(error);
  }

  private liveOverride(): HealthOverride | undefined {
    const o = this.override;
    return o && Date.now() < o.expiresAt ? o : undefined;
  }

  get version(): string | undefined {
    return this.client.version;
  }

  status(): BackendStatus {
    const backlog = this.spool?.backlog ?? { records: 0, bytes: 0, oldestAt: null };
    const o = this.liveOverride();
    const healthy = this.isHealthy;
    const replaying = this.replay !== undefined;
    return {
      healthy,
      since: o && !this.writeFailed ? o.since : this.since,
      lastError: o && !this.writeFailed ? (o.lastError ?? undefined) : this.lastError,
      version: this.client.version,
      source: o ? 'sentinel' : 'self',
      own: { healthy: this.healthy, since: this.since, lastError: this.lastError, writeFailed: this.writeFailed },
      ...(o ? { sentinel: { up: o.up, since: o.since, lastError: o.lastError, by: o.by } } : {}),
      spool: {
        ...backlog,
        oldestAgeMs: backlog.oldestAt === null ? null : Date.now() - backlog.oldestAt,
        replaying: this.replay !== undefined,
        replayedRecords: this.replayedRecords,
        rejectedOnReplay: this.rejectedOnReplay,
        maxBytes: this.config.spoolMaxBytes,
        full: this.spoolFull || backlog.bytes >= this.config.spoolMaxBytes,
        waitingForSlot: backlog.records > 0 && healthy && !replaying && !this.gate.mayReplay(this.name),
      },
    };
  }

  /** Stops checks, sends or spools what is buffered, finishes the replay step in flight, closes the spool. */
  async drain(): Promise<void> {
    clearInterval(this.timer);
    // Batches still buffered go out here; the batches of writes arriving from now on (the topology
    // that routes to this backend is swapped only once its successor is ready) go to the successor.
    await this.batcher.drain();
    this.closing = true;
    await this.replay;
    await this.spool?.close();
    await this.client.close();
  }

  /**
   * Drains this backend and hands it over to its successor (the same name with changed settings, so
   * the same spool directory, which `start` may open only once this one has let go of it): writes keep
   * arriving here until the topology is swapped, and those this backend can no longer take are sent
   * through the successor once it has started. Resolves with the started successor.
   */
  handOver(start: () => Promise<Backend>): Promise<Backend> {
    const successor = this.drain().then(start);
    this.successor = successor;
    return successor;
  }

  private async sendBatch(
    rp: string,
    precision: string,
    chunks: Buffer[],
    bytes: number,
    lines: number,
  ): Promise<WriteOutcome> {
    if (this.closing && this.successor) {
      let next: Backend;
      try {
        next = await this.successor;
      } catch (err) {
        return { kind: 'unavailable', error: `backend ${this.name} is being replaced and its replacement failed: ${(err as Error).message}` };
      }
      return next.sendBatch(rp, precision, chunks, bytes, lines);
    }
    const spool = this.spool;
    if (spool && (!this.isHealthy || !spool.isEmpty)) return this.toSpool(rp, precision, chunks, bytes, lines);
    const started = performance.now();
    const outcome = await this.client.write(rp, precision, chunks, bytes);
    this.observer.batchSent(lines, (performance.now() - started) / 1000, outcome);
    if (outcome.kind !== 'unavailable') return outcome;
    this.markDown(outcome.error);
    if (!spool) return outcome;
    return this.toSpool(rp, precision, chunks, bytes, lines);
  }

  private async toSpool(
    rp: string,
    precision: string,
    chunks: Buffer[],
    bytes: number,
    lines: number,
  ): Promise<WriteOutcome> {
    // a record is one buffer: gather the chunks into a pooled one, given back once the append settles
    let gathered: Buffer | undefined;
    if (chunks.length > 1) {
      gathered = this.pool ? this.pool.acquire(bytes) : Buffer.allocUnsafe(bytes);
      let at = 0;
      for (const c of chunks) at += c.copy(gathered, at);
    }
    const body = gathered ?? chunks[0];
    try {
      await this.spool!.append({ rp, precision, body, lines });
    } catch (err) {
      this.observer.spoolRefused(lines);
      if (err instanceof SpoolFullError) {
        this.spoolFull = true;
        this.logger.warn(`backend ${this.name}: ${err.message}; answering 503`);
        return { kind: 'unavailable', error: err.message };
      }
      this.logger.error(`backend ${this.name}: spool append failed: ${(err as Error).message}`);
      return { kind: 'unavailable', error: `spool of backend ${this.name} failed: ${(err as Error).message}` };
    } finally {
      if (gathered) this.pool?.release(gathered);
    }
    this.spoolFull = false;
    this.observer.spooled(lines);
    this.kickReplay();
    return { kind: 'ok' };
  }

  /** Starts the replay loop when the backend is up, has a backlog and the gate allows it; one loop at a time. */
  private kickReplay(): void {
    if (this.replay || this.closing || !this.isHealthy || !this.spool || this.spool.isEmpty) return;
    if (Date.now() < this.replayNotBefore) return;
    if (!this.gate.mayReplay(this.name)) return;
    this.replay = this.replayBacklog().finally(() => {
      this.replay = undefined;
    });
  }

  private async replayBacklog(): Promise<void> {
    const spool = this.spool!;
    const rate = this.config.replayLinesPerSecond;
    const started = Date.now();
    let lines = 0;
    // the gate is asked before every record: a replay slot taken back stops the loop after the record in flight
    while (!this.closing && this.isHealthy && this.gate.mayReplay(this.name)) {
      if (rate > 0) {
        // keep the replay under `rate` lines/s on average since this pass began
        const due = started + (lines / rate) * 1000 - Date.now();
        if (due > 0) await sleep(Math.min(due, 5_000));
      }
      const record = await spool.peek();
      if (!record) {
        this.gate.drained(this.name);
        return;
      }
      const outcome = await this.client.write(record.rp, record.precision, [record.body], record.body.length);
      if (outcome.kind === 'unavailable') {
        // wait rewriteInterval (and for the health checks to see it up again) before the next attempt
        this.markDown(outcome.error);
        this.replayNotBefore = Date.now() + this.config.rewriteInterval;
        return;
      }
      if (outcome.kind === 'rejected') {
        // a 4xx is final: InfluxDB wrote the good lines of the batch and refuses the rest for good
        this.rejectedOnReplay++;
        this.logger.warn(`backend ${this.name}: replayed batch refused (${outcome.status}): ${outcome.error}`);
      }
      await spool.ack();
      this.spoolFull = false;
      this.observer.replayed(record.lines, outcome);
      this.replayedRecords++;
      lines += record.lines;
    }
  }

  private async check(): Promise<void> {
    if (this.checking || this.closing) return;
    this.checking = true;
    try {
      const result = await this.client.ping();
      if (result.ok) this.recordSuccess();
      else this.recordFailure(result.error ?? 'ping failed');
    } finally {
      this.checking = false;
    }
    this.kickReplay();
  }

  private recordSuccess(): void {
    this.failures = 0;
    if (!this.healthy && ++this.successes >= this.config.upAfter) {
      this.healthy = true;
      this.writeFailed = false;
      this.since = Date.now();
      this.logger.log(`backend ${this.name} is up`);
    }
  }

  private recordFailure(error: string): void {
    this.successes = 0;
    this.lastError = error;
    if (this.healthy && ++this.failures >= this.config.downAfter) this.setDown(error);
  }

  /** A failed write marks the backend down at once: what follows goes to the spool, in order. */
  private markDown(error: string): void {
    this.successes = 0;
    this.lastError = error;
    this.writeFailed = true;
    if (this.healthy) this.setDown(error);
  }

  private setDown(error: string): void {
    this.healthy = false;
    this.since = Date.now();
    this.logger.warn(`backend ${this.name} is down: ${error}`);
  }
}
