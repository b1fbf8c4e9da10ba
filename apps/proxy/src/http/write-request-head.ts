/**
 * The request heads the raw write front serves itself, read straight from the socket's bytes: the
 * common one-point or small `POST /write` of a keep-alive HTTP/1.1 client. Anything else — or anything
 * this reader is not sure of — is `other`, and the connection goes to node:http, which answers it
 * (and any error in it) as always. So this reader only ever has to recognise; it never refuses.
 */

/** Most bytes of a head read here; node:http answers a longer one (431 past 16 KiB). */
export const MAX_FAST_HEAD = 8 * 1024;
/** Most body bytes of a request served here (one to a few hundred points). */
export const MAX_FAST_BODY = 64 * 1024;
/** Most header lines of a head read here. */
const MAX_FAST_HEADERS = 64;

/** A head the front serves: the query string of `/write?…` and the body's length. */
export interface FastWriteHead {
  /** The query string after '?' ('' without one), as sent. */
  readonly search: string;
  readonly contentLength: number;
  /** Offset of the first body byte (just past the blank line). */
  readonly bodyStart: number;
}

/** `incomplete`: no whole head in the bytes yet; `other`: a request for node:http. */
export type HeadVerdict = FastWriteHead | 'incomplete' | 'other';

const CR = 0x0d;
const LF = 0x0a;
const PREFIX = 'POST /write';

/**
 * Headers node:http acts on, or that the proxy reads from the request: a request carrying one is
 * served by node:http. (Request-Id / X-Request-Id are the client's ids, which the answer echoes.)
 */
export const HANDED_OVER: ReadonlySet<string> = new Set([
  'transfer-encoding',
  'content-encoding',
  'expect',
  'upgrade',
  'authorization',
  'proxy-authorization',
  'request-id',
  'x-request-id',
  'te',
  'trailer',
]);

/**
 * Reads the head starting at `start` in `buf`. Only `POST /write[?query] HTTP/1.1` with exactly one
 * Host, exactly one Content-Length of at most MAX_FAST_BODY, `Connection` absent or `keep-alive`, no
 * header of HANDED_OVER, and nothing unusual (obs-fold, control characters, spaces in a name, a
 * request line node:http would judge differently) is a FastWriteHead.
 */
export function readWriteHead(buf: Buffer, start: number): HeadVerdict {
  const available = buf.length - start;
  // the request line's start is known before the whole head is: most connections leave at once
  const prefixLength = Math.min(available, PREFIX.length);
  for (let i = 0; i < prefixLength; i++) if (buf[start + i] !== PREFIX.charCodeAt(i)) return 'other';
  const end = buf.indexOf('\r\n\r\n', start, 'latin1');
  if (end < 0) return available < MAX_FAST_HEAD ? 'incomplete' : 'other';
  if (end + 4 - start > MAX_FAST_HEAD) return 'other';
  const head = buf.toString('latin1', start, end + 2); // every line with its CRLF
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    // a bare CR or LF, NUL, DEL, other controls but tab, or bytes past ASCII: leave it to node:http
    if (c === CR) {
      if (head.charCodeAt(i + 1) !== LF) return 'other';
      i++;
    } else if ((c < 0x20 && c !== 0x09) || c >= 0x7f) return 'other';
  }
  const lineEnd = head.indexOf('\r\n');
  const line = head.slice(0, lineEnd);
  if (!line.endsWith(' HTTP/1.1')) return 'other';
  const target = line.slice(PREFIX.length - '/write'.length, line.length - ' HTTP/1.1'.length);
  if (target !== '/write' && !target.startsWith('/write?')) return 'other';
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c === 0x23 /* # */) return 'other';
  }
  let hosts = 0;
  let contentLength = -1;
  let lines = 0;
  for (let at = lineEnd + 2; at < head.length;) {
    const next = head.indexOf('\r\n', at);
    if (++lines > MAX_FAST_HEADERS) return 'other';
    const colon = head.indexOf(':', at);
    if (colon <= at || colon > next) return 'other';
    const name = head.slice(at, colon);
    if (!isToken(name)) return 'other';
    const value = trimWhitespace(head.slice(colon + 1, next));
    switch (name.toLowerCase()) {
      case 'host':
        hosts++;
        break;
      case 'content-length':
        if (contentLength >= 0 || !/^[0-9]{1,6}$/.test(value)) return 'other';
        contentLength = Number(value);
        break;
      case 'connection':
        if (value.toLowerCase() !== 'keep-alive') return 'other';
        break;
      default:
        if (HANDED_OVER.has(name.toLowerCase())) return 'other';
    }
    at = next + 2;
  }
  if (hosts !== 1 || contentLength < 0 || contentLength > MAX_FAST_BODY) return 'other';
  const q = target.indexOf('?');
  return { search: q < 0 ? '' : target.slice(q + 1), contentLength, bodyStart: end + 4 };
}

/** RFC 9110 token characters (what a header name may hold). */
function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2d ||
      c === 0x5f ||
      c === 0x21 ||
      (c >= 0x23 && c <= 0x27) ||
      c === 0x2a ||
      c === 0x2b ||
      c === 0x2e ||
      c === 0x5e ||
      c === 0x60 ||
      c === 0x7c ||
      c === 0x7e;
    if (!ok) return false;
  }
  return s.length > 0;
}

function trimWhitespace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}
