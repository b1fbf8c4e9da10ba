import { type BackendConfig, ConfigValidationError } from '@app/config';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { EventEmitter } from 'node:events';
import { gzip as gzipCb } from 'node:zlib';
import { Client, Pool, type Dispatcher } from 'undici';
import type { Batch } from './write-batcher';
import { WriteLane } from './write-lane';
import { WRITE_OK, type WriteOutcome, classifyWriteAnswer } from './write-outcome';

const gzip = promisify(gzipCb);

export interface PingResult {
  ok: boolean;
  version?: string;
  error?: string;
  /** The status a /ping answered with (absent when it did not answer). */
  status?: number;
}

/**
 * One /query to influxd. The client adds its path prefix, its backend's `db` and its credentials;
 * the other parameters are sent when not empty, in this order: rp, epoch, params, chunked,
 * chunk_size, pretty, then `q` (in the URL for GET, as the form body for POST).
 */
export interface QueryRequest {
  /** The client's method: influxd runs write-type statements over GET only with a deprecation message. */
  method: 'GET' | 'POST';
  /** The statement text, sent as `q`. */
  text: string;
  /** false: no `db` parameter (SHOW DATABASES names no database); a name: that db instead of the backend's `db`. */
  db?: false | string;
  rp?: string;
  epoch?: string;
  params?: string;
  chunked?: string;
  chunkSize?: string;
  pretty?: boolean;
  requestId?: string;
  accept?: string;
  acceptEncoding?: string;
}

/** One Flux query (/api/v2/query), forwarded as the client sent it. */
export interface FluxRequest {
  body: Buffer;
  contentType?: string;
  accept?: string;
  acceptEncoding?: string;
  requestId?: string;
  signal?: AbortSignal;
}

/** Sends a /query with a dispatch handler: `BackendClient.queryStream`, or a wrapper that watches it. */
export type QueryStreamer = (request: QueryRequest, handler: Dispatcher.DispatchHandler) => void;

/** Aborts a request: an AbortSignal, or an emitter with `aborted` and an 'abort' event (cheaper per request). */
export type AbortLike = AbortSignal | ({ readonly aborted: boolean } & EventEmitter);

export interface WholeAnswerOptions {
  signal?: AbortLike;
  /**
   * Called with each chunk's length as it arrives; an error returned stops the answer there, and the
   * query rejects with it (an answer too large to hold).
   */
  admit?: (chunkBytes: number, totalBytes: number) => Error | undefined;
  /** Sends the request instead of `queryStream` (the proxy's liveness watch wraps the handler, then calls it). */
  via?: QueryStreamer;
}

/** A batch of several chunks up to this size is sent as one copied buffer (see write()). */
const CONCAT_BELOW_BYTES = 256 * 1024;

export interface PromReadOptions {
  signal?: AbortSignal;
  /** Called with each chunk's length as it arrives; an error returned stops the answer there, and promRead rejects with it. */
  admit?: (chunkBytes: number, totalBytes: number) => Error | undefined;
  /** The database read (default: the backend's own `db`; a proxy serving several names the client's, as mapped). */
  db?: string;
}

/** A /query answer read whole. */
export interface WholeAnswer {
  status: number;
  /** The X-Influxdb-Version this answer carried. */
  version?: string;
  body: Buffer;
}

/**
 * HTTP to one InfluxDB over a keep-alive pool: the only code that speaks to influxd (writes, queries,
 * pings). Knows InfluxDB's answers, nothing about batching, merging or health verdicts.
 */
export class BackendClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly authHeader?: string;
  private readonly origin: string;
  private readonly connectOptions: Client.Options['connect'];
  /** Keep-alive sockets for /write (see WriteLane); queries and pings use the pool. */
  private readonly writeLane: WriteLane;
  /** Host, Content-Type and Authorization lines of every write's head. */
  private readonly writeHeaders: string;
  /** One connection of its own for liveness probes: the pool's may all be busy with slow queries. */
  private probeConnection?: Client;
  /** The X-Influxdb-Version the backend last answered with. */
  version?: string;

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
  ) {
    const url = new URL(config.url);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.origin = url.origin;
    // https:// is always verified: against caFile when given, else Node's bundled CAs
    const https = url.protocol === 'https:';
    const verify = { rejectUnauthorized: true, ...(https && config.caFile ? { ca: readCa(name, config.caFile) } : {}) };
    const connectTimeoutMs = Math.min(config.timeout, 5000);
    this.connectOptions = { timeout: connectTimeoutMs, ...verify };
    this.pool = new Pool(url.origin, {
      connections: config.concurrency + 4,
      keepAliveTimeout: 30_000,
      connect: this.connectOptions,
    });
    if (config.username !== undefined) {
      const token = Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64');
      this.authHeader = `Basic ${token}`;
    }
    this.writeHeaders =
      `Host: ${url.host}\r\nContent-Type: text/plain; charset=utf-8\r\n` + (this.authHeader ? `Authorization: ${this.authHeader}\r\n` : '');
    this.writeLane = new WriteLane({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port) || (https ? 443 : 80),
      tls: https ? verify : undefined,
      connectTimeoutMs,
      maxIdle: config.concurrency + 4,
    });
  }

  /**
   * POSTs one batch (its chunks back to back) to /write in the batch's db (else the backend's own), with the client's rp
   * and precision, over the write lane. Resolves once the answer is read, so the chunks may then be reused.
   */
  async write(batch: Batch): Promise<WriteOutcome> {
    const { rp, precision, chunks, bytes } = batch;
    let path = `${this.basePath}/write?db=${encodeURIComponent(batch.db || this.config.db)}`;
    if (rp) path += `&rp=${encodeURIComponent(rp)}`;
    if (precision) path += `&precision=${precision}`;
    let head = `POST ${path} HTTP/1.1\r\n${this.writeHeaders}`;
    // the lane writes head and chunks corked (one syscall), but each chunk is a call of its own: a
    // batch of many small requests' parts is cheaper copied into one buffer
    let payload: Buffer | Buffer[] = chunks.length === 1 ? chunks[0] : bytes <= CONCAT_BELOW_BYTES ? Buffer.concat(chunks, bytes) : chunks;
    if (this.config.gzip) {
      payload = await gzip(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes));
      head += 'Content-Encoding: gzip\r\n';
    }
    head += `Content-Length: ${Array.isArray(payload) ? bytes : payload.length}\r\n\r\n`;
    try {
      const answer = await this.writeLane.post(head, payload, this.config.timeout);
      if (answer.version) this.version = answer.version;
      if (answer.status === 204 || answer.status === 200) return WRITE_OK;
      return this.outcomeOf(answer.status, errorTextOf(answer.status, answer.body.toString('utf8')));
    } catch (err) {
      return { kind: 'unavailable', error: `backend ${this.name} unreachable: ${describeError(err)}` };
    }
  }

  private outcomeOf(status: number, error: string): WriteOutcome {
    const outcome = classifyWriteAnswer(status, error);
    if (outcome.kind === 'unavailable') return { kind: 'unavailable', error: `backend ${this.name} answered ${status}: ${error}` };
    return outcome;
  }

  /**
   * GET /ping with the backend's credentials, bounded by the write timeout (and by `signal`, a
   * caller's deadline). 200 or 204 is a good answer; any other is `ping answered <status>`.
   */
  async ping(signal?: AbortSignal): Promise<PingResult> {
    try {
      const res = await this.pool.request({
        path: `${this.basePath}/ping`,
        method: 'GET',
        headers: this.authHeader ? { authorization: this.authHeader } : {},
        headersTimeout: this.config.timeout,
        bodyTimeout: this.config.timeout,
        signal,
      });
      await res.body.dump();
      this.noteVersion(res.headers);
      const status = res.statusCode;
      if (status === 204 || status === 200) return { ok: true, version: this.version, status };
      return { ok: false, error: `ping answered ${status}`, version: this.version, status };
    } catch (err) {
      return { ok: false, error: describeError(err) };
    }
  }

  /**
   * Whether the backend answers HTTP at all within `timeoutMs`: GET /ping on a connection of its own
   * (never queued behind the pool's busy query connections). Any answer counts, even a 401 from a
   * /ping that wants credentials: the question is whether the process is frozen, not whether it is healthy.
   */
  async answersWithin(timeoutMs: number): Promise<PingResult> {
    this.probeConnection ??= new Client(this.origin, { connect: this.connectOptions, keepAliveTimeout: 30_000 });
    const deadline = new AbortController();
    let answered = false;
    // setImmediate: after a stall of this process's own event loop, an answer that has arrived in the
    // meantime is read (poll phase) before the deadline (timers phase) can call the backend frozen
    const timer = setTimeout(() => setImmediate(() => answered || deadline.abort()), timeoutMs);
    try {
      const res = await this.probeConnection.request({
        path: `${this.basePath}/ping`,
        method: 'GET',
        headers: this.authHeader ? { authorization: this.authHeader } : {},
        signal: deadline.signal,
      });
      answered = true;
      await res.body.dump().catch(() => undefined);
      return { ok: true, version: this.version };
    } catch (err) {
      return { ok: false, error: deadline.signal.aborted ? `no answer to /ping within ${timeoutMs} ms` : describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a /query and hands its answer to `handler` as undici parses it (no stream in between):
   * the proxy relays it to its client, or reads it as it comes. Bounded by timeoutQuery.
   */
  queryStream(request: QueryRequest, handler: Dispatcher.DispatchHandler): void {
    // the pool's own origin: undici fills it in
    this.pool.dispatch(this.queryOptions(request) as Dispatcher.DispatchOptions, handler);
  }

  /**
   * Sends a /query and reads its whole answer, any status (the caller reads influxd's error text with
   * `errorTextOf`). Rejects when the backend does not answer, when `signal` aborts, or with the error
   * `admit` returned for a chunk.
   */
  query(request: QueryRequest, options: WholeAnswerOptions = {}): Promise<WholeAnswer> {
    return new Promise((resolve, reject) => {
      const { signal, admit } = options;
      let status = 0;
      let version: string | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      let refusal: Error | undefined;
      let controller: Dispatcher.DispatchController | undefined;
      const abort = () => controller?.abort(abortReason(signal));
      const stopListening = signal ? listenForAbort(signal, abort) : undefined;
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (signal?.aborted) abort();
        },
        onResponseStart(_c, statusCode, headers) {
          if (statusCode < 200) return; // 1xx: the real answer follows
          status = statusCode;
          version = versionOf(headers);
        },
        onResponseData(c, chunk) {
          if (refusal) return;
          size += chunk.length;
          refusal = admit?.(chunk.length, size);
          if (refusal) c.abort(refusal);
          else chunks.push(chunk);
        },
        onResponseEnd() {
          stopListening?.();
          resolve({ status, version, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
        },
        onResponseError(_c, err) {
          stopListening?.();
          reject(refusal ?? err);
        },
      };
      try {
        if (options.via) options.via(request, handler);
        else this.queryStream(request, handler);
      } catch (err) {
        stopListening?.();
        reject(err as Error);
      }
    });
  }

  /**
   * POSTs a Flux query (InfluxDB 1.8's /api/v2/query) with the client's body and content type, and
   * the backend's credentials. Resolves once the answer's headers have arrived, any status; its body
   * is then read (or dumped) by the caller. Bounded by timeoutQuery; rejects when the backend does not answer.
   */
  fluxQuery(request: FluxRequest): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {};
    if (request.contentType) headers['content-type'] = request.contentType;
    if (request.accept) headers.accept = request.accept;
    if (request.acceptEncoding) headers['accept-encoding'] = request.acceptEncoding;
    if (request.requestId) headers['x-request-id'] = request.requestId;
    if (this.authHeader) headers.authorization = this.authHeader;
    const timeout = this.config.timeoutQuery;
    return this.pool
      .request({
        path: `${this.basePath}/api/v2/query`,
        method: 'POST',
        headers,
        body: request.body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: request.signal,
      })
      .then((res) => {
        this.noteVersion(res.headers);
        return res;
      });
  }

  /**
   * POSTs a Prometheus remote read body (snappy-compressed ReadRequest, passed as is) to the backend's own
   * `/api/v1/prom/read` in its db, with the client's rp. Reads the whole answer, any status; no
   * Accept-Encoding is sent, so a 200's body is the snappy ReadResponse itself. Rejects when the backend
   * does not answer (network error, timeoutQuery) or `signal` aborts, and with the error `admit` returns
   * for a chunk (an answer too large to hold).
   */
  async promRead(body: Buffer, rp: string, requestId: string, options: PromReadOptions = {}): Promise<WholeAnswer> {
    let path = `${this.basePath}/api/v1/prom/read?db=${encodeURIComponent(options.db ?? this.config.db)}`;
    if (rp !== '') path += `&rp=${encodeURIComponent(rp)}`;
    const headers: Record<string, string> = {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-read-version': '0.1.0',
      'content-length': String(body.length),
      'x-request-id': requestId,
    };
    if (this.authHeader) headers.authorization = this.authHeader;
    const timeout = this.config.timeoutQuery;
    const res = await this.pool.request({
      path,
      method: 'POST',
      headers,
      body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: options.signal,
    });
    this.noteVersion(res.headers);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      const refusal = options.admit?.(chunk.length, size);
      if (refusal) {
        res.body.destroy();
        throw refusal;
      }
      chunks.push(chunk);
    }
    return { status: res.statusCode, version: versionOf(res.headers), body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) };
  }

  private queryOptions(request: QueryRequest): Omit<Dispatcher.DispatchOptions, 'origin'> {
    let path = `${this.basePath}/query?`;
    let sep = '';
    if (request.db !== false) {
      path += `db=${encodeURIComponent(request.db || this.config.db)}`;
      sep = '&';
    }
    const add = (name: string, value: string | undefined) => {
      if (value === undefined || value === '') return;
      path += `${sep}${name}=${encodeURIComponent(value)}`;
      sep = '&';
    };
    add('rp', request.rp);
    add('epoch', request.epoch);
    add('params', request.params);
    add('chunked', request.chunked);
    add('chunk_size', request.chunkSize);
    if (request.pretty) add('pretty', 'true');
    const headers: Record<string, string> = {};
    if (request.requestId) headers['x-request-id'] = request.requestId;
    if (request.accept) headers.accept = request.accept;
    if (request.acceptEncoding) headers['accept-encoding'] = request.acceptEncoding;
    if (this.authHeader) headers.authorization = this.authHeader;
    let body: string | undefined;
    if (request.method === 'GET') {
      add('q', request.text);
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = `q=${encodeURIComponent(request.text)}`;
    }
    const timeout = this.config.timeoutQuery;
    return { path, method: request.method, headers, body, headersTimeout: timeout, bodyTimeout: timeout };
  }

  /** Closes after the requests in flight have finished. */
  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.writeLane.close()]);
    // after the queries: their liveness probes work until the last of them has its answer
    await this.probeConnection?.close();
  }

  private noteVersion(headers: Record<string, string | string[] | undefined>): void {
    const v = versionOf(headers);
    if (v) this.version = v;
  }
}

/**
 * Reads every https backend's caFile, throwing ConfigValidationError for the first that is unusable:
 * a config is checked with this before any of its backends is built, so a bad one is refused whole.
 */
export function checkBackendFiles(backends: Record<string, BackendConfig>): void {
  for (const [name, config] of Object.entries(backends)) {
    if (config.caFile && config.url.startsWith('https:')) readCa(name, config.caFile);
  }
}

/** The PEM CA bundle of a backend, read when its client is built (so on every config (re)load). */
function readCa(backend: string, file: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigValidationError(`backends.${backend}.caFile: cannot read ${file}: ${e.code ?? e.message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigValidationError(`backends.${backend}.caFile: ${file} holds no PEM certificate`);
  }
  return pem;
}

/** The X-Influxdb-Version an answer carries (the one place that reads it). */
export function versionOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers['x-influxdb-version'];
  return (Array.isArray(v) ? v[0] : v) || undefined;
}

/** influxd's error text: the `error` of its JSON body, else the body itself (the one reader, for every path). */
export function errorTextOf(status: number, text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim() || (status ? `HTTP ${status}` : 'no answer');
}

/** Why a request to a backend failed, in words (the one describer, for every path). */
export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') return `timed out (${e.code})`;
  // a string code is Node's or undici's (ECONNREFUSED…); a DOMException's numeric one says nothing
  return typeof e?.code === 'string' ? `${e.code} ${e.message ?? ''}`.trim() : String(e?.message ?? err);
}

function abortReason(signal: AbortLike | undefined): Error {
  // an AbortSignal's own reason (a TimeoutError for AbortSignal.timeout): the caller knows its deadline
  if (signal && 'addEventListener' in signal && typeof signal.reason === 'object' && signal.reason !== null) return signal.reason as Error;
  return Object.assign(new Error('client closed the connection'), { name: 'AbortError' });
}

/** Calls `abort` once `signal` aborts; returns what stops listening. */
function listenForAbort(signal: AbortLike, abort: () => void): () => void {
  if ('addEventListener' in signal) {
    signal.addEventListener('abort', abort, { once: true });
    return () => signal.removeEventListener('abort', abort);
  }
  signal.on('abort', abort);
  return () => signal.off('abort', abort);
}
