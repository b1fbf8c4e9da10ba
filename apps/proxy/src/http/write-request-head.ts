/**
 * The request heads the raw write front serves itself, read straight from the socket's bytes: the
 * common one-point or small `POST /write` of a keep-alive HTTP/1.1 client. Anything else — or anything
 * this reader is not sure of — is `other`, and the connection goes to node:http, which answers it
 * (and any error in it) as always. So this reader only ever has to recognise; it never refuses.
 */

/** Most bytes of a head read here; node:http answers a longer one (431 past 16 KiB). */
export const MAX_FAST_HEAD = 8 * 1024;
/**
 * Most body bytes of a request served here. The front reads a body still arriving into one pooled
 * buffer of its Content-Length, taken at the head; a larger one goes to node:http, which holds only
 * what has come (4 MiB: a batch of about 30,000 points).
 */
export const MAX_FAST_BODY = 4 << 20;
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
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const QUESTION = 0x3f;
const PREFIX = Buffer.from('POST /write', 'latin1');
const VERSION = Buffer.from(' HTTP/1.1', 'latin1');
/** Where the target starts in the request line ('/write' after 'POST '). */
const TARGET_AT = 'POST '.length;

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

/** HANDED_OVER by name length: a header name is compared (bytes, any case) only with those of its length. */
const HANDED_OVER_BY_LENGTH: readonly (readonly string[])[] = (() => {
  const byLength: string[][] = [];
  for (const name of HANDED_OVER) (byLength[name.length] ??= []).push(name);
  return byLength;
})();

/**
 * Reads the head starting at `start` in `buf`. Only `POST /write[?query] HTTP/1.1` with exactly one
 * Host, exactly one Content-Length of at most MAX_FAST_BODY, `Connection` absent or `keep-alive`, no
 * header of HANDED_OVER, and nothing unusual (obs-fold, control characters, spaces in a name, a
 * request line node:http would judge differently) is a FastWriteHead. Works on the bytes: the query
 * string is the one string it makes (the front reads a head per request, so this is on the hot path).
 */
export function readWriteHead(buf: Buffer, start: number): HeadVerdict {
  const available = buf.length - start;
  // the request line's start is known before the whole head is: most connections leave at once
  const prefixLength = Math.min(available, PREFIX.length);
  for (let i = 0; i < prefixLength; i++) if (buf[start + i] !== PREFIX[i]) return 'other';
  // one pass over the bytes (no native call per line): each line is checked as its CRLF is reached
  const limit = Math.min(buf.length, start + MAX_FAST_HEAD);
  let lineStart = start;
  let colon = -1;
  let lines = 0;
  let hosts = 0;
  let contentLength = -1;
  let targetEnd = -1;
  for (let i = start; i < limit; i++) {
    const c = buf[i];
    if (c === COLON) {
      if (colon < 0) colon = i;
      continue;
    }
    if (c !== CR) {
      // a bare LF, NUL, DEL, other controls but tab, or bytes past ASCII: leave it to node:http
      if ((c < SPACE && c !== TAB) || c >= 0x7f) return 'other';
      continue;
    }
    if (i + 1 >= buf.length) break; // the LF has not arrived
    if (buf[i + 1] !== LF) return 'other'; // a bare CR
    if (targetEnd < 0) {
      targetEnd = requestLineTargetEnd(buf, start, i);
      if (targetEnd < 0) return 'other';
    } else if (i === lineStart) {
      // the blank line: the head is whole
      if (hosts !== 1 || contentLength < 0 || contentLength > MAX_FAST_BODY) return 'other';
      const afterPath = start + PREFIX.length;
      const search = afterPath < targetEnd ? buf.toString('latin1', afterPath + 1, targetEnd) : '';
      return { search, contentLength, bodyStart: i + 2 };
    } else {
      if (++lines > MAX_FAST_HEADERS || colon <= lineStart) return 'other';
      const nameLength = colon - lineStart;
      for (let k = lineStart; k < colon; k++) if (TOKEN[buf[k]] === 0) return 'other';
      let valueStart = colon + 1;
      let valueEnd = i;
      while (valueStart < valueEnd && (buf[valueStart] === SPACE || buf[valueStart] === TAB)) valueStart++;
      while (valueEnd > valueStart && (buf[valueEnd - 1] === SPACE || buf[valueEnd - 1] === TAB)) valueEnd--;
      if (nameLength === 4 && sameLetters(buf, lineStart, 'host')) {
        hosts++;
      } else if (nameLength === 14 && sameLetters(buf, lineStart, 'content-length')) {
        if (contentLength >= 0) return 'other';
        contentLength = digitsOf(buf, valueStart, valueEnd);
        if (contentLength < 0) return 'other';
      } else if (nameLength === 10 && sameLetters(buf, lineStart, 'connection')) {
        if (valueEnd - valueStart !== 10 || !sameLetters(buf, valueStart, 'keep-alive')) return 'other';
      } else {
        const handedOver = HANDED_OVER_BY_LENGTH[nameLength];
        if (handedOver) for (const name of handedOver) if (sameLetters(buf, lineStart, name)) return 'other';
      }
    }
    i++;
    lineStart = i + 1;
    colon = -1;
  }
  return available < MAX_FAST_HEAD ? 'incomplete' : 'other';
}

/**
 * Where the target of the request line buf[start, lineEnd) ends, if it is `POST /write[?…] HTTP/1.1`
 * ('POST /write' is already matched) with no space, control character or '#' in the target; else -1.
 */
function requestLineTargetEnd(buf: Buffer, start: number, lineEnd: number): number {
  const targetEnd = lineEnd - VERSION.length;
  const afterPath = start + PREFIX.length;
  if (targetEnd < afterPath) return -1;
  for (let i = 0; i < VERSION.length; i++) if (buf[targetEnd + i] !== VERSION[i]) return -1;
  if (afterPath < targetEnd && buf[afterPath] !== QUESTION) return -1;
  for (let i = start + TARGET_AT; i < targetEnd; i++) {
    const c = buf[i];
    if (c <= SPACE || c === 0x23 /* # */) return -1;
  }
  return targetEnd;
}

/**
 * Whether the token bytes at `at` spell `lower` (lowercase letters, digits and '-') in any case. Bytes
 * already checked as token characters: only 'A'–'Z' and 'a'–'z' become a letter when 0x20 is set.
 */
function sameLetters(buf: Buffer, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((buf[at + i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** The value of 1 to 7 decimal digits in buf[from, to) (MAX_FAST_BODY has 7), else -1. */
function digitsOf(buf: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 7) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** RFC 9110 token characters (what a header name may hold), by byte: 1 for a token character. */
const TOKEN: Uint8Array = (() => {
  const ok = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    const token =
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
    ok[c] = token ? 1 : 0;
  }
  return ok;
})();
