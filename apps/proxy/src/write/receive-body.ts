import type { BufferPool } from '@app/backend';
import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';

/** influxd's default max-body-size. */
export const MAX_BODY_BYTES = 25_000_000;
/**
 * A gzip body may not inflate beyond this. influxd (1.6–1.8) bounds only the compressed bytes, so a
 * gzip bomb of a few hundred KB costs it gigabytes; 64 MiB is ~2.5 × its max-body-size of line
 * protocol, which no real client sends in one request.
 */
export const MAX_INFLATED_BYTES = 64 * 1024 * 1024;
/** Bodies declared at most this large are read into one buffer of that size, charged up front. */
export const SMALL_BODY_BYTES = 1 << 20;

/** Why a body could not be received; carries the status influxd would answer. */
export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The rest of the body was not read: the connection must close after the answer. */
    readonly unread = false,
  ) {
    super(message);
  }
}

const TOO_LARGE = 'Request Entity Too Large';

/**
 * Grows the request's share of the write budget by `bytes` as they arrive (raw, then inflated);
 * false when the budget has no room (the body is then refused with 503).
 */
export type ChargeBytes = (bytes: number) => boolean;

/** What the receive stage tells about a body as it arrives (see SlowBodyWatch). */
export interface BodyProgress {
  received: number;
}

/**
 * Receive stage: the whole request body as one Buffer, size-bounded, gunzipped when the client says
 * so. A small body declared by Content-Length (the common case) is read into one pooled buffer
 * charged at admission; a larger or chunked one is charged as its bytes arrive, and a gzip body as
 * it inflates, so declared sizes reserve nothing and a bomb stops at the budget.
 */
export function receiveBody(
  req: IncomingMessage,
  pool: BufferPool,
  charge: ChargeBytes,
  progress: BodyProgress = { received: 0 },
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? -1);
  if (declared > MAX_BODY_BYTES) return Promise.reject(new BodyError(413, TOO_LARGE, true));
  const encoding = req.headers['content-encoding'];
  const small = declared >= 0 && declared <= SMALL_BODY_BYTES;
  // the common case, a small plain body: its read is the whole stage (no async frame around it)
  if (small && (encoding === undefined || encoding === 'identity')) return readKnownLength(req, declared, pool, progress);
  return receiveOther(req, pool, charge, progress, small ? declared : -1, encoding);
}

/** A large, chunked or encoded body. `known`: a small declared length, else -1. */
async function receiveOther(
  req: IncomingMessage,
  pool: BufferPool,
  charge: ChargeBytes,
  progress: BodyProgress,
  known: number,
  encoding: string | undefined,
): Promise<Buffer> {
  const raw = known >= 0 ? await readKnownLength(req, known, pool, progress) : await readCharged(req, charge, progress);
  if (encoding === undefined || encoding === 'identity' || raw.length === 0) return raw;
  try {
    if (encoding !== 'gzip') throw new BodyError(415, `unsupported Content-Encoding: ${encoding}`);
    return await inflate(raw, charge);
  } finally {
    pool.release(raw);
  }
}

/** Reads into a pooled buffer; the caller releases it (release() ignores buffers the pool does not own). */
function readKnownLength(req: IncomingMessage, length: number, pool: BufferPool, progress: BodyProgress): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = pool.acquire(length);
    let offset = 0;
    req.on('data', (chunk: Buffer) => {
      // node:http enforces Content-Length, so chunks never run past it
      chunk.copy(body, offset);
      offset += chunk.length;
      progress.received = offset;
    });
    req.once('end', () => resolve(offset === length ? body : body.subarray(0, offset)));
    req.once('error', (err) => {
      pool.release(body);
      reject(err);
    });
  });
}

/** Reads a large or chunked body chunk by chunk, each charged to the budget as it arrives. */
function readCharged(req: IncomingMessage, charge: ChargeBytes, progress: BodyProgress): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: BodyError) => {
      req.off('data', onData);
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      progress.received = size;
      if (size > MAX_BODY_BYTES) return stop(new BodyError(413, TOO_LARGE, true));
      if (!charge(chunk.length)) return stop(new BodyError(503, WRITE_BUFFER_FULL, true));
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/** influxd's throttle text (services/httpd/handler.go, Throttler), for a full write buffer. */
export const WRITE_BUFFER_FULL = 'request throttled, write buffer full';

/** Inflates a gzip body as a stream, charging each inflated piece, bounded by MAX_INFLATED_BYTES. */
function inflate(raw: Buffer, charge: ChargeBytes): Promise<Buffer> {
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) {
    return Promise.reject(new BodyError(400, 'gzip: invalid header'));
  }
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const out: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: BodyError) => {
      if (failed) return;
      failed = true;
      gunzip.destroy();
      out.length = 0;
      reject(err);
    };
    gunzip.on('data', (piece: Buffer) => {
      if (failed) return;
      size += piece.length;
      if (size > MAX_INFLATED_BYTES) return fail(new BodyError(413, TOO_LARGE));
      if (!charge(piece.length)) return fail(new BodyError(503, WRITE_BUFFER_FULL));
      out.push(piece);
    });
    gunzip.once('end', () => {
      if (!failed) resolve(Buffer.concat(out, size));
    });
    gunzip.once('error', (err: NodeJS.ErrnoException) => {
      // the texts Go's compress/gzip gives, which influxd relays
      if (err.code === 'Z_BUF_ERROR') return fail(new BodyError(400, 'unexpected EOF'));
      fail(new BodyError(400, `flate: corrupt input (${err.message})`));
    });
    gunzip.end(raw);
  });
}
