/**
 * What a request presents, read the way influxd 1.8 reads it (services/httpd/handler.go,
 * parseCredentials): the `u` and `p` URL parameters when both are non-empty, else the Authorization
 * header as `Bearer <jwt>`, `Token <user>:<password>` or `Basic <base64(user:password)>`.
 */
export type Credentials =
  | { kind: 'user'; username: string; password: string }
  /** influxd's JWT form; the proxy has no shared secret, so it is refused as influxd refuses it without one. */
  | { kind: 'bearer' }
  | { kind: 'none'; error: string };

/** influxd's text when nothing usable was presented. */
export const UNPARSABLE_CREDENTIALS = 'unable to parse authentication credentials';

export function parseCredentials(query: URLSearchParams, authorization: string | undefined): Credentials {
  const u = query.get('u') ?? '';
  const p = query.get('p') ?? '';
  if (u !== '' && p !== '') return { kind: 'user', username: u, password: p };

  if (authorization !== undefined && authorization !== '') {
    // strings.Split(s, " ") with exactly two parts
    const space = authorization.indexOf(' ');
    if (space >= 0 && authorization.indexOf(' ', space + 1) < 0) {
      const scheme = authorization.slice(0, space);
      const rest = authorization.slice(space + 1);
      if (scheme === 'Bearer') return { kind: 'bearer' };
      if (scheme === 'Token') {
        const colon = rest.indexOf(':');
        if (colon >= 0) return { kind: 'user', username: rest.slice(0, colon), password: rest.slice(colon + 1) };
      }
    }
    const basic = parseBasic(authorization);
    if (basic) return basic;
  }
  return { kind: 'none', error: UNPARSABLE_CREDENTIALS };
}

/** Go's Request.BasicAuth: scheme `Basic` (any case), strict standard base64, a `:` in the decoded text. */
function parseBasic(header: string): Credentials | undefined {
  const prefix = 'basic ';
  if (header.length < prefix.length || header.slice(0, prefix.length).toLowerCase() !== prefix) return undefined;
  // Go's base64.StdEncoding skips CR and LF and is otherwise strict: padding required, no other bytes
  const encoded = header.slice(prefix.length).replace(/[\r\n]/g, '');
  if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded)) {
    return undefined;
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { kind: 'user', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
