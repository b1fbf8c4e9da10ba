import type { WriteOutcome } from './write-outcome';

/**
 * Sends one batch — its chunks in order, `bytes` in all — and resolves with the backend's answer once
 * the chunks are no longer needed. May reject; the batcher turns that into an `unavailable` outcome.
 */
export type BatchSender = (rp: string, precision: string, chunks: Buffer[], bytes: number, lines: number) => Promise<WriteOutcome>;

interface Batch {
  readonly rp: string;
  readonly precision: string;
  readonly chunks: Buffer[];
  bytes: number;
  lines: number;
  readonly done: Promise<WriteOutcome>;
  resolve: (outcome: WriteOutcome) => void;
}

export interface BatcherLimits {
  /** Most lines in one batch. */
  maxRowLimit: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Called with each chunk once its batch is answered (chunks handed to append() belong to the batcher). */
  release?: (chunk: Buffer) => void;
}

/**
 * Batches per (rp, precision) for one backend. A batch is sent as soon as a send slot is free, so a
 * lone write goes out at once; while every slot is busy, writes pile into the open batch (up to
 * maxRowLimit lines) and leave together when a slot frees. Order per backend is the order of append.
 */
export class WriteBatcher {
  private readonly open = new Map<string, Batch>();
  private readonly ready: Batch[] = [];
  private inFlight = 0;
  private pumpScheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly send: BatchSender,
    private readonly limits: BatcherLimits,
  ) {}

  /** Adds whole lines (each ending in '\n') to the batch for (rp, precision); resolves when that batch is answered. */
  append(rp: string, precision: string, chunk: Buffer, lines: number): Promise<WriteOutcome> {
    const key = rp + '\n' + precision;
    let batch = this.open.get(key);
    if (batch && batch.lines + lines > this.limits.maxRowLimit) {
      this.close(key, batch);
      batch = undefined;
    }
    if (!batch) {
      batch = newBatch(rp, precision);
      this.open.set(key, batch);
    }
    batch.chunks.push(chunk);
    batch.bytes += chunk.length;
    batch.lines += lines;
    const done = batch.done;
    if (batch.lines >= this.limits.maxRowLimit) this.close(key, batch);
    this.schedulePump();
    return done;
  }

  /** Batches and lines not yet answered. */
  get pending(): { batches: number; inFlight: number } {
    return { batches: this.ready.length + this.open.size, inFlight: this.inFlight };
  }

  /** Sends everything that is buffered and resolves once nothing is left in flight. */
  async drain(): Promise<void> {
    for (const [key, batch] of this.open) this.close(key, batch);
    this.pump();
    if (this.inFlight === 0 && this.ready.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private close(key: string, batch: Batch): void {
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

  private dispatch(batch: Batch): void {
    this.inFlight++;
    const settle = (outcome: WriteOutcome) => {
      this.inFlight--;
      const release = this.limits.release;
      if (release) for (const chunk of batch.chunks) release(chunk);
      batch.resolve(outcome);
      this.pump();
    };
    this.send(batch.rp, batch.precision, batch.chunks, batch.bytes, batch.lines).then(settle, (err: unknown) =>
      settle({ kind: 'unavailable', error: String((err as Error)?.message ?? err) }),
    );
  }
}

function newBatch(rp: string, precision: string): Batch {
  let resolve!: (o: WriteOutcome) => void;
  const done = new Promise<WriteOutcome>((r) => (resolve = r));
  return { rp, precision, chunks: [], bytes: 0, lines: 0, done, resolve };
}
