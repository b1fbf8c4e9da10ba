import type { IncomingMessage } from 'node:http';

/**
 * The /query parameters as influxd reads them: `q`, `db`, `rp`, `epoch`, `chunked`, `chunk_size` and
 * `params` with Go's `r.FormValue` (a urlencoded POST body first, then the URL); `pretty` from the URL
 * only. `u` and `p` are the client's credentials for influxd; the proxy talks to each backend with
 * that backend's own and never forwards them.
 */
export interface QueryParams {
  /** The query text, trimmed as influxd trims it; '' when missing. */
  q: string;
  db: string;
  rp: string;
  epoch: string;
  /** As given (influxd streams only for exactly "true"). */
  chunked: string;
  chunkSize: string;
  /** Bound parameters (JSON object), as given. */
  params: string;
  pretty: boolean;
}

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

/** Params from the URL alone (GET, or a POST without a form body). */
export function paramsFromUrl(url: URLSearchParams): QueryParams {
  return {
    q: (url.get('q') ?? '').trim(),
    db: url.get('db') ?? '',
    rp: url.get('rp') ?? '',
    epoch: (url.get('epoch') ?? '').trim(),
    chunked: url.get('chunked') ?? '',
    chunkSize: url.get('chunk_size') ?? '',
    params: url.get('params') ?? '',
    pretty: url.get('pretty') === 'true',
  };
}

/** Params from a urlencoded body, falling back to the URL for each one the body does not carry. */
export function paramsFromForm(form: URLSearchParams, url: URLSearchParams): QueryParams {
  const get = (name: string) => form.get(name) ?? url.get(name) ?? '';
  return {
    q: get('q').trim(),
    db: get('db'),
    rp: get('rp'),
    epoch: get('epoch').trim(),
    chunked: get('chunked'),
    chunkSize: get('chunk_size'),
    params: get('params'),
    pretty: url.get('pretty') === 'true',
  };
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

/**
 * influxd refuses a `params` value that is not a JSON object before it parses the query
 * (`error parsing query parameters: …`). Returns the error text, or undefined when it is fine.
 */
export function checkBoundParams(raw: string): string | undefined {
  if (raw === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return `error parsing query parameters: ${(err as Error).message}`;
  }
  // Go decodes null into a nil map without complaint.
  if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
    const what = Array.isArray(parsed) ? 'array' : typeof parsed === 'boolean' ? 'bool' : typeof parsed;
    return `error parsing query parameters: json: cannot unmarshal ${what} into Go value of type map[string]interface {}`;
  }
  return undefined;
}
