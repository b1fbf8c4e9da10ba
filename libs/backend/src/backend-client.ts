import { type BackendConfig, ConfigValidationError } from '@app/config';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Client, Pool, type Dispatcher } from 'undici';
import { WRITE_OK, type WriteOutcome, classifyWriteAnswer } from './write-outcome';

const gzip = promisify(gzipCb);

export interface PingResult {
  ok: boolean;
  version?: string;
  error?: string;
}

/** HTTP to one InfluxDB over a keep-alive pool. Knows InfluxDB's answers, nothing about batching. */
export class BackendClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly authHeader?: string;
  private readonly origin: string;
  private readonly connectOptions: Client.Options['connect'];
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
    this.connectOptions = {
      timeout: Math.min(config.timeout, 5000),
      rejectUnauthorized: true,
      ...(url.protocol === 'https:' && config.caFile ? { ca: readCa(name, config.caFile) } : {}),
    };
    this.pool = new Pool(url.origin, {
      connections: config.concurrency + 4,
      keepAliveTimeout: 30_000,
      connect: this.connectOptions,
    });
    if (config.username !== undefined) {
      const token = Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64');
      this.authHeader = `Basic ${token}`;
    }
  }

  /**
   * POSTs one batch (its chunks back to back) to /write in the backend's own db, with the client's rp
   * and precision. Resolves once the answer is read, so the chunks may then be reused.
   */
  async write(rp: string, precision: string, chunks: Buffer[], bytes: number): Promise<WriteOutcome> {
    let path = `${this.basePath}/write?db=${encodeURIComponent(this.config.db)}`;
    if (rp) path += `&rp=${encodeURIComponent(rp)}`;
    if (precision) path += `&precision=${precision}`;
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (this.authHeader) headers.authorization = this.authHeader;
    let payload: Buffer | Buffer[] = chunks.length === 1 ? chunks[0] : chunks;
    if (this.config.gzip) {
      payload = await gzip(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes));
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = String(Array.isArray(payload) ? bytes : payload.length);
    try {
      const res = await this.pool.request({
        path,
        method: 'POST',
        headers,
        // undici sends an iterable of chunks as is (its typings do not list it): no concat copy
        body: payload as Buffer,
        headersTimeout: this.config.timeout,
        bodyTimeout: this.config.timeout,
      });
      this.noteVersion(res.headers);
      if (res.statusCode === 204 || res.statusCode === 200) {
        await res.body.dump();
        return WRITE_OK;
      }
      return this.outcomeOf(res.statusCode, await errorText(res));
    } catch (err) {
      // influxd echoes the offending line in X-Influxdb-Error, control characters included, which
      // undici's strict parser refuses: the backend did answer, so read that answer leniently
      if ((err as Error)?.name === 'HTTPParserError') {
        try {
          const lenient = await this.lenientWrite(path, headers, payload);
          return this.outcomeOf(lenient.status, lenient.error);
        } catch (again) {
          return { kind: 'unavailable', error: `backend ${this.name} unreachable: ${describe(again)}` };
        }
      }
      return { kind: 'unavailable', error: `backend ${this.name} unreachable: ${describe(err)}` };
    }
  }

  private outcomeOf(status: number, error: string): WriteOutcome {
    const outcome = classifyWriteAnswer(status, error);
    if (outcome.kind === 'unavailable') return { kind: 'unavailable', error: `backend ${this.name} answered ${status}: ${error}` };
    return outcome;
  }

  /**
   * Sends a write again through node's http client with its lenient parser (the rare answer that
   * undici cannot parse). Points are idempotent, so sending them twice is harmless.
   */
  private lenientWrite(
    path: string,
    headers: Record<string, string>,
    payload: Buffer | Buffer[],
  ): Promise<{ status: number; error: string }> {
    const url = new URL(this.config.url);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        {
          host: url.hostname,
          port: url.port || (url.protocol === 'https:' ? 443 : 80),
          path,
          method: 'POST',
          headers,
          insecureHTTPParser: true,
          timeout: this.config.timeout,
          ...(url.protocol === 'https:' && this.config.caFile ? { ca: readCa(this.name, this.config.caFile) } : {}),
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const v = res.headers['x-influxdb-version'];
            if (typeof v === 'string' && v) this.version = v;
            resolve({ status, error: errorTextOf(status, Buffer.concat(parts).toString('utf8')) });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.config.timeout} ms`)));
      req.on('error', reject);
      if (Array.isArray(payload)) for (const c of payload) req.write(c);
      else req.write(payload);
      req.end();
    });
  }

  /** GET /ping, bounded by the write timeout. */
  async ping(): Promise<PingResult> {
    try {
      const res = await this.pool.request({
        path: `${this.basePath}/ping`,
        method: 'GET',
        headersTimeout: this.config.timeout,
        bodyTimeout: this.config.timeout,
      });
      await res.body.dump();
      this.noteVersion(res.headers);
      if (res.statusCode === 204 || res.statusCode === 200) return { ok: true, version: this.version };
      return { ok: false, error: `ping answered ${res.statusCode}` };
    } catch (err) {
      return { ok: false, error: describe(err) };
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
      return { ok: false, error: deadline.signal.aborted ? `no answer to /ping within ${timeoutMs} ms` : describe(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Raw access for the query path. */
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    return this.pool.request(options);
  }

  /** The query path's streamed answers: the handler sees the answer as undici parses it, no stream in between. */
  dispatch(options: Omit<Dispatcher.DispatchOptions, 'origin'>, handler: Dispatcher.DispatchHandler): void {
    this.pool.dispatch(options as Dispatcher.DispatchOptions, handler);
  }

  get pathPrefix(): string {
    return this.basePath;
  }

  get authorization(): string | undefined {
    return this.authHeader;
  }

  /** Closes after the requests in flight have finished. */
  async close(): Promise<void> {
    await this.pool.close();
    // after the queries: their liveness probes work until the last of them has its answer
    await this.probeConnection?.close();
  }

  private noteVersion(headers: Record<string, string | string[] | undefined>): void {
    const v = headers['x-influxdb-version'];
    if (typeof v === 'string' && v) this.version = v;
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

async function errorText(res: Dispatcher.ResponseData): Promise<string> {
  return errorTextOf(res.statusCode, await res.body.text());
}

/** influxd's error text: the `error` of its JSON body, else the body itself (the query path reads it too). */
export function errorTextOf(status: number, text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim() || (status ? `HTTP ${status}` : 'no answer');
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message ?? ''}`.trim() : String(e.message ?? err);
}
