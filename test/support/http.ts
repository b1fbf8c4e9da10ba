/**
 * A tiny HTTP client over node:http: exact bodies (Buffer or string), any method (HEAD included),
 * custom headers (Content-Encoding: gzip, Transfer-Encoding: chunked), one fresh connection per
 * request (no keep-alive surprises when a server is killed), and a bounded timeout.
 */
import * as http from 'node:http';
import { IncomingHttpHeaders } from 'node:http';
import * as https from 'node:https';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** Parses the body as JSON; integers beyond 2^53 (e.g. epoch=ns times) become BigInt. */
  json<T = any>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number | string[]>;
  body?: string | Buffer;
  /** Send the body with chunked transfer encoding instead of Content-Length. */
  chunked?: boolean;
  timeoutMs?: number;
  /** For https:// URLs: the PEM CA(s) to trust (instead of Node's bundled ones). */
  ca?: string | Buffer;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
  const headers: Record<string, string | number | string[]> = { ...(options.headers ?? {}) };
  const hasHeader = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
  if (options.chunked) {
    if (!hasHeader('transfer-encoding')) headers['Transfer-Encoding'] = 'chunked';
  } else if (body !== undefined && !hasHeader('content-length') && !hasHeader('transfer-encoding')) {
    headers['Content-Length'] = body.length;
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let gotResponse = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${method} ${url}: ${err.message}`));
    };
    const req = url.startsWith('https:')
      ? https.request(url, { method, headers, agent: false, ca: options.ca })
      : http.request(url, { method, headers, agent: false });
    const timer = setTimeout(() => {
      fail(new Error(`no complete answer within ${timeoutMs} ms`));
      req.destroy();
    }, timeoutMs);

    req.on('response', (res) => {
      gotResponse = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (err) => fail(err));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: buf,
          text,
          json: () => parseJsonLossless(text),
        });
        // The server may answer early (413) before reading the whole body; don't keep sending.
        req.destroy();
      });
    });
    req.on('error', (err) => {
      // A server that answers early and then closes makes our upload fail with EPIPE/ECONNRESET;
      // the answer we already have is what counts.
      if (gotResponse) return;
      fail(err);
    });
    if (body === undefined) {
      req.end();
    } else if (body.length <= SMALL_BODY && !options.chunked) {
      req.end(body);
    } else {
      void writeInPieces(req, body, () => gotResponse || settled);
    }
  });
}

const SMALL_BODY = 1 << 20;
const PIECE = 64 * 1024;

/**
 * Writes a large body piece by piece, letting the event loop read between pieces, and stops as
 * soon as an answer has arrived. A server that answers early (413) and closes — Go's net/http
 * resets the connection when it closes with unread input — would otherwise make the upload fail
 * with ECONNRESET before the already-received answer is read.
 */
async function writeInPieces(req: http.ClientRequest, body: Buffer, answered: () => boolean): Promise<void> {
  for (let offset = 0; offset < body.length; offset += PIECE) {
    if (answered() || req.destroyed) return;
    const piece = body.subarray(offset, offset + PIECE);
    await new Promise<void>((resolve) => {
      req.write(piece, () => resolve());
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!answered() && !req.destroyed) req.end();
}

/**
 * JSON.parse that keeps integers outside the safe range exact (as BigInt). InfluxDB returns
 * epoch=ns times such as 1700000000123456789, which a plain JSON.parse would round.
 */
export function parseJsonLossless(text: string): any {
  const MARK = '\u0000bigint:';
  const out: string[] = [];
  let i = 0;
  let plainStart = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && /[0-9eE+\-.]/.test(text[j])) j++;
      const token = text.slice(i, j);
      if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out.push(text.slice(plainStart, i), JSON.stringify(MARK + token));
        plainStart = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  out.push(text.slice(plainStart));
  return JSON.parse(out.join(''), (_key, value) =>
    typeof value === 'string' && value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value,
  );
}

/** GETs `url` once; true when it answers `status` (default 204). Errors count as false. */
export async function answers(
  url: string,
  status = 204,
  timeoutMs = 2_000,
  options: Pick<RequestOptions, 'ca' | 'headers'> = {},
): Promise<boolean> {
  try {
    const res = await request(url, { ...options, timeoutMs });
    return res.status === status;
  } catch {
    return false;
  }
}
