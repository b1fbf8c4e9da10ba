import { backendDatabase } from '@app/config';
import { type Backend, type QueryRequest, type WholeAnswer, describeError, errorTextOf } from '@app/backend';
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
  /**
   * The client database of the statement, on a proxy serving several databases (absent otherwise):
   * each backend is asked in that db as its `dbMap` maps it (see `onBackend`).
   */
  database?: string;
  /** The db parameter sent to this backend (set by `onBackend`; false: none, as SHOW DATABASES sends). */
  backendDb?: string | false;
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
  request: QueryRequest,
  handler: Dispatcher.DispatchHandler,
  query: BackendQuery,
  until: WatchedUntil,
): void {
  if (query.liveness) query.liveness.queryStream(backend, request, handler, until);
  else backend.client.queryStream(request, handler);
}

/**
 * The db a statement runs in on `backend`, and the query carrying it: the backend's own `db` on a
 * single-database proxy (the query as is), else the statement's client db as the backend maps it.
 */
export function onBackend(backend: Backend, query: BackendQuery): { db: string; query: BackendQuery } {
  if (query.database === undefined) return { db: backend.config.db, query };
  const db = backendDatabase(backend.config, query.database, true);
  return { db, query: { ...query, backendDb: db } };
}

/** One /query to a backend: the client's parameters (the backend's client adds its db, unless `backendDb` names one, and credentials). */
export function queryRequest(text: string, query: BackendQuery): QueryRequest {
  const p = query.params;
  const request: QueryRequest = {
    method: query.method,
    text,
    rp: p.rp,
    epoch: query.epoch ?? p.epoch,
    params: p.params,
    requestId: query.requestId,
  };
  if (query.backendDb !== undefined) request.db = query.backendDb;
  if (query.streamed) {
    request.chunked = p.chunked;
    request.chunkSize = p.chunkSize;
    request.pretty = p.pretty;
    request.accept = query.accept;
    request.acceptEncoding = query.acceptEncoding;
  }
  return request;
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
  const liveness = query.liveness;
  let res: WholeAnswer;
  try {
    res = await backend.client.query(queryRequest(text, query.streamed ? { ...query, streamed: false } : query), {
      signal: query.signal,
      admit: admitWithin(query.answerBudget),
      via: liveness ? (request, handler) => liveness.queryStream(backend, request, handler, 'end') : undefined,
    });
  } catch (err) {
    // Too large to merge is this statement's answer, not the backend's failure: no failover.
    if (err instanceof TooLargeError) return { ok: true, backend: index, response: { error: err.message } };
    return { ok: false, backend: index, error: `${backend.name}: ${describeError(err)}` };
  }
  const { status, version, body } = res;
  if (status >= 500) {
    return { ok: false, backend: index, error: `${backend.name} answered ${status}: ${errorTextOf(status, body.toString('utf8'))}` };
  }
  if (status !== 200) {
    return { ok: true, backend: index, response: { error: errorTextOf(status, body.toString('utf8')) }, version };
  }
  return { ok: true, backend: index, body, version };
}

/**
 * What one answer read whole may take: MAX_COLLECTED_BYTES of its own, and what is left of the
 * request's budget (every chunk counts against it, the refused one too).
 */
function admitWithin(budget: AnswerBudget | undefined): (chunkBytes: number, totalBytes: number) => Error | undefined {
  return (chunkBytes, totalBytes) => {
    if (budget) budget.left -= chunkBytes;
    if (totalBytes > MAX_COLLECTED_BYTES) return new TooLargeError(tooLargeMessage(MAX_COLLECTED_BYTES));
    if (budget && budget.left < 0) return new TooLargeError(overBudgetMessage(budget.limit));
    return undefined;
  };
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

/** The query path's describer is the backend client's (one for every path). */
export { describeError };

export function headerOf(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function isAbort(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED' || e?.code === 'ABORT_ERR';
}
