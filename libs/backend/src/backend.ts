import type { BackendConfig } from '@app/config';
import { Spool, SpoolFullError, type SpoolBacklog, type SpoolRecord } from '@app/spool';
import { type ContextLogger, loggerFor } from '@app/logging';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendClient } from './backend-client';
import { type BackendObserver, NO_OBSERVER } from './backend-observer';
import type { BufferPool } from './buffer-pool';
import { type RejectedEntry, RejectedRecords } from './rejected-records';
import { type HealthOverride, OPEN_REPLAY_GATE, type ReplayGate } from './replay-gate';
import { type Batch, type BatchAnswer, WriteBatcher, batchOf } from './write-batcher';
import { WRITE_OK, WRITE_SPOOLED, type WriteOutcome } from './write-outcome';

/** The longest wait between replay attempts to a backend that refuses them for its state (the first is rewriteInterval, doubled each time). */
const MAX_REFUSAL_BACKOFF_MS = 30_000;
/** Halvings of a replayed record that the backend finds too large (413) before a single line is set aside. */
const MAX_SPLIT_DEPTH = 24;

/** Why a backend does not take the proxy's writes although it answers: its state, not the lines. */
export interface Refusal {
  since: number;
  status: number;
  error: string;
  /**
   * A client-class answer that this backend alone gave while its replicas took the same lines (an rp
   * or a field type only it lacks): at replay the same answer means the same state, and holds the
   * replay instead of setting the record aside.
   */
  answer?: string;
}

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
  /** Set while the backend refuses the proxy's writes for its state (database missing, credentials refused): its writes wait in the spool. */
  refusing?: Refusal;
  /** Records the backend refused for good on replay, set aside (not deleted) for an operator. */
  rejected?: { records: number; bytes: number; maxBytes: number };
  spool: SpoolBacklog & {
    /** Age of the oldest record waiting, in ms (null when the spool is empty). */
    oldestAgeMs: number | null;
    replaying: boolean;
    replayedRecords: number;
    /** Records set aside this process's lifetime (see `rejected` for what the store holds). */
    rejectedOnReplay: number;
    /** The spool's cap (spoolMaxBytes). */
    maxBytes: number;
    /** Whether the spool refused its last append for lack of room (and nothing has been freed since). */
    full: boolean;
    /** A backlog that waits for a replay slot from the leading sentinel. */
    waitingForSlot?: boolean;
    /** Set while the spool's disk fails (no space, I/O errors): what, since when, and in which step. */
    diskError?: { since: number; problem: string; during: string };
  };
}

/**
 * One configured InfluxDB: its HTTP client, its write batcher, its spool and its health as this
 * proxy sees it. A batch is acknowledged when the backend took it or when it is fsynced in the spool:
 * while the backend is down or has a backlog, batches join the spool behind what is already there,
 * and a replay loop delivers the backlog oldest-first, one record in flight, once the backend is up.
 */
export class Backend {
  private readonly logger: ContextLogger = loggerFor(Backend.name);
  readonly client: BackendClient;
  readonly batcher: WriteBatcher;
  private spool?: Spool;
  private rejected?: RejectedRecords;
  private refusal?: Refusal;
  private refusalBackoff = 0;
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
  /** The spool's disk failing (ENOSPC, EIO…): since when, and what; cleared by the next success. */
  private diskError?: { since: number; problem: string; during: string };
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
    this.batcher = new WriteBatcher((batch) => this.sendBatch(batch), {
      maxRowLimit: config.maxRowLimit,
      maxBatchBytes: config.maxBatchBytes,
      concurrency: config.concurrency,
      release: pool ? (chunk: Buffer) => pool.release(chunk) : undefined,
    });
  }

  /** Opens the spool in `dir` (recovering it) and starts health checks; the first check runs at once. */
  async start(spoolDir: string): Promise<void> {
    this.spool = await Spool.open(spoolDir, {
      name: this.name,
      maxBytes: this.config.spoolMaxBytes,
      onCorruptTail: ({ file, offset, droppedBytes }) =>
        this.logger.error(`backend ${this.name}: spool ${file} had a torn or corrupt tail at ${offset}; truncated ${droppedBytes} bytes`),
    });
    if (!this.spool.isEmpty) {
      const b = this.spool.backlog;
      this.logger.log(`backend ${this.name}: spool holds ${b.records} records (${b.bytes} bytes) to replay`);
    }
    try {
      this.rejected = await RejectedRecords.open(join(spoolDir, 'rejected'), this.name, this.config.rejectedMaxBytes);
    } catch (err) {
      await this.spool.close();
      throw err;
    }
    if (this.rejected.records > 0) {
      this.logger.warn(`backend ${this.name}: ${this.rejected.records} records it refused on replay are set aside (see /admin/rejected)`);
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
      ...(this.refusal ? { refusing: { ...this.refusal } } : {}),
      rejected: {
        records: this.rejected?.records ?? 0,
        bytes: this.rejected?.bytes ?? 0,
        maxBytes: this.config.rejectedMaxBytes,
      },
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
        ...(this.diskError ? { diskError: { ...this.diskError } } : {}),
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
    await this.rejected?.close();
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

  private async sendBatch(batch: Batch): Promise<BatchAnswer> {
    if (this.closing && this.successor) {
      let next: Backend;
      try {
        next = await this.successor;
      } catch (err) {
        return {
          kind: 'unavailable',
          error: `backend ${this.name} is being replaced and its replacement failed: ${(err as Error).message}`,
        };
      }
      return next.sendBatch(batch);
    }
    const spool = this.spool;
    if (spool && (!this.isHealthy || !spool.isEmpty || this.refusal)) return this.toSpool(batch);
    const started = performance.now();
    const outcome = await this.client.write(batch);
    const chunks = batch.chunks;
    // several requests' lines refused as a client's: each gets influxd's answer to its own lines, never another's
    if (outcome.kind === 'rejected' && chunks.length > 1) return this.sendEachAlone(batch);
    this.observer.batchSent(batch.lines, (performance.now() - started) / 1000, outcome);
    switch (outcome.kind) {
      case 'ok':
        return outcome;
      case 'rejected':
        return { kind: 'rejected', status: outcome.status, error: outcome.error, body: Buffer.from(chunks[0]) };
      case 'refused':
        this.markRefusing(outcome);
        return spool ? this.toSpool(batch) : outcome;
      case 'unavailable':
        this.markDown(outcome.error);
        return spool ? this.toSpool(batch) : outcome;
    }
  }

  /** Sends a batch's chunks (its requests' parts) one by one, in order: one outcome per chunk. */
  private async sendEachAlone(batch: Batch): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = [];
    for (let i = 0; i < batch.chunks.length; i++) {
      const one = batchOf(batch.rp, batch.precision, batch.chunks[i], batch.chunkLines[i], batch.db);
      outcomes.push((await this.sendBatch(one)) as WriteOutcome);
    }
    return outcomes;
  }

  /**
   * Keeps lines that this backend refused while its replicas took them (the refusal is its state, not
   * the request's): they wait in its spool like a down backend's, and it is marked refusing.
   */
  async keepForLater(
    rp: string,
    precision: string,
    body: Buffer,
    lines: number,
    refusal: { status: number; error: string },
    db = '',
  ): Promise<WriteOutcome> {
    this.markRefusing({ status: refusal.status, error: `${refusal.error} (its replicas took the same lines)`, answer: refusal.error });
    if (!this.spool) return { kind: 'unavailable', error: `backend ${this.name} has no spool` };
    return this.toSpool(batchOf(rp, precision, body, lines, db));
  }

  private async toSpool(batch: Batch): Promise<WriteOutcome> {
    const { db, rp, precision, chunks, bytes, lines } = batch;
    // a record is one buffer: gather the chunks into a pooled one, given back once the append settles
    let gathered: Buffer | undefined;
    if (chunks.length > 1) {
      gathered = this.pool ? this.pool.acquire(bytes) : Buffer.allocUnsafe(bytes);
      let at = 0;
      for (const c of chunks) at += c.copy(gathered, at);
    }
    const body = gathered ?? chunks[0];
    try {
      await this.spool!.append(db ? { db, rp, precision, body, lines } : { rp, precision, body, lines });
    } catch (err) {
      if (err instanceof SpoolFullError) {
        this.observer.spoolRefused(lines, 'full');
        this.spoolFull = true;
        this.logger.warn(`backend ${this.name}: ${err.message}; answering 503`);
        return { kind: 'unavailable', error: err.message };
      }
      this.observer.spoolRefused(lines, 'disk');
      this.diskFailed('append', err);
      // the client learns what happened, not the file names or errno of this machine
      return {
        kind: 'unavailable',
        error: `backend ${this.name} is unavailable and its spool cannot take the write (${diskProblem(err)})`,
      };
    } finally {
      if (gathered) this.pool?.release(gathered);
    }
    this.diskRecovered('append');
    this.spoolFull = false;
    this.observer.spooled(lines);
    this.kickReplay();
    return WRITE_SPOOLED;
  }

  /** Records set aside (refused for good on replay), oldest first. */
  listRejected(limit: number): Promise<RejectedEntry[]> {
    return this.rejected ? this.rejected.list(limit) : Promise.resolve([]);
  }

  /**
   * Puts every set-aside record back at the end of the spool (after the operator fixed the cause,
   * e.g. created the retention policy); the replay delivers them. Resolves with what was moved.
   */
  async retryRejected(): Promise<{ records: number; lines: number }> {
    const rejected = this.rejected;
    const spool = this.spool;
    if (!rejected || !spool) return { records: 0, lines: 0 };
    const moved = await rejected.takeAll((record) => spool.append(record));
    if (moved.records > 0) {
      this.logger.warn(`backend ${this.name}: ${moved.records} rejected records (${moved.lines} lines) put back to replay`);
      this.kickReplay();
    }
    return moved;
  }

  /** Deletes every set-aside record, at an operator's word: counted and logged. */
  async dropRejected(): Promise<{ records: number; lines: number }> {
    if (!this.rejected) return { records: 0, lines: 0 };
    const dropped = await this.rejected.takeAll(() => Promise.resolve());
    if (dropped.records > 0) {
      this.observer.rejectedDropped(dropped.lines);
      this.logger.warn(`backend ${this.name}: ${dropped.records} rejected records (${dropped.lines} lines) dropped by an operator`);
    }
    return dropped;
  }

  /** Starts the replay loop when the backend is up, has a backlog and the gate allows it; one loop at a time. */
  private kickReplay(): void {
    if (this.replay || this.closing || !this.isHealthy || !this.spool || this.spool.isEmpty) return;
    if (Date.now() < this.replayNotBefore) return;
    if (!this.gate.mayReplay(this.name)) return;
    this.replay = this.replayBacklog()
      .then(
        () => this.diskRecovered('replay'),
        (err: unknown) => {
          // a disk error while reading the spool or persisting its position (ENOSPC, EIO): nothing is
          // lost (the record stays un-acked and is sent again), the replay waits and tries again
          this.diskFailed('replay', err);
          this.replayNotBefore = Date.now() + Math.max(1_000, this.config.rewriteInterval);
        },
      )
      .finally(() => {
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
      let outcome = await this.deliver(record);
      if (outcome.kind === 'rejected' && this.refusal?.answer === outcome.error) {
        // the answer that marked this backend's state when its replicas took the same lines: still its state
        outcome = { kind: 'refused', status: outcome.status, error: this.refusal.error };
      }
      if (outcome.kind === 'unavailable') {
        // wait rewriteInterval (and for the health checks to see it up again) before the next attempt
        this.markDown(outcome.error);
        this.replayNotBefore = Date.now() + this.config.rewriteInterval;
        return;
      }
      if (outcome.kind === 'refused') {
        // the backend's state (its database is gone, it refuses our credentials): keep every record,
        // try again later, and deliver all of them once it takes writes again
        this.markRefusing(outcome);
        this.refusalBackoff = Math.min(
          this.refusalBackoff ? this.refusalBackoff * 2 : this.config.rewriteInterval,
          Math.max(MAX_REFUSAL_BACKOFF_MS, this.config.rewriteInterval),
        );
        this.replayNotBefore = Date.now() + this.refusalBackoff;
        return;
      }
      if (outcome.kind === 'rejected') {
        // the record's own fault, for good (its rp was dropped, a field changed type): set it aside
        // with the reason, where an operator can see it, retry or drop it, and go on with the next one
        const kept = await this.setAside(record, outcome);
        if (!kept) return;
      }
      this.clearRefusal();
      await spool.ack();
      // counted once the spool has let it go: a scrape never sees it both replayed and waiting, and a
      // record sent again after a failed ack (a full disk) is not counted twice
      if (outcome.kind !== 'rejected') this.observer.replayed(record.lines, outcome);
      this.spoolFull = false;
      this.replayedRecords++;
      lines += record.lines;
    }
  }

  /**
   * Writes a replayed record. A record too large for the backend (413: the proxy merged it) is sent
   * in line-aligned halves; a single line that is still too large is the record's fault.
   */
  private async deliver(record: SpoolRecord, depth = 0): Promise<WriteOutcome> {
    const batch = batchOf(record.rp, record.precision, record.body, record.lines, record.db ?? '');
    let outcome = await this.client.write(batch);
    // a refusal influxd gives only once (it has taken the name by now): not a reason to set lines aside
    if (outcome.kind === 'rejected' && outcome.once) outcome = await this.client.write(batch);
    if (outcome.kind !== 'rejected' || outcome.status !== 413 || depth >= MAX_SPLIT_DEPTH) return outcome;
    const halves = splitLines(record);
    if (!halves) return outcome;
    for (const half of halves) {
      const part = await this.deliver(half, depth + 1);
      if (part.kind === 'unavailable' || part.kind === 'refused') return part;
      if (part.kind === 'rejected') {
        if (!(await this.setAside(half, part)))
          return { kind: 'unavailable', error: `rejected-record store of backend ${this.name} has no room` };
      } else {
        this.observer.replayed(half.lines, part);
      }
    }
    return WRITE_OK;
  }

  /** Moves a record the backend refused for good into the rejected store; false (replay held) when it has no room. */
  private async setAside(record: SpoolRecord, refusal: { status: number; error: string }): Promise<boolean> {
    try {
      await this.rejected!.add(record, refusal.status, refusal.error);
    } catch (err) {
      const why = err instanceof SpoolFullError ? 'it is full' : (err as Error).message;
      this.markRefusing({
        status: refusal.status,
        error: `a record was refused (${refusal.error}) and the rejected-record store cannot keep it: ${why}`,
      });
      this.replayNotBefore = Date.now() + Math.max(MAX_REFUSAL_BACKOFF_MS, this.config.rewriteInterval);
      return false;
    }
    this.rejectedOnReplay++;
    this.observer.setAside(record.lines);
    this.logger.warn(
      `backend ${this.name}: replayed record of ${record.lines} lines refused (${refusal.status}): ${refusal.error}; set aside (see /admin/rejected)`,
    );
    return true;
  }

  /** A spool disk error: logged once per episode (with the details the client is not shown). */
  private diskFailed(during: string, err: unknown): void {
    const problem = diskProblem(err);
    if (!this.diskError) {
      this.logger.error(
        `backend ${this.name}: spool disk error during ${during}: ${(err as Error)?.message ?? err}; writes that need the spool get 503, the replay waits`,
      );
    }
    this.diskError = { since: this.diskError?.since ?? Date.now(), problem, during };
  }

  private diskRecovered(during: string): void {
    if (!this.diskError || (during === 'replay' && this.diskError.during === 'append')) return;
    this.logger.log(`backend ${this.name}: spool disk works again (failing since ${new Date(this.diskError.since).toISOString()})`);
    this.diskError = undefined;
  }

  /** The backend refuses writes for its state: logged once per episode. */
  private markRefusing(outcome: { status: number; error: string; answer?: string }): void {
    if (!this.refusal) {
      this.logger.warn(`backend ${this.name} refuses writes (${outcome.status}): ${outcome.error}; keeping them in its spool`);
      this.refusal = { since: Date.now(), status: outcome.status, error: outcome.error, answer: outcome.answer };
    } else {
      this.refusal = { ...this.refusal, status: outcome.status, error: outcome.error, answer: outcome.answer ?? this.refusal.answer };
    }
  }

  private clearRefusal(): void {
    this.refusalBackoff = 0;
    if (!this.refusal) return;
    this.logger.log(`backend ${this.name} takes writes again (refused since ${new Date(this.refusal.since).toISOString()})`);
    this.refusal = undefined;
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

/** A record's lines in two line-aligned halves, or null for a single line. */
function splitLines(record: SpoolRecord): [SpoolRecord, SpoolRecord] | null {
  const body = record.body;
  let cut = body.indexOf(0x0a, body.length >> 1);
  if (cut < 0 || cut === body.length - 1) cut = body.lastIndexOf(0x0a, (body.length >> 1) - 1);
  if (cut < 0 || cut === body.length - 1) return null;
  const first = body.subarray(0, cut + 1);
  const second = body.subarray(cut + 1);
  const firstLines = countLines(first);
  return [
    { ...record, body: first, lines: firstLines },
    { ...record, body: second, lines: Math.max(0, record.lines - firstLines) },
  ];
}

function countLines(body: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(0x0a); i >= 0; i = body.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** What went wrong with a spool disk, in words without paths or errno names. */
function diskProblem(err: unknown): string {
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'its spool disk is full';
    case 'EROFS':
      return 'its spool disk is read-only';
    case 'EIO':
      return 'its spool disk has I/O errors';
    case 'EMFILE':
    case 'ENFILE':
      return 'the proxy has no file descriptors left';
    default:
      return 'its spool failed';
  }
}
