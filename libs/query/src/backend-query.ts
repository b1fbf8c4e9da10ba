import { type Backend, errorTextOf } from '@app/backend';
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BackendLiveness, WatchedUntil } from './backend-liveness';
import type { QueryParams } from './query-params';
import { type QueryResponse, type StatementOutcome, parseQueryResponse } from './query-result';

/** What a /query request to one backend carries besides the statement text. */
export interface BackendQuery {
  /** The client's method: influxd runs write-type statements over GET only with a deprecation message. */
  method: 'GET' | 'POST';
  params: QueryParams;
  /**
   * The answer goes back to the client as the backend writes it: `chunked`, `chunk_size`, `pretty`,
   * Accept and Accept-Encoding are forwarded. Otherwise the proxy reads plain JSON and builds the answer.
   */
  streamed: boolean;
  /** Overrides the client's `epoch` (CSV built by the proxy needs integer times). */
  epoch?: string;
  /** Client headers passed through (streamed answers only). */
  accept?: string;
  acceptEncoding?: string;
  requestId: string;
  /** Aborts the request: `aborted` and an 'abort' event (cheaper per request than an AbortSignal). */
  signal?: { readonly aborted: boolean } & EventEmitter;
  /** Watches the backend while the answer is awaited: a frozen one's query fails (and so fails over). */
  liveness?: BackendLiveness;
  /** Bytes the answers read whole for this client request may still take, all statements together. */
  answerBudget?: AnswerBudget;
}

/**
 * The bytes of backend answers one client request may hold for merging (`maxQueryAnswerBytes`): the
 * statements of a request are answered together, so fifty merged statements must not hold fifty
 * answers' worth of memory. A statement whose answer passes it gets a statement error instead.
 */
export class AnswerBudget {
  left: number;

  constructor(readonly limit: number) {
    this.left = limit > 0 ? limit : Number.POSITIVE_INFINITY;
  }
}

/** Sends a /query request to `backend`, watched by `query.liveness` when there is one. */
export function dispatchQuery(
  backend: Backend,
  options: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
  query: BackendQuery,
  until: WatchedUntil,
): void {
  if (query.liveness) query.liveness.dispatch(backend, options, handler, until);
  else backend.client.dispatch(options, handler);
}

/** One /query to `backend`: the backend's db and credentials, the client's other parameters. */
export function queryRequest(backend: Backend, text: string, query: BackendQuery): Dispatcher.DispatchOptions {
  const p = query.params;
  let path = `${backend.client.pathPrefix}/query?db=${encodeURIComponent(backend.config.db)}`;
  if (p.rp !== '') path += `&rp=${encodeURIComponent(p.rp)}`;
  const epoch = query.epoch ?? p.epoch;
  if (epoch !== '') path += `&epoch=${encodeURIComponent(epoch)}`;
  if (p.params !== '') path += `&params=${encodeURIComponent(p.params)}`;
  const headers: Record<string, string> = { 'x-request-id': query.requestId };
  if (query.streamed) {
    if (p.chunked !== '') path += `&chunked=${encodeURIComponent(p.chunked)}`;
    if (p.chunkSize !== '') path += `&chunk_size=${encodeURIComponent(p.chunkSize)}`;
    if (p.pretty) path += '&pretty=true';
    if (query.accept) headers.accept = query.accept;
    if (query.acceptEncoding) headers['accept-encoding'] = query.acceptEncoding;
  }
  const auth = backend.client.authorization;
  if (auth) headers.authorization = auth;
  let body: string | undefined;
  if (query.method === 'GET') {
    path += `&q=${encodeURIComponent(text)}`;
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = `q=${encodeURIComponent(text)}`;
  }
  const timeout = backend.config.timeoutQuery;
  return { path, method: query.method, headers, body, headersTimeout: timeout, bodyTimeout: timeout };
}

/** How a backend answered a statement the proxy reads whole. */
export type CollectedAnswer =
  | { ok: true; backend: number; response: QueryResponse; version?: string }
  /** Network error, timeout or 5xx: another backend may answer instead. */
  | { ok: false; backend: number; error: string };

/** Most bytes of one backend answer the proxy reads into memory (merged answers only). */
export const MAX_COLLECTED_BYTES = 256 << 20;

/**
 * A backend's answer read whole but not yet parsed: a 200's body as it came, or (4xx, too large) the
 * statement error it stands for.
 */
export type RawAnswer =
  | { ok: true; backend: number; body: Buffer; version?: string }
  | { ok: true; backend: number; response: QueryResponse; version?: string }
  | { ok: false; backend: number; error: string };

/** Sends a statement and reads the answer; a 4xx becomes a statement error, like influxd's own. */
export async function collectRaw(index: number, backend: Backend, text: string, query: BackendQuery): Promise<RawAnswer> {
  let res: WholeAnswer;
  try {
    res = await readWhole(backend, queryRequest(backend, text, query.streamed ? { ...query, streamed: false } : query), query);
  } catch (err) {
    // Too large to merge is this statement's answer, not the backend's failure: no failover.
    if (err instanceof TooLargeError) return { ok: true, backend: index, response: { error: err.message } };
    return { ok: false, backend: index, error: `${backend.name}: ${describeError(err)}` };
  }
  const { status, version, body } = res;
  if (status >= 500) {
    return { ok: false, backend: index, error: `${backend.name} answered ${status}: ${errorText(body.toString('utf8'))}` };
  }
  if (status !== 200) {
    return { ok: true, backend: index, response: { error: errorText(body.toString('utf8')) }, version };
  }
  return { ok: true, backend: index, body, version };
}

interface WholeAnswer {
  status: number;
  version?: string;
  body: Buffer;
}

/** Sends a request and reads its whole answer as undici parses it (no body stream in between). */
function readWhole(backend: Backend, options: Dispatcher.DispatchOptions, query: BackendQuery): Promise<WholeAnswer> {
  const signal = query.signal;
  return new Promise((resolve, reject) => {
    let status = 0;
    let version: string | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let tooLargeText = '';
    let controller: Dispatcher.DispatchController | undefined;
    const abort = () => controller?.abort(Object.assign(new Error('client closed the connection'), { name: 'AbortError' }));
    const done = () => signal?.off('abort', abort);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal?.aborted) abort();
      },
      onResponseStart(_c, statusCode, headers) {
        if (statusCode < 200) return;
        status = statusCode;
        version = headerOf(headers, 'x-influxdb-version');
      },
      onResponseData(c, chunk) {
        size += chunk.length;
        const budget = query.answerBudget;
        if (budget) budget.left -= chunk.length;
        if (size > MAX_COLLECTED_BYTES || (budget && budget.left < 0)) {
          if (!tooLarge) {
            tooLarge = true;
            tooLargeText = size > MAX_COLLECTED_BYTES ? tooLargeMessage(MAX_COLLECTED_BYTES) : overBudgetMessage(budget!.limit);
            c.abort(new TooLargeError(tooLargeText));
          }
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        done();
        resolve({ status, version, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
      },
      onResponseError(_c, err) {
        done();
        reject(tooLarge ? new TooLargeError(tooLargeText) : err);
      },
    };
    signal?.on('abort', abort);
    try {
      dispatchQuery(backend, options, handler, query, 'end');
    } catch (err) {
      done();
      reject(err);
    }
  });
}

/** Parses a raw answer's body; an unreadable one is the backend's failure. */
export function parseAnswer(answer: RawAnswer, name: string): CollectedAnswer {
  if (!answer.ok || !('body' in answer)) return answer;
  try {
    return { ok: true, backend: answer.backend, response: parseQueryResponse(answer.body.toString('utf8')), version: answer.version };
  } catch (err) {
    return { ok: false, backend: answer.backend, error: `${name}: unreadable answer (${(err as Error).message})` };
  }
}

/** Sends a statement and reads the JSON answer (see collectRaw). */
export async function collectQuery(index: number, backend: Backend, text: string, query: BackendQuery): Promise<CollectedAnswer> {
  return parseAnswer(await collectRaw(index, backend, text, query), backend.name);
}

/** The first statement result of a backend answer (the proxy sends one statement per collected request). */
export function firstOutcome(response: QueryResponse): StatementOutcome {
  if (response.error) return { error: response.error };
  const r = response.results?.[0];
  if (!r) return {};
  const { statement_id: _id, ...outcome } = r;
  return outcome;
}

class TooLargeError extends Error {}

function overBudgetMessage(limit: number): string {
  return (
    `the answers to this request's statements are larger than ${limit} bytes in all (maxQueryAnswerBytes), too large ` +
    'for the proxy to merge; send fewer statements per request or ask for fewer points'
  );
}

function tooLargeMessage(limit: number): string {
  return (
    `the answer to this statement is larger than ${limit} bytes, too large for the proxy to merge; ` +
    'send the statement on its own (single-backend answers are streamed)'
  );
}

/** influxd's error text of an answer body (one reader for the write and query paths). */
function errorText(body: string): string {
  return errorTextOf(0, body);
}

export function headerOf(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string; name?: string };
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') return `timed out (${e.code})`;
  return e?.code ? `${e.code} ${e.message ?? ''}`.trim() : String(e?.message ?? err);
}

export function isAbort(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED' || e?.code === 'ABORT_ERR';
}
