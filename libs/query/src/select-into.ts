/**
 * SELECT … INTO through the proxy. influxd runs the SELECT and writes the rows back into its *own*
 * storage, which on one replica of several makes the replicas differ for good. So the proxy splits it:
 * the SELECT part (the statement without its INTO clause) runs on one healthy replica holding the source,
 * its rows come back as msgpack (which keeps integers apart from floats; see influx-msgpack.ts) in chunks,
 * and each chunk is turned into points the way influxd's `convertRowToPoints` does and written through the
 * proxy's own write path — routed by the *target* measurement's keymap, batched, spooled for a backend
 * that is down. The answer is influxd's: `result` / `written`.
 *
 * influxd's rules (coordinator/statement_executor.go writeInto, convertRowToPoints; query/iterator.go):
 * - measurement: the INTO name, or for `:MEASUREMENT` the row's own (source) measurement;
 * - tags: the row's tags (GROUP BY tags, `GROUP BY *`); every other column but `time` is a field;
 * - a null value is no field (fill(null) becomes fill(none) for a target); a row with no field is no point;
 *   NaN is null; ±Inf cannot be stored and drops the point;
 * - database: the request's (the proxy's); retention policy: the INTO clause's, else the request's `rp`,
 *   else the database default.
 */
import { escapeFieldKey } from '@app/line-protocol';
import { type Backend, type QueryRequest, type WriteOutcome, errorTextOf, versionOf } from '@app/backend';
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { type BackendQuery, describeError, headerOf, queryRequest } from './backend-query';
import { type MsgpackValue, NEED_MORE, readOne } from './influx-msgpack';
import type { StatementOutcome } from './query-result';
import { asMap, fieldText, seriesKey, timeText } from './rows-to-lines';

/** Rows per chunk asked of the backend (influxd's default chunk size). */
const CHUNK_ROWS = 10_000;
/** Line protocol handed to the write path at once: bounded, so a large INTO never builds one huge body. */
const WRITE_BYTES = 1 << 20;
/** The backend's answer is paused while this much of it waits to be read. */
const PAUSE_BYTES = 4 << 20;

/** Writes line protocol through the proxy's write path (route → batch → send/spool): each target backend's outcome. */
/** Writes the points through the proxy's write path; `db` is the client db on a proxy serving several (else absent). */
export type IntoWriter = (body: Buffer, rp: string, db?: string) => Promise<readonly { backend: string; outcome: WriteOutcome }[]>;

export interface IntoTargetSpec {
  /** The INTO measurement; undefined for `:MEASUREMENT`. */
  name?: string;
  /** The retention policy points are written into ('' = the database default). */
  rp: string;
}

export interface IntoRun {
  /** The SELECT without its INTO clause, for this backend's database. */
  text: string;
  query: BackendQuery;
  target: IntoTargetSpec;
  /** Whether a measurement routes to at least one backend (else its points would be dropped). */
  routes: (measurement: string) => boolean;
  write: IntoWriter;
}

/** How one backend's run ended. */
export type IntoResult =
  /** Done: this many points written (acknowledged or spooled by every target backend). */
  | { kind: 'written'; written: number }
  /** The statement's answer is an error (the backend's, or a write's refusal). */
  | { kind: 'error'; error: string }
  /** The backend failed before anything was written: another replica may run it. */
  | { kind: 'failed'; error: string };

/** Runs the SELECT on `backend` and writes what it returns. */
export async function runSelectInto(backend: Backend, run: IntoRun): Promise<IntoResult> {
  const p = run.query.params;
  const request = queryRequest(run.text, {
    ...run.query,
    method: 'POST',
    streamed: true,
    params: { ...p, chunked: 'true', chunkSize: String(CHUNK_ROWS), pretty: false },
    epoch: 'ns',
    accept: 'application/x-msgpack',
    acceptEncoding: undefined,
  });
  let answer: OpenAnswer;
  try {
    answer = await openAnswer(backend, request, run.query.signal);
  } catch (err) {
    return { kind: 'failed', error: `${backend.name}: ${describeError(err)}` };
  }
  const { status, headers } = answer;
  if (status >= 500) {
    const body = await answer.text();
    return { kind: 'failed', error: `${backend.name} answered ${status}: ${errorText(body)}` };
  }
  if (status !== 200) return { kind: 'error', error: errorText(await answer.text()) };
  const type = headerOf(headers, 'content-type') ?? '';
  if (!type.includes('msgpack')) {
    answer.abort();
    const version = versionOf(headers) ?? 'unknown';
    return {
      kind: 'error',
      error:
        `SELECT … INTO through the proxy needs msgpack answers (influxd ≥ 1.4) to keep integer fields integers; ` +
        `backend ${backend.name} (version ${version}) answered ${type || 'without a content type'}`,
    };
  }

  const writer = new PointWriter(run);
  let pending: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of answer.chunks) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      for (;;) {
        const one = readOne(pending, offset);
        if (one === NEED_MORE) break;
        offset = one.end;
        const error = await writer.response(one.value);
        if (error !== undefined) {
          answer.abort();
          return { kind: 'error', error };
        }
      }
      pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
    }
  } catch (err) {
    answer.abort();
    const what = `${backend.name}: ${describeError(err)}`;
    // Nothing written yet: another replica may run it. Otherwise say how far it got.
    if (writer.written === 0 && !writer.started) return { kind: 'failed', error: what };
    return { kind: 'error', error: `SELECT … INTO stopped after ${writer.written} points were written: ${what}` };
  }
  if (pending.length > 0) return { kind: 'error', error: `${backend.name}: the answer ended inside a msgpack value` };
  const error = await writer.flush();
  if (error !== undefined) return { kind: 'error', error };
  return { kind: 'written', written: writer.written };
}

/** influxd's answer to a SELECT … INTO: one `result` row, time 0 (an integer when `epoch` is set). */
export function writtenOutcome(written: number, epoch: string, messages?: StatementOutcome['messages']): StatementOutcome {
  const outcome: StatementOutcome = {
    series: [{ name: 'result', columns: ['time', 'written'], values: [[epoch !== '' ? 0 : '1970-01-01T00:00:00Z', written]] }],
  };
  if (messages && messages.length > 0) outcome.messages = messages;
  return outcome;
}

/** Rows → line protocol → the write path, in bounded pieces. */
export class PointWriter {
  written = 0;
  /** Whether any row has been read (a failover after that would write twice the count). */
  started = false;
  private lines: string[] = [];
  private bytes = 0;
  private pendingPoints = 0;
  private readonly routed = new Map<string, boolean>();

  constructor(private readonly run: Pick<IntoRun, 'target' | 'routes' | 'write'>) {}

  /** One decoded response (one chunk): its rows are converted; an error is the statement's answer. */
  async response(doc: MsgpackValue): Promise<string | undefined> {
    const res = asMap(doc);
    if (!res) return 'unreadable msgpack answer';
    if (typeof res.error === 'string') return res.error;
    const results = Array.isArray(res.results) ? res.results : [];
    for (const r of results) {
      const result = asMap(r);
      if (!result) continue;
      if (typeof result.error === 'string') return result.error;
      for (const s of Array.isArray(result.series) ? result.series : []) {
        const error = this.series(asMap(s));
        if (error !== undefined) return error;
        if (this.bytes >= WRITE_BYTES) {
          const failed = await this.flush();
          if (failed !== undefined) return failed;
        }
      }
    }
    return undefined;
  }

  /** Hands the lines gathered so far to the write path; an error is the statement's answer. */
  async flush(): Promise<string | undefined> {
    if (this.lines.length === 0) return undefined;
    const body = Buffer.from(this.lines.join(''), 'utf8');
    const points = this.pendingPoints;
    this.lines = [];
    this.bytes = 0;
    this.pendingPoints = 0;
    const outcomes = await this.run.write(body, this.run.target.rp);
    for (const { backend, outcome } of outcomes) {
      if (outcome.kind === 'rejected') return outcome.error;
      if (outcome.kind === 'unavailable') return `backend ${backend} could not take the points: ${outcome.error}`;
    }
    this.written += points;
    return undefined;
  }

  private series(s: { [key: string]: MsgpackValue } | undefined): string | undefined {
    if (!s) return undefined;
    const columns = Array.isArray(s.columns) ? s.columns.map(String) : [];
    const values = Array.isArray(s.values) ? s.values : [];
    if (values.length === 0) return undefined;
    this.started = true;
    const timeAt = columns.indexOf('time');
    if (timeAt < 0) return 'error finding time index in result';
    const name = this.run.target.name ?? (typeof s.name === 'string' ? s.name : '');
    let routes = this.routed.get(name);
    if (routes === undefined) {
      routes = this.run.routes(name);
      this.routed.set(name, routes);
    }
    if (!routes) {
      return `no backend takes measurement ${JSON.stringify(name)} (no keymap names it and there is no _default_); nothing more was written`;
    }
    const key = seriesKey(name, asMap(s.tags));
    const fieldKeys = columns.map((c) => `${escapeFieldKey(String(c))}=`);
    for (const row of values) {
      if (!Array.isArray(row)) continue;
      const time = timeText(row[timeAt]);
      if (time === undefined) continue;
      let fields = '';
      let storable = true;
      for (let i = 0; i < columns.length; i++) {
        if (i === timeAt) continue;
        const v = row[i];
        // influxd cannot store ±Inf: its convertRowToPoints drops the whole point, not the field
        if (v === Infinity || v === -Infinity) {
          storable = false;
          break;
        }
        const text = fieldText(v);
        if (text === undefined) continue;
        fields += `${fields === '' ? '' : ','}${fieldKeys[i]}${text}`;
      }
      if (!storable || fields === '') continue; // influxd drops a point it cannot store, or one without fields
      const line = `${key} ${fields} ${time}\n`;
      this.lines.push(line);
      this.bytes += line.length;
      this.pendingPoints++;
    }
    return undefined;
  }
}

/** influxd's error text of an answer body (one reader for the write and query paths). */
function errorText(body: string): string {
  return errorTextOf(0, body);
}

// ---------------------------------------------------------------------------------------------
// the backend's answer as an async stream of chunks, paused while the writes catch up

interface OpenAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  chunks: AsyncIterable<Buffer>;
  /** The whole (small) body as text: for error answers. */
  text(): Promise<string>;
  abort(): void;
}

function openAnswer(
  backend: Backend,
  request: QueryRequest,
  signal: ({ readonly aborted: boolean } & EventEmitter) | undefined,
): Promise<OpenAnswer> {
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    const queue: Buffer[] = [];
    let queued = 0;
    let ended = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    let opened = false;
    const abortReason = () => Object.assign(new Error('client closed the connection'), { name: 'AbortError' });
    const onClientGone = () => controller?.abort(abortReason());
    const settle = () => {
      signal?.off('abort', onClientGone);
      wake?.();
    };
    const chunks: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (queue.length > 0) {
            const chunk = queue.shift()!;
            queued -= chunk.length;
            if (controller?.paused && queued < PAUSE_BYTES / 2) controller.resume();
            yield chunk;
            continue;
          }
          if (failure) throw failure;
          if (ended) return;
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = undefined;
        }
      },
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal?.aborted) c.abort(abortReason());
      },
      onResponseStart(_c, statusCode, headers) {
        if (statusCode < 200) return;
        opened = true;
        resolve({
          status: statusCode,
          headers,
          chunks,
          async text() {
            let s = '';
            for await (const chunk of chunks) s += chunk.toString('utf8');
            return s;
          },
          abort() {
            if (!ended && !failure) controller?.abort(Object.assign(new Error('answer no longer needed'), { name: 'AbortError' }));
          },
        });
      },
      onResponseData(c, chunk) {
        queue.push(chunk);
        queued += chunk.length;
        if (queued >= PAUSE_BYTES && !c.paused) c.pause();
        wake?.();
      },
      onResponseEnd() {
        ended = true;
        settle();
      },
      onResponseError(_c, err) {
        failure = err;
        settle();
        if (!opened) reject(err);
      },
    };
    signal?.on('abort', onClientGone);
    try {
      backend.client.queryStream(request, handler);
    } catch (err) {
      signal?.off('abort', onClientGone);
      reject(err as Error);
    }
  });
}
