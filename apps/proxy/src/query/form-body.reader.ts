import type { IncomingMessage } from 'node:http';

// How /query reads a urlencoded body (Go's r.ParseForm limits and errors); the parameters in it are
// read by @app/query's paramsFromForm.

/** Go's net/http limit on a urlencoded body (maxFormSize), which influxd's /query inherits. */
export const MAX_FORM_BYTES = 10 << 20;

export class FormBodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** Whether the request carries a form body influxd would read (POST/PUT/PATCH, urlencoded). */
export function hasFormBody(req: IncomingMessage): boolean {
  const method = req.method;
  if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') return false;
  const type = req.headers['content-type'];
  if (!type) return false;
  const semi = type.indexOf(';');
  return (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase() === FORM_TYPE;
}

/** Reads a urlencoded body of at most MAX_FORM_BYTES. */
export function readFormBody(req: IncomingMessage, limit = MAX_FORM_BYTES): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new FormBodyError(413, 'http: POST too large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new FormBodyError(413, 'http: POST too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (!failed) resolve(new URLSearchParams(Buffer.concat(chunks, size).toString('utf8')));
    });
    req.once('error', (err) => {
      if (failed) return;
      failed = true;
      reject(new FormBodyError(400, err.message));
    });
    req.once('close', () => {
      if (failed || req.complete) return;
      failed = true;
      reject(new FormBodyError(400, 'the client closed the connection before the end of the body'));
    });
  });
}
