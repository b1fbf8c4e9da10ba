/**
 * Zero-allocation scanner for InfluxDB 1.x line protocol request bodies.
 *
 * Lines are split exactly the way influxd 1.x splits them (models/points.go: `scanLine` inside
 * `ParsePointsWithPrecision`): a '\\' skips the byte after it (when two more bytes follow), and a
 * '\n' inside a double-quoted string field value does not end the line. Blank lines, lines of
 * whitespace (' ', '\t', NUL) and lines whose first non-whitespace byte is '#' are skipped.
 *
 * Per line the scanner reports offsets only (see {@link LineCursor}); it allocates nothing.
 *
 * Fast path: the candidate end of a line is the next '\n' (native memchr through `indexOf`). When
 * no '\\' and no '"' lies before it — the positions of the next of each are cached and refreshed only
 * once the scan passes them, so all look-ups together cost O(body) — that '\n' is the line's end.
 * Only lines holding a '\\' or a '"' are walked byte by byte with influxd's `scanLine` rules.
 */

/** What influxd would answer for the line, as far as this scanner checks; other faults are left to the backend. */
export enum LineError {
  None = 0,
  /** influxd: `missing measurement` (the line starts with ','). */
  MissingMeasurement = 1,
  /** influxd: `missing fields` (no field section after the series key). */
  MissingFields = 2,
}

const NUL = 0x00;
const TAB = 0x09;
const NL = 0x0a;
const SP = 0x20;
const DQ = 0x22;
const HASH = 0x23;
const COMMA = 0x2c;
const MINUS = 0x2d;
const D0 = 0x30;
const D9 = 0x39;
const EQ = 0x3d;
const BS = 0x5c;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/**
 * The scanner's per-line result. Create one per scanning loop and pass it to every {@link nextLine}
 * call; it is overwritten in place. All positions are absolute offsets into the scanned buffer.
 */
export class LineCursor {
  /** First byte of the line (after leading ' ', '\t', NUL). */
  lineStart = 0;
  /** End of the line, exclusive; never includes the terminating '\n'. */
  lineEnd = 0;
  /** Where scanning continues: just past the terminating '\n', or the scan end for the last line. */
  next = 0;
  /** End of the raw (still escaped) measurement, exclusive: `[lineStart, measurementEnd)`. */
  measurementEnd = 0;
  /** 32-bit FNV-1a (unsigned) of the raw measurement bytes; equal to `hashBytes(buf, lineStart, measurementEnd)`. */
  measurementHash = 0;
  /** End of the series key (measurement and tags): the first unescaped ' ' after it, or lineEnd if none. */
  keyEnd = 0;
  /**
   * The line ends with a timestamp section (`[-]digits` after the fields, then only spaces). Exact for
   * every line influxd accepts; false whenever `error` is set.
   */
  hasTimestamp = false;
  error: LineError = LineError.None;
  /**
   * Where the scan of this line began (before leading whitespace; after skipped blank/comment lines).
   * influxd scans the line from here, so `[blockStart, lineEnd)` is the exact block it parses.
   */
  blockStart = 0;
  /**
   * The line, copied on its own (`[lineStart, lineEnd)`) and followed by more bytes, would not end where
   * it does here: influxd's scanLine finishes it inside a double-quoted string or with an unpaired '\\'
   * (e.g. `cpu s="open` or `cpu v=1\`). Forwarding such a line with other lines after it would make the
   * backend swallow them into it. Nearly always influxd rejects the line anyway (`unbalanced quotes`,
   * `invalid number`…); it accepts one only in corners of odd escaping, e.g. `a\\ b="x s=1` as the last
   * line of a body. Only ever true for lines holding a '"' or a '\\'.
   */
  unterminated = false;

  // Scan cache (internal): next '\\' / '"' at or after the last scan position, for `cacheBuf`.
  /** @internal */ cacheBuf: Buffer | null = null;
  /** @internal */ cacheBackslash = -1;
  /** @internal */ cacheQuote = -1;
  /** @internal */ cachePos = 0;

  /**
   * Forgets the cached look-ahead. Needed only when the same Buffer object is refilled with new bytes and
   * scanned again from a position not below the last one (moving backwards or changing buffers resets it).
   */
  reset(): void {
    this.cacheBuf = null;
    this.cacheBackslash = -1;
    this.cacheQuote = -1;
    this.cachePos = 0;
  }
}

/**
 * Advances to the next non-blank, non-comment line at or after `pos` (scanning `[pos, end)`; `end` is
 * clamped to `buf.length`) and fills `cur`. Returns false when no line is left (then `cur.next === end`).
 * Loop: `let pos = 0; while (nextLine(buf, pos, buf.length, cur)) { pos = cur.next; ... }`.
 * `cur.next` is always greater than `pos`.
 */
export function nextLine(buf: Buffer, pos: number, end: number, cur: LineCursor): boolean {
  if (end > buf.length) end = buf.length;
  if (cur.cacheBuf !== buf || pos < cur.cachePos) {
    cur.cacheBuf = buf;
    cur.cacheBackslash = -1;
    cur.cacheQuote = -1;
  }
  let bs = cur.cacheBackslash;
  let dq = cur.cacheQuote;
  while (pos < end) {
    let nl = buf.indexOf(NL, pos);
    if (nl < 0 || nl > end) nl = end;
    if (bs < pos) {
      bs = buf.indexOf(BS, pos);
      if (bs < 0) bs = buf.length;
    }
    let blockEnd = nl;
    let simple = true;
    if (bs < nl) {
      simple = false;
    } else {
      if (dq < pos) {
        dq = buf.indexOf(DQ, pos);
        if (dq < 0) dq = buf.length;
      }
      if (dq < nl) simple = false;
    }
    if (!simple) blockEnd = scanLineEnd(buf, pos, end);
    const next = blockEnd < end ? blockEnd + 1 : end;

    let s = pos;
    while (s < blockEnd) {
      const c = buf[s];
      if (c !== SP && c !== TAB && c !== NUL) break;
      s++;
    }
    if (s >= blockEnd || buf[s] === HASH) {
      pos = next;
      continue;
    }
    let e = blockEnd;
    // influxd strips one trailing '\n' (left there by an escape pair or an unterminated quote).
    if (!simple && buf[e - 1] === NL) e--;

    cur.blockStart = pos;
    cur.lineStart = s;
    cur.lineEnd = e;
    cur.next = next;
    cur.unterminated = simple ? false : isUnterminated(buf, pos, s, e, blockEnd < end, dq < blockEnd);
    analyzeLine(buf, s, e, cur, nl < e);
    cur.cacheBackslash = bs;
    cur.cacheQuote = dq;
    cur.cachePos = next;
    return true;
  }
  cur.cacheBackslash = bs;
  cur.cacheQuote = dq;
  cur.cachePos = end;
  cur.next = end;
  return false;
}

/** Bytes that matter to influxd's `scanLine`: '\n', ' ', '"', ',', '=', '\\'. */
const SCAN_SPECIAL = new Uint8Array(256);
for (const b of [NL, SP, DQ, COMMA, EQ, BS]) SCAN_SPECIAL[b] = 1;

/** influxd's `scanLine`: returns the index of the '\n' that ends the line starting at `i`, or `len`. */
function scanLineEnd(buf: Buffer, i: number, len: number): number {
  let quoted = false;
  let fields = false;
  let equals = 0;
  let commas = 0;
  while (i < len) {
    const c = buf[i];
    if (SCAN_SPECIAL[c] === 0) {
      i++;
      continue;
    }
    if (c === BS) {
      if (i + 2 < len) {
        i += 2;
        continue;
      }
    } else if (c === SP) {
      fields = true;
    } else if (c === NL) {
      if (!quoted) break;
    } else if (fields) {
      // '"', ',' or '='
      if (c === DQ) {
        if (equals > commas) quoted = !quoted;
      } else if (!quoted) {
        if (c === EQ) equals++;
        else commas++;
      }
    }
    i++;
  }
  return i;
}

/**
 * Would `[start, end)`, copied on its own and followed by more bytes, leave influxd's `scanLine` inside a
 * quoted string or with a '\\' pairing across `end`? `blockStart` is where the real scan began,
 * `endedAtNewline` whether it stopped at an unquoted '\n', `mayHaveQuote` whether the block holds a '"'.
 */
function isUnterminated(
  buf: Buffer,
  blockStart: number,
  start: number,
  end: number,
  endedAtNewline: boolean,
  mayHaveQuote: boolean,
): boolean {
  let sameState = true;
  for (let k = blockStart; k < start; k++) if (buf[k] === SP) sameState = false; // a leading ' ' sets `fields`
  if (!mayHaveQuote || (endedAtNewline && sameState)) {
    // The scan ends unquoted; only a trailing run of '\\' can pair across the end (runs start pair-aligned).
    let k = end;
    while (k > start && buf[k - 1] === BS) k--;
    return ((end - k) & 1) === 1;
  }
  let i = start;
  let quoted = false;
  let fields = false;
  let equals = 0;
  let commas = 0;
  while (i < end) {
    const c = buf[i];
    if (c === BS) {
      i += 2;
      continue;
    }
    if (c === SP) {
      fields = true;
    } else if (c === NL) {
      if (!quoted) {
        // the backend ends a line here and starts the next one afresh
        fields = false;
        equals = 0;
        commas = 0;
      }
    } else if (fields) {
      if (c === DQ) {
        if (equals > commas) quoted = !quoted;
      } else if (!quoted) {
        if (c === EQ) equals++;
        else if (c === COMMA) commas++;
      }
    }
    i++;
  }
  return quoted || i > end;
}

/**
 * Fills measurement, hash, key end, error and timestamp presence for the line `[start, end)`.
 * `hasNewline`: the line holds a raw '\n' (only possible on the byte-by-byte path).
 */
function analyzeLine(buf: Buffer, start: number, end: number, cur: LineCursor, hasNewline: boolean): void {
  let c = buf[start];
  if (c === COMMA) {
    // influxd scanMeasurement: a ',' as first byte → "missing measurement".
    cur.measurementEnd = start;
    cur.measurementHash = FNV_OFFSET >>> 0;
    const keyEnd = findKeyEnd(buf, start + 1, end);
    cur.keyEnd = keyEnd;
    cur.error = LineError.MissingMeasurement;
    cur.hasTimestamp = false;
    return;
  }

  // Measurement: up to the first ',' or ' ' whose previous byte is not '\\' (influxd's rule: the byte
  // after any '\\' is escaped, even when that '\\' itself follows another '\\').
  let h = Math.imul(FNV_OFFSET ^ c, FNV_PRIME);
  let prev = c;
  let i = start + 1;
  for (; i < end; i++) {
    c = buf[i];
    if ((c === COMMA || c === SP) && prev !== BS) break;
    h = Math.imul(h ^ c, FNV_PRIME);
    prev = c;
  }
  cur.measurementEnd = i;
  cur.measurementHash = h >>> 0;

  let keyEnd: number;
  let error = LineError.None;
  if (i >= end) {
    keyEnd = end; // "cpu" → influxd: missing fields
    error = LineError.MissingFields;
  } else if (c === SP) {
    keyEnd = i;
    if (fieldsEmpty(buf, keyEnd, end)) error = LineError.MissingFields;
  } else {
    keyEnd = findKeyEnd(buf, i + 1, end);
    // Only when the key runs to the end of the line or nothing follows it does the tag syntax decide
    // between influxd's "missing fields" and one of its tag errors (left to the backend).
    if ((keyEnd >= end || fieldsEmpty(buf, keyEnd, end)) && tagsEndInValue(buf, i + 1, keyEnd)) {
      error = LineError.MissingFields;
    }
  }
  cur.keyEnd = keyEnd;
  cur.error = error;
  cur.hasTimestamp =
    error !== LineError.None ? false : hasNewline ? timestampAfterFields(buf, keyEnd, end) : detectTimestamp(buf, keyEnd, end);
}

/** First ' ' at or after `j` (> line start) whose previous byte is not '\\'; `end` if none. */
function findKeyEnd(buf: Buffer, j: number, end: number): number {
  for (; j < end; j++) {
    if (buf[j] === SP && buf[j - 1] !== BS) return j;
  }
  return end;
}

/** Only ' ', '\t' or NUL after the key separator at `keyEnd`. */
function fieldsEmpty(buf: Buffer, keyEnd: number, end: number): boolean {
  let j = keyEnd + 1;
  while (j < end) {
    const c = buf[j];
    if (c !== SP && c !== TAB && c !== NUL) return false;
    j++;
  }
  return true;
}

const TAG_KEY_FIRST = 0;
const TAG_KEY = 1;
const TAG_VALUE_FIRST = 2;
const TAG_VALUE = 3;

/**
 * influxd's scanTags/scanTagsKey/scanTagsValue over `[j, keyEnd)` (j just after the measurement's ','):
 * true when the tag set is well formed up to `keyEnd` and stops inside a tag value — where influxd
 * either moves on to the fields or, at the end of the line, answers "missing fields".
 */
function tagsEndInValue(buf: Buffer, j: number, keyEnd: number): boolean {
  let state = TAG_KEY_FIRST;
  let prev = COMMA;
  for (; j < keyEnd; j++) {
    const c = buf[j];
    if (state === TAG_VALUE) {
      if (prev !== BS) {
        if (c === EQ) return false; // invalid tag format
        if (c === COMMA) state = TAG_KEY_FIRST;
      }
    } else if (state === TAG_KEY) {
      if (prev !== BS) {
        if (c === EQ) state = TAG_VALUE_FIRST;
        else if (c === COMMA) return false; // missing tag value
      }
    } else if (state === TAG_KEY_FIRST) {
      if (c === COMMA || c === EQ) return false; // missing tag key
      state = TAG_KEY;
    } else {
      if (c === COMMA) return false; // missing tag value
      state = TAG_VALUE;
    }
    prev = c;
  }
  return state === TAG_VALUE;
}

/**
 * Does the line end with a timestamp? Scans backwards: trailing ' ', then `[-]digits`, then a run of
 * ' ' / '\t' / NUL holding an unescaped ' ' (the fields' end), preceded by a non-blank byte after `keyEnd`.
 * Exact for every line influxd accepts: after the last '"' there can be no quoted ' ', so such a ' ' ends
 * the fields, and a valid line allows only spaces after its timestamp.
 */
function detectTimestamp(buf: Buffer, keyEnd: number, end: number): boolean {
  if (keyEnd >= end) return false;
  let e = end;
  while (e > keyEnd && buf[e - 1] === SP) e--;
  let d = e;
  while (d > keyEnd) {
    const c = buf[d - 1];
    if (c < D0 || c > D9) break;
    d--;
  }
  if (d === e) return false;
  if (buf[d - 1] === MINUS) d--; // buf[keyEnd] is ' ', so d - 1 > keyEnd here
  let w = d;
  let spaces = 0;
  while (w > keyEnd) {
    const c = buf[w - 1];
    if (c === SP) spaces++;
    else if (c !== TAB && c !== NUL) break;
    w--;
  }
  // w === keyEnd: only whitespace between the key and the digits — they are the fields, not a timestamp.
  if (w <= keyEnd || spaces === 0) return false;
  if (buf[w] === SP && buf[w - 1] === BS) {
    // The run's first ' ' is escaped when an odd run of '\\' precedes it.
    let k = w - 1;
    while (k > keyEnd && buf[k - 1] === BS) k--;
    if (((w - k) & 1) === 1) spaces--;
  }
  return spaces > 0;
}

/**
 * influxd's scanFields (without validating the values, which a valid line's numbers and booleans can't
 * affect) then scanTime over `[keyEnd, end)`. Used for lines holding a raw '\n', where the backward check
 * does not hold: scanTime stops at a '\n', so `cpu s="a"\n 5` has no timestamp for influxd.
 */
function timestampAfterFields(buf: Buffer, keyEnd: number, end: number): boolean {
  let i = keyEnd;
  while (i < end && (buf[i] === SP || buf[i] === TAB || buf[i] === NUL)) i++;
  let quoted = false;
  let equals = 0;
  let commas = 0;
  while (i < end) {
    const c = buf[i];
    if (c === BS && i + 1 < end) {
      i += 2;
      continue;
    }
    if (c === DQ && equals > commas) {
      quoted = !quoted;
    } else if (!quoted) {
      if (c === SP) break;
      if (c === EQ) equals++;
      else if (c === COMMA) commas++;
    }
    i++;
  }
  while (i < end && (buf[i] === SP || buf[i] === TAB || buf[i] === NUL)) i++;
  if (i < end && buf[i] === MINUS) i++;
  const digits = i;
  while (i < end && buf[i] >= D0 && buf[i] <= D9) i++;
  if (i === digits) return false;
  while (i < end && buf[i] === SP) i++;
  return i === end;
}

/** 32-bit FNV-1a (unsigned) over `buf[start, end)` — the function behind {@link LineCursor.measurementHash}. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], FNV_PRIME);
  return h >>> 0;
}

/**
 * The measurement name as influxd stores it: only `\,` and `\ ` are unescaped (every other '\\' stays),
 * decoded as UTF-8. `my\ meas` → `my meas`, `my\,comma` → `my,comma`, `a\\b` → `a\\b`.
 */
export function unescapeMeasurement(buf: Buffer, start: number, end: number): string {
  let first = -1;
  for (let i = start; i < end - 1; i++) {
    if (buf[i] === BS) {
      const n = buf[i + 1];
      if (n === COMMA || n === SP) {
        first = i;
        break;
      }
    }
  }
  if (first < 0) return buf.toString('utf8', start, end);
  const out = Buffer.allocUnsafe(end - start);
  let o = buf.copy(out, 0, start, first);
  let i = first;
  while (i < end) {
    const c = buf[i];
    if (c === BS && i + 1 < end) {
      const n = buf[i + 1];
      if (n === COMMA || n === SP) {
        out[o++] = n;
        i += 2;
        continue;
      }
    }
    out[o++] = c;
    i++;
  }
  return out.toString('utf8', 0, o);
}

/** The line's text, as influxd quotes it in `unable to parse '<line>': <reason>`. */
export function lineText(buf: Buffer, cur: LineCursor): string {
  return buf.toString('utf8', cur.lineStart, cur.lineEnd);
}
