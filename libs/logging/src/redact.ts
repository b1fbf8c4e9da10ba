/**
 * Secrets that must never reach a log line: the `p` (password) URL parameter influxd accepts, and
 * the password literals of InfluxQL (`CREATE USER x WITH PASSWORD '…'`, `SET PASSWORD FOR x = '…'`).
 */

export const REDACTED = '[REDACTED]';

// PASSWORD, then up to the first string literal of its statement (`WITH PASSWORD '…'`, `PASSWORD FOR u = '…'`)
const PASSWORD_LITERAL = /(\bPASSWORD\b[^';]*)'(?:[^'\\]|\\.)*'?/gi;
// `p=` as a URL/form parameter, raw or JSON-escaped inside a message
const P_PARAM = /([?&]p=)[^&\s"'#]*/g;

/** The request target with the `p` parameter removed (and `q`, which is logged on its own, redacted). */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  if (!params.has('p') && !params.has('q')) return url;
  params.delete('p');
  const q = params.get('q');
  if (q !== null) params.set('q', redactQuery(q));
  const rest = params.toString();
  return rest === '' ? url.slice(0, at) : `${url.slice(0, at)}?${rest}`;
}

/** InfluxQL with its password literals replaced. */
export function redactQuery(q: string): string {
  return q.replace(PASSWORD_LITERAL, `$1${REDACTED}`);
}

/** Any log message: password literals and `p=` parameters replaced. Cheap when there is nothing to hide. */
export function redactSecrets(message: string): string {
  let out = message;
  if (/password/i.test(out)) out = out.replace(PASSWORD_LITERAL, `$1${REDACTED}`);
  if (out.includes('p=')) out = out.replace(P_PARAM, `$1${REDACTED}`);
  return out;
}
