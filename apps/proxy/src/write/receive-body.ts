import type { BufferPool } from '@app/backend';
import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';

/** influxd's default max-body-size. */
export const MAX_BODY_BYTES = 25_000_000;
/** A gzip body may not inflate beyond this (influxd has no such bound; a gzip bomb is cheap). */
export const MAX_INFLATED_BYTES = 250_000_000;

/** Why a body could not be received; carries the status influxd would answer. */
export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOO_LARGE = 'Request Entity Too Large';

/** Receive stage: the whole request body as one Buffer, size-bounded, gunzipped when the client says so. */
export async function receiveBody(req: IncomingMessage, pool: BufferPool): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? -1);
  if (declared > MAX_BODY_BYTES) throw new BodyError(413, TOO_LARGE);
  const raw = declared >= 0 ? await readKnownLength(req, declared, pool) : await readChunked(req);
  const encoding = req.headers['content-encoding'];
  if (encoding === undefined || encoding === 'identity' || raw.length === 0) return raw;
  try {
    if (encoding !== 'gzip') throw new BodyError(415, `unsupported Content-Encoding: ${encoding}`);
    return await inflate(raw);
  } finally {
    pool.release(raw);
  }
}

/** Reads into a pooled buffer; the caller releases it (release() ignores buffers the pool does not own). */
function readKnownLength(req: IncomingMessage, length: number, pool: BufferPool): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = pool.acquire(length);
    let offset = 0;
    req.on('data', (chunk: Buffer) => {
      // node:http enforces Content-Length, so chunks never run past it
      chunk.copy(body, offset);
      offset += chunk.length;
    });
    req.once('end', () => resolve(offset === length ? body : body.subarray(0, offset)));
    req.once('error', (err) => {
      pool.release(body);
      reject(err);
    });
  });
}

function readChunked(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.resume();
        reject(new BodyError(413, TOO_LARGE));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function inflate(raw: Buffer): Promise<Buffer> {
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) {
    return Promise.reject(new BodyError(400, 'gzip: invalid header'));
  }
  return new Promise((resolve, reject) => {
    gunzip(raw, { maxOutputLength: MAX_INFLATED_BYTES }, (err, out) => {
      if (!err) return resolve(out);
      // the texts Go's compress/gzip gives, which influxd relays
      switch ((err as NodeJS.ErrnoException).code) {
        case 'ERR_BUFFER_TOO_LARGE':
          return reject(new BodyError(413, TOO_LARGE));
        case 'Z_BUF_ERROR':
          return reject(new BodyError(400, 'unexpected EOF'));
        default:
          return reject(new BodyError(400, `flate: corrupt input (${err.message})`));
      }
    });
  });
}
