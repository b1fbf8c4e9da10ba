import { writeInfluxError } from '@app/http-compat';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Bodies up to this size are read and discarded after an early answer; larger ones close the connection. */
const DISCARDABLE_BODY = 1 << 20;

/**
 * An error answered before the request body was read (refused credentials, a full buffer, too many
 * requests). node:http reads and discards the rest of a small body once the answer is sent, so the
 * keep-alive connection stays usable; a large or chunked body closes the connection instead of
 * being read for nothing (Go's net/http, and so influxd, does the same beyond 256 KiB).
 */
export function writeEarlyError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  headers: OutgoingHttpHeaders,
): void {
  writeInfluxError(res, status, message, { ...headers, ...closeIfUnread(req) });
}

function closeIfUnread(req: IncomingMessage): OutgoingHttpHeaders {
  if (req.complete) return {};
  const declared = Number(req.headers['content-length'] ?? -1);
  if (declared === 0) return {};
  if (declared > 0 && declared <= DISCARDABLE_BODY) return {};
  if (declared < 0 && req.headers['transfer-encoding'] === undefined) return {};
  return { Connection: 'close' };
}
