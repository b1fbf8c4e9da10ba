import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** influxd truncates the X-Influxdb-Error header to this many bytes. */
const MAX_ERROR_HEADER = 1024;

/**
 * The request id influxd answers with: the client's X-Request-Id, else its Request-Id, else a new one.
 * Both response headers carry the same value.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'] ?? req.headers['request-id'];
  const id = Array.isArray(given) ? given[0] : given;
  return id && id.length > 0 ? id : randomUUID();
}

/** Headers every influxd response carries. */
export function influxHeaders(version: string, requestId: string): OutgoingHttpHeaders {
  return {
    'X-Influxdb-Build': 'OSS',
    'X-Influxdb-Version': version,
    'Request-Id': requestId,
    'X-Request-Id': requestId,
  };
}

/** Sets the influxd headers on a response that is about to be handed to another writer (e.g. Express). */
export function setInfluxHeaders(res: ServerResponse, version: string, requestId: string): void {
  const headers = influxHeaders(version, requestId);
  for (const name in headers) res.setHeader(name, headers[name] as string);
}

/**
 * Where an answer is written: a node:http ServerResponse, or the raw write front's answer on its own
 * socket. What writeInfluxError and the write path's answers use of a response.
 */
export interface AnswerTarget {
  readonly headersSent: boolean;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  end(body?: string): unknown;
  destroy(): unknown;
}

/** The one way an error leaves the proxy: influxd's JSON body, status and X-Influxdb-Error header together. */
export function writeInfluxError(res: AnswerTarget, status: number, message: string, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: boundedError(message) }) + '\n';
  const all: OutgoingHttpHeaders = {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  };
  if (status !== 401) all['X-Influxdb-Error'] = headerSafe(message);
  res.writeHead(status, all);
  res.end(body);
}

/** Go's net/http answer for an unknown path. */
export function writeNotFound(res: ServerResponse, headers: OutgoingHttpHeaders = {}): void {
  const body = '404 page not found\n';
  res.writeHead(404, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A header value must be one line of latin-1; error texts may hold newlines and arbitrary bytes from lines. */
/**
 * Most characters of an error message a body carries. influxd echoes offending lines whole, so a
 * 25 MB line came back as a 25 MB error; past this the message is cut and says how much was left out.
 */
export const MAX_ERROR_BODY = 64 * 1024;

export function boundedError(message: string): string {
  if (message.length <= MAX_ERROR_BODY) return message;
  return `${message.slice(0, MAX_ERROR_BODY)}… (${message.length - MAX_ERROR_BODY} more characters cut)`;
}

function headerSafe(message: string): string {
  const s = message.length > MAX_ERROR_HEADER ? message.slice(0, MAX_ERROR_HEADER) : message;
  // the characters node:http refuses in a header value
  return s.replace(/[^\t\x20-\x7e\x80-\xff]/g, ' ');
}
