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
