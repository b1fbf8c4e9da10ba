import { type BackendClient, type QueryRequest, type WriteOutcome, batchOf } from '@app/backend';
import { quoteIdent } from '@app/influxql';
import { SourceError, msgpackResponses } from './msgpack-answer-reader';
import { type LineSink, seriesOf, seriesToLines } from '@app/query/rows-to-lines';
import type { TimeWindow } from './job-model';
import { type TokenBucket, abortError, sleep } from './token-bucket';

/** One copy: a measurement of one rp, from the first source that answers to every target. */
export interface CopySpec {
  readonly measurement: string;
  readonly rp: string;
  readonly sources: readonly string[];
  readonly targets: readonly string[];
}

export interface CopyTuning {
  /** Rows per chunk asked of the source. */
  readonly chunkRows: number;
  /** Lines per write. */
  readonly batchLines: number;
  /** Bytes per write (about). */
  readonly batchBytes: number;
  /** Writes in flight per target while the next batch is read. */
  readonly writesInFlight: number;
  /** Tries of one write before the step fails. */
  readonly writeAttempts: number;
  /** First retry's delay; doubled each time. */
  readonly retryBaseMs: number;
}

export const DEFAULT_COPY_TUNING: CopyTuning = {
  chunkRows: 10_000,
  batchLines: 5_000,
  batchBytes: 4 << 20,
  writesInFlight: 2,
  writeAttempts: 5,
  retryBaseMs: 250,
};

export interface CopyContext {
  readonly clientOf: (backend: string) => BackendClient;
  readonly bucket: TokenBucket;
  readonly signal: AbortSignal;
  readonly tuning: CopyTuning;
  /** Sources that failed earlier in this run: tried after the others. */
  readonly failedSources: Set<string>;
  readonly warn: (message: object) => void;
}

export interface CopyResult {
  readonly points: number;
  readonly bytes: number;
  readonly source: string;
}

/** A write that could not be done: the step fails (the job may be resumed later). */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/**
 * Copies one window: `SELECT * FROM m WHERE time in window GROUP BY *` from the first source that
 * answers (chunked, msgpack, read as a stream), each row turned back into line protocol, batched, and
 * written with precision ns and the rp to every target. A source that fails (down, an error answer),
 * even midway, hands the whole window to the next source: points are idempotent, so what was already
 * written is harmlessly written again.
 */
export async function copyWindow(ctx: CopyContext, spec: CopySpec, window: TimeWindow): Promise<CopyResult> {
  const failures: string[] = [];
  const order = [...spec.sources.filter((s) => !ctx.failedSources.has(s)), ...spec.sources.filter((s) => ctx.failedSources.has(s))];
  for (const source of order) {
    try {
      const { points, bytes } = await copyFrom(ctx, spec, source, window);
      ctx.failedSources.delete(source);
      return { points, bytes, source };
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      ctx.failedSources.add(source);
      failures.push(err.message);
      ctx.warn({
        msg: 'copy source failed, trying the next',
        measurement: spec.measurement,
        rp: spec.rp,
        source,
        window,
        error: err.message,
      });
    }
  }
  throw new Error(`${spec.rp}.${spec.measurement} [${window.start}, ${window.end}): no source could be read: ${failures.join('; ')}`);
}

/** The statement that reads one window of one measurement. */
export function windowSelect(measurement: string, window: TimeWindow): string {
  return `SELECT * FROM ${quoteIdent(measurement)} WHERE time >= ${window.start}ms AND time < ${window.end}ms GROUP BY *`;
}

async function copyFrom(ctx: CopyContext, spec: CopySpec, source: string, window: TimeWindow): Promise<{ points: number; bytes: number }> {
  const request: QueryRequest = {
    method: 'POST',
    text: windowSelect(spec.measurement, window),
    rp: spec.rp,
    epoch: 'ns',
    chunked: 'true',
    chunkSize: String(ctx.tuning.chunkRows),
    accept: 'application/x-msgpack',
  };
  const writer = new BatchWriter(ctx, spec);
  try {
    for await (const response of msgpackResponses(ctx.clientOf(source), request, ctx.signal)) {
      const { series, error } = seriesOf(response);
      if (error !== undefined) throw new SourceError(`backend ${source}: ${error}`);
      for (const s of series) {
        seriesToLines(s, writer);
        if (writer.full()) await writer.flush();
      }
    }
    await writer.flush();
    await writer.drain();
  } finally {
    await writer.settle();
  }
  return { points: writer.points, bytes: writer.bytes };
}

/** Lines gathered into batches, each written to every target with a bounded number of writes in flight. */
class BatchWriter implements LineSink {
  points = 0;
  bytes = 0;
  private parts: string[] = [];
  private lines = 0;
  private chars = 0;
  private readonly inFlight: Promise<Error | undefined>[] = [];

  constructor(
    private readonly ctx: CopyContext,
    private readonly spec: CopySpec,
  ) {}

  line(text: string): void {
    this.parts.push(text);
    this.lines++;
    this.chars += text.length;
  }

  full(): boolean {
    return this.lines >= this.ctx.tuning.batchLines || this.chars >= this.ctx.tuning.batchBytes;
  }

  /** Sends the gathered lines (after the throttle lets them go), waiting first while too many writes are in flight. */
  async flush(): Promise<void> {
    if (this.lines === 0) return;
    const body = Buffer.from(this.parts.join(''), 'utf8');
    const lines = this.lines;
    this.parts = [];
    this.lines = 0;
    this.chars = 0;
    while (this.inFlight.length >= this.ctx.tuning.writesInFlight) await this.oldest();
    await this.ctx.bucket.take(lines, this.ctx.signal);
    this.inFlight.push(
      Promise.all(this.spec.targets.map((t) => this.writeWithRetry(t, body, lines))).then((errors) => errors.find((e) => e)),
    );
    this.points += lines;
    this.bytes += body.length;
  }

  /** Waits for every write in flight; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.oldest();
  }

  /** Waits for the writes in flight without throwing (a failed window must not leave writes behind it). */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
  }

  private async oldest(): Promise<void> {
    const error = await this.inFlight.shift()!;
    if (error) throw error;
  }

  private async writeWithRetry(target: string, body: Buffer, lines: number): Promise<Error | undefined> {
    const client = this.ctx.clientOf(target);
    const { writeAttempts, retryBaseMs } = this.ctx.tuning;
    let outcome: WriteOutcome | undefined;
    for (let attempt = 1; attempt <= writeAttempts; attempt++) {
      if (this.ctx.signal.aborted) return abortError(this.ctx.signal);
      outcome = await client.write(batchOf(this.spec.rp, 'ns', body, lines));
      if (outcome.kind === 'ok') return undefined;
      if (outcome.kind === 'rejected') {
        // points older than the target's retention policy keeps: the source will drop them too
        if (outcome.error.includes('points beyond retention policy dropped')) return undefined;
        return new TargetError(`backend ${target} refused ${this.spec.rp}.${this.spec.measurement}: ${outcome.status} ${outcome.error}`);
      }
      if (attempt < writeAttempts) {
        this.ctx.warn({ msg: 'copy write failed, retrying', target, measurement: this.spec.measurement, attempt, error: outcome.error });
        try {
          await sleep(retryBaseMs * 2 ** (attempt - 1), this.ctx.signal);
        } catch (err) {
          return err as Error;
        }
      }
    }
    const error = outcome && outcome.kind !== 'ok' ? outcome.error : 'unknown';
    return new TargetError(
      `backend ${target} did not take ${this.spec.rp}.${this.spec.measurement} after ${writeAttempts} tries: ${error}`,
    );
  }
}
