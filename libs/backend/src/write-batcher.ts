import type { WriteOutcome } from './write-outcome';

/**
 * Lines for one backend with one (rp, precision): client requests' parts, back to back. What the
 * batcher hands to its sender, what the client writes and what the spool keeps travel as this one
 * object (one per batch, never one per line).
 */
export interface Batch {
  /** The backend database to write into; '' for the backend's own `db` (a single-database proxy). */
  readonly db?: string;
  readonly rp: string;
  readonly precision: string;
  /** One chunk per append (a client request's part), in order. */
  readonly chunks: Buffer[];
  /** The lines of each chunk. */
  readonly chunkLines: number[];
  bytes: number;
  lines: number;
}

/** A batch of one buffer (a spooled record, one request's part). */
export function batchOf(rp: string, precision: string, body: Buffer, lines: number, db = ''): Batch {
  return { db, rp, precision, chunks: [body], chunkLines: [lines], bytes: body.length, lines };
}

/** One outcome for the whole batch, or one per chunk (a batch split back into its requests). */
export type BatchAnswer = WriteOutcome | readonly WriteOutcome[];

/**
 * Sends one batch and resolves with the backend's answer once the chunks are no longer needed.
 * May reject; the batcher turns that into an `unavailable` outcome.
 */
export type BatchSender = (batch: Batch) => Promise<BatchAnswer>;

interface OpenBatch extends Batch {
  /** One per append, in the order of `chunks`: a promise's resolve, or add()'s `answered`. */
  readonly answers: ((outcome: WriteOutcome) => void)[];
  /** performance.now() when its first chunk came: a lingering batch leaves `lingerMs` after it. */
  readonly openedAt: number;
}

export interface BatcherLimits {
  /** Most lines in one batch. */
  maxRowLimit: number;
  /** Most bytes in one batch (a single append larger than this goes alone). */
  maxBatchBytes: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Called with each chunk once its batch is answered (chunks handed to append() belong to the batcher). */
  release?: (chunk: Buffer) => void;
}

/**
 * Batches per (rp, precision) for one backend. A batch is sent as soon as a send slot is free, so a
 * lone write goes out at once; while every slot is busy, writes pile into the open batch (up to
 * maxRowLimit lines and maxBatchBytes) and leave together when a slot frees. With a linger (set for
 * a proxy in `ackMode: buffered` from the backend's `interval`), a batch waits until it is `lingerMs`
 * old or holds LINGER_BYTES, so small writes gather into few larger batches. Order per backend is the order
 * of append. Each append is answered with its own outcome: a sender may split a batch back into its
 * chunks (a client error in one request's lines is that request's alone).
 */
export class WriteBatcher {
  private readonly open = new Map<string, OpenBatch>();
  private readonly ready: OpenBatch[] = [];
  private inFlight = 0;
  private pumpScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private lingerMs = 0;
  private lingerTimer?: NodeJS.Timeout;

  constructor(
    private readonly send: BatchSender,
    private readonly limits: BatcherLimits,
  ) {}

  /**
   * Adds whole lines (each ending in '\n') to the batch for (db, rp, precision); resolves with this
   * chunk's outcome. `db` is '' (the backend's own) except on a proxy serving several databases.
   */
  append(rp: string, precision: string, chunk: Buffer, lines: number, db = ''): Promise<WriteOutcome> {
    return new Promise((resolve) => this.add(rp, precision, chunk, lines, db, resolve));
  }

  /**
   * append() for a caller that does not wait (a write already answered, `ackMode: buffered`): `answered`
   * is called with this chunk's outcome, and no promise is made per write.
   */
  add(rp: string, precision: string, chunk: Buffer, lines: number, db: string, answered: (outcome: WriteOutcome) => void): void {
    // the common (rp, precision) of a single-database proxy: no key string built per append
    const key = db === '' ? (rp === '' && precision === '' ? DEFAULT_KEY : rp + '\n' + precision) : db + '\u0000' + rp + '\n' + precision;
    let batch = this.open.get(key);
    if (batch && (batch.lines + lines > this.limits.maxRowLimit || batch.bytes + chunk.length > this.limits.maxBatchBytes)) {
      this.close(key, batch);
      batch = undefined;
    }
    if (!batch) {
      batch = newBatch(db, rp, precision);
      this.open.set(key, batch);
    }
    batch.answers.push(answered);
    batch.chunks.push(chunk);
    batch.chunkLines.push(lines);
    batch.bytes += chunk.length;
    batch.lines += lines;
    if (
      batch.lines >= this.limits.maxRowLimit ||
      batch.bytes >= this.limits.maxBatchBytes ||
      (this.lingerMs > 0 && batch.bytes >= LINGER_BYTES)
    ) {
      this.close(key, batch);
    }
    this.schedulePump();
  }

  /**
   * How long a batch that is not full may wait for more writes before it is sent (0: not at all).
   * Only for writes already answered (`ackMode: buffered`): a durable 204 waits for the send.
   * Lowering it sends what has waited long enough at once.
   */
  set linger(ms: number) {
    if (ms === this.lingerMs) return;
    this.lingerMs = ms;
    this.stopLingerTimer();
    this.schedulePump();
  }

  /** Batches and lines not yet answered. */
  get pending(): { batches: number; inFlight: number } {
    return { batches: this.ready.length + this.open.size, inFlight: this.inFlight };
  }

  /** Sends everything that is buffered and resolves once nothing is left in flight. */
  async drain(): Promise<void> {
    this.stopLingerTimer();
    for (const [key, batch] of this.open) this.close(key, batch);
    this.pump();
    if (this.inFlight === 0 && this.ready.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private close(key: string, batch: OpenBatch): void {
    this.open.delete(key);
    this.ready.push(batch);
  }

  /** Deferred by one turn so that writes finishing in the same turn share a batch. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.limits.concurrency) {
      let batch = this.ready.shift();
      if (!batch) {
        const first = this.open.entries().next();
        if (first.done) break;
        // the oldest open batch (a Map keeps insertion order) waits out its linger, by one timer
        if (this.lingerMs > 0 && !this.lingeredEnough(first.value[1])) break;
        this.close(first.value[0], first.value[1]);
        batch = this.ready.shift()!;
      }
      this.dispatch(batch);
    }
    if (this.inFlight === 0 && this.ready.length === 0 && this.open.size === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** True when `batch` has waited `lingerMs`; else arms the timer that pumps when it has. */
  private lingeredEnough(batch: OpenBatch): boolean {
    const left = batch.openedAt + this.lingerMs - performance.now();
    if (left <= 0) return true;
    if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.pump();
      }, Math.ceil(left));
    }
    return false;
  }

  private stopLingerTimer(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  private dispatch(batch: OpenBatch): void {
    this.inFlight++;
    const settle = (answer: BatchAnswer) => {
      this.inFlight--;
      const release = this.limits.release;
      if (release) for (const chunk of batch.chunks) release(chunk);
      const answers = batch.answers;
      if (isPerChunk(answer)) for (let i = 0; i < answers.length; i++) deliver(answers[i], answer[i] ?? MISSING);
      else for (let i = 0; i < answers.length; i++) deliver(answers[i], answer);
      this.pump();
    };
    this.send(batch).then(settle, (err: unknown) => settle({ kind: 'unavailable', error: String((err as Error)?.message ?? err) }));
  }
}

const DEFAULT_KEY = '\n';

/**
 * A lingering batch leaves once it holds this much, whatever its age: about a hundred one-point
 * writes, enough to spread a send's cost, while the writes' objects still die young (a batch of
 * 10 000 one-point writes, held until maxRowLimit, kept them long enough to reach V8's old space,
 * and the 1-point bench ran at 43 k instead of 45–47 k requests/s).
 */
const LINGER_BYTES = 16 * 1024;

const MISSING: WriteOutcome = Object.freeze({ kind: 'unavailable', error: 'no answer for this part of the batch' });

/** Calls one append's `answered`; one that throws (a bug) is reported as uncaught without keeping the batch's other appends from their answers. */
function deliver(answered: (outcome: WriteOutcome) => void, outcome: WriteOutcome): void {
  try {
    answered(outcome);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

function isPerChunk(answer: BatchAnswer): answer is readonly WriteOutcome[] {
  return Array.isArray(answer);
}

function newBatch(db: string, rp: string, precision: string): OpenBatch {
  return { db, rp, precision, chunks: [], chunkLines: [], bytes: 0, lines: 0, answers: [], openedAt: performance.now() };
}
