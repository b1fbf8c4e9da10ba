import type { BackendConfig } from '@app/config';
import { Spool, SpoolFullError, type SpoolBacklog } from '@app/spool';
import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendClient } from './backend-client';
import { type BackendObserver, NO_OBSERVER } from './backend-observer';
import type { BufferPool } from './buffer-pool';
import { WriteBatcher } from './write-batcher';
import type { WriteOutcome } from './write-outcome';

export interface BackendStatus {
  healthy: boolean;
  since: number;
  lastError?: string;
  version?: string;
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
  private healthy = true;
  private since = Date.now();
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

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
    private readonly pool?: BufferPool,
    private readonly observer: BackendObserver = NO_OBSERVER,
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

  get isHealthy(): boolean {
    return this.healthy;
  }

  get version(): string | undefined {
    return this.client.version;
  }

  status(): BackendStatus {
    const backlog = this.spool?.backlog ?? { records: 0, bytes: 0, oldestAt: null };
    return {
      healthy: this.healthy,
      since: this.since,
      lastError: this.lastError,
      version: this.client.version,
      spool: {
        ...backlog,
        oldestAgeMs: backlog.oldestAt === null ? null : Date.now() - backlog.oldestAt,
        replaying: this.replay !== undefined,
        replayedRecords: this.replayedRecords,
        rejectedOnReplay: this.rejectedOnReplay,
        maxBytes: this.config.spoolMaxBytes,
        full: this.spoolFull || backlog.bytes >= this.config.spoolMaxBytes,
      },
    };
  }

  /** Stops checks, sends or spools what is buffered, finishes the replay step in flight, closes the spool. */
  async drain(): Promise<void> {
    clearInterval(this.timer);
    await this.batcher.drain();
    this.closing = true;
    await this.replay;
    await this.spool?.close();
    await this.client.close();
  }

  private async sendBatch(
    rp: string,
    precision: string,
    chunks: Buffer[],
    bytes: number,
    lines: number,
  ): Promise<WriteOutcome> {
    const spool = this.spool;
    if (spool && (!this.healthy || !spool.isEmpty)) return this.toSpool(rp, precision, chunks, bytes, lines);
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

  /** Starts the replay loop when the backend is up and has a backlog; one loop at a time. */
  private kickReplay(): void {
    if (this.replay || this.closing || !this.healthy || !this.spool || this.spool.isEmpty) return;
    if (Date.now() < this.replayNotBefore) return;
    this.replay = this.replayBacklog().finally(() => {
      this.replay = undefined;
    });
  }

  private async replayBacklog(): Promise<void> {
    const spool = this.spool!;
    const rate = this.config.replayLinesPerSecond;
    const started = Date.now();
    let lines = 0;
    while (!this.closing && this.healthy) {
      if (rate > 0) {
        // keep the replay under `rate` lines/s on average since this pass began
        const due = started + (lines / rate) * 1000 - Date.now();
        if (due > 0) await sleep(Math.min(due, 5_000));
      }
      const record = await spool.peek();
      if (!record) return;
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
    if (this.healthy) this.setDown(error);
  }

  private setDown(error: string): void {
    this.healthy = false;
    this.since = Date.now();
    this.logger.warn(`backend ${this.name} is down: ${error}`);
  }
}
