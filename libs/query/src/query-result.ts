/**
 * influxd's /query answer shapes, read from a backend and written the way influxd writes them
 * (encoding/json key order and escaping, MarshalIndent for `pretty`, its CSV formatter).
 * Only answers the proxy builds itself (merged, local) go through here; streamed answers are never parsed.
 */

/** Marks a BigNumber in JSON.stringify output, replaced by its digits afterwards. */
const BIG_MARK = `\u0000big${Math.random().toString(36).slice(2)}:`;

/** An integer the backend wrote that a JS number cannot hold exactly (epoch=ns times, big int64 fields). */
export class BigNumber {
  constructor(readonly text: string) {}

  toJSON(): string {
    return BIG_MARK + this.text;
  }
}

export type Value = string | number | boolean | null | BigNumber;

/** models.Row: field order is influxd's. */
export interface Series {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: Value[][];
  /**
   * The values as influxd's JSON text, spliced into the answer as is (merged from the backends'
   * bytes, see raw-rows-merge.ts). A series has either this or `values`.
   */
  rawValues?: string;
  partial?: boolean;
}

export interface Message {
  level: string;
  text: string;
}

/** query.Result without its statement id (the proxy numbers statements itself). */
export interface StatementOutcome {
  series?: Series[];
  messages?: Message[];
  partial?: boolean;
  error?: string;
}

export interface StatementResult extends StatementOutcome {
  statement_id: number;
}

export interface QueryResponse {
  results?: StatementResult[];
  error?: string;
}

/** influxd's text for statements after the first failing one. */
export const NOT_EXECUTED = 'not executed';

// ---------------------------------------------------------------------------------------------
// reading

const LONG_DIGITS = /\d{16}/;

/**
 * JSON.parse that keeps integers beyond 2^53 exact (as BigNumber). Backends answer epoch=ns times
 * such as 1700000000123456789, which a plain JSON.parse would round.
 */
export function parseLossless(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const marker = `\u0000big${Math.random().toString(36).slice(2)}:`;
  let out = '';
  let plainStart = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let integer = true;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d >= 0x30 && d <= 0x39) continue;
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) {
          integer = false;
          continue;
        }
        break;
      }
      if (integer && j - i >= 16 && !Number.isSafeInteger(Number(text.slice(i, j)))) {
        out += text.slice(plainStart, i) + JSON.stringify(marker + text.slice(i, j));
        plainStart = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  out += text.slice(plainStart);
  return JSON.parse(out, (_key, value) =>
    typeof value === 'string' && value.startsWith(marker) ? new BigNumber(value.slice(marker.length)) : value,
  );
}

/** A backend's /query JSON body; throws when it is not one. */
export function parseQueryResponse(text: string): QueryResponse {
  const parsed = parseLossless(text) as QueryResponse;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a /query response');
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// JSON, as Go's encoding/json writes it

/** Go's encoding/json string escaping (HTML-safe: <, >, & and U+2028/9 escaped; controls as \u00XX). */
export function goString(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\u0000-\u001f"\\<>&\u2028\u2029]/.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      default:
        if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
          out += '\\u' + c.toString(16).padStart(4, '0');
        } else {
          out += s[i];
        }
    }
  }
  return out + '"';
}

/** A result with influxd's field order, empty members omitted (omitempty). */
function ordered(r: StatementResult): Record<string, unknown> {
  return {
    statement_id: r.statement_id,
    series: r.series && r.series.length > 0 ? r.series.map(orderedSeries) : undefined,
    messages: r.messages && r.messages.length > 0 ? r.messages.map((m) => ({ level: m.level, text: m.text })) : undefined,
    partial: r.partial ? true : undefined,
    error: r.error ? r.error : undefined,
  };
}

function orderedSeries(s: Series): Record<string, unknown> {
  return {
    name: s.name ? s.name : undefined,
    tags: s.tags && Object.keys(s.tags).length > 0 ? s.tags : undefined,
    columns: s.columns && s.columns.length > 0 ? s.columns : undefined,
    values: s.rawValues !== undefined ? new RawJson(s.rawValues) : s.values && s.values.length > 0 ? s.values : undefined,
    partial: s.partial ? true : undefined,
  };
}

/** Marks JSON text to splice into JSON.stringify's output, replaced by the text afterwards. */
const RAW_MARK = `\u0000raw${Math.random().toString(36).slice(2)}:`;
const RAW_MARKED = new RegExp(`"${JSON.stringify(RAW_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(\\d+)"`, 'g');
/** The texts of the RawJson met by the JSON.stringify in progress (it is synchronous). */
let rawTexts: string[] = [];

class RawJson {
  constructor(readonly text: string) {}

  toJSON(): string {
    return RAW_MARK + (rawTexts.push(this.text) - 1);
  }
}

/** The results with every `rawValues` parsed into `values` (for CSV and indented JSON); shared objects stay untouched. */
export function withParsedValues(results: readonly StatementResult[]): StatementResult[] {
  return results.map((r) =>
    r.series?.some((s) => s.rawValues !== undefined)
      ? {
          ...r,
          series: r.series.map((s) => {
            if (s.rawValues === undefined) return s;
            const { rawValues, ...rest } = s;
            return { ...rest, values: parseLossless(rawValues) as Value[][] };
          }),
        }
      : r,
  );
}

const BIG_MARKED = new RegExp(`"${JSON.stringify(BIG_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(-?\\d+)"`, 'g');
const GO_FIXUPS = /\\[^u]|[<>&\u2028\u2029]/g;
const GO_ESCAPES: Record<string, string> = {
  '\\b': '\\u0008',
  '\\f': '\\u000c',
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * JSON.stringify, then turned into what Go's encoding/json writes: it escapes <, > and & and
 * U+2028/9, and writes \b and \f as \u0008 and \u000c (other escapes agree). Escape pairs are
 * matched whole, so an escaped backslash followed by `b` is left alone. BigNumbers get their digits.
 */
export function goStringify(value: unknown, pretty = false): string {
  rawTexts = [];
  let out = JSON.stringify(value, null, pretty ? 4 : undefined);
  if (GO_FIXUPS.test(out)) {
    GO_FIXUPS.lastIndex = 0;
    out = out.replace(GO_FIXUPS, (m) => GO_ESCAPES[m] ?? m);
  }
  GO_FIXUPS.lastIndex = 0;
  if (out.includes('big')) out = out.replace(BIG_MARKED, '$1');
  if (rawTexts.length > 0) {
    const texts = rawTexts;
    rawTexts = [];
    out = out.replace(RAW_MARKED, (_m, i: string) => texts[Number(i)]);
  }
  return out;
}

/** `{"results":[…]}` plus newline, compact or (pretty) indented by four spaces like MarshalIndent. */
export function renderJson(results: readonly StatementResult[], pretty = false): string {
  // influxd's Response has `results,omitempty`: a query of empty statements answers `{}`.
  const doc = results.length > 0 ? { results: results.map(ordered) } : {};
  return goStringify(doc, pretty) + '\n';
}

/** chunked=true: one document per statement result, one per line. */
export function renderJsonLines(results: readonly StatementResult[], pretty = false): string {
  let out = '';
  for (const r of results) out += renderJson([r], pretty);
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV, as influxd's csvFormatter writes it

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatFloatF(v: number): string {
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const negative = s.startsWith('-');
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const point = (dot < 0 ? mantissa.length : dot) + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return (negative ? '-' : '') + out;
}

function csvValue(v: Value | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatFloatF(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof BigNumber) return v.text;
  return String(v);
}

/** encoding/csv's fieldNeedsQuotes. */
function csvField(field: string): string {
  if (field === '') return field;
  const needs =
    field === '\\.' ||
    /[,"\r\n]/.test(field) ||
    /^[\s\u0085\u00a0]/u.test(field);
  return needs ? `"${field.replace(/"/g, '""')}"` : field;
}

function csvLine(fields: string[]): string {
  return fields.map(csvField).join(',') + '\n';
}

function escapeTag(s: string): string {
  return s.replace(/[, =]/g, (c) => '\\' + c);
}

/** models.Tags.HashKey() without its leading comma: sorted, escaped, empty values skipped. */
export function tagsHashKey(tags: Record<string, string> | undefined): string {
  if (!tags) return '';
  const parts: string[] = [];
  for (const key of Object.keys(tags).sort(compareBytes)) {
    const value = tags[key];
    if (value === '' || value === undefined) continue;
    parts.push(`${escapeTag(key)}=${escapeTag(value)}`);
  }
  return parts.join(',');
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/** influxd's csvFormatter over whole results: statement errors are not written, as influxd does not either. */
export function renderCsv(results: readonly StatementResult[]): string {
  let out = '';
  let statementId = -1;
  let columns: string[] = [];
  for (const result of results) {
    const series = result.series ?? [];
    if (result.statement_id !== statementId) {
      if (series.length === 0) continue;
      if (statementId >= 0) out += '\n';
      statementId = result.statement_id;
      columns = series[0].columns;
      out += csvLine(['name', 'tags', ...columns]);
    }
    series.forEach((row, i) => {
      if (i > 0 && !sameColumns(columns, row.columns)) {
        out += '\n';
        columns = row.columns;
        out += csvLine(['name', 'tags', ...columns]);
      }
      const head = [row.name ?? '', tagsHashKey(row.tags)];
      for (const values of row.values ?? []) {
        const fields = head.slice();
        for (let c = 0; c < columns.length; c++) fields.push(csvValue(values[c]));
        out += csvLine(fields);
      }
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ordering

const SURROGATE_OR_ABOVE = /[\ud800-\uffff]/;

/** Go's string order (UTF-8 bytes, i.e. code points), not JS's UTF-16 code units. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 order differs from code point order only between a surrogate and U+E000..U+FFFF, which
  // needs such characters on both sides.
  if (!SURROGATE_OR_ABOVE.test(a) || !SURROGATE_OR_ABOVE.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (an astral code point) sorts after every BMP character in code point order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

const typeRank = (v: Value | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' || v instanceof BigNumber ? 2 : 3;

/** Orders two cells: null, booleans, numbers, strings (bytes). */
export function compareValues(a: Value | undefined, b: Value | undefined): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'string' && typeof b === 'string') return compareBytes(a, b);
  if (ra === 2) {
    if (!(a instanceof BigNumber) && !(b instanceof BigNumber)) return (a as number) - (b as number);
    // A BigNumber is an integer beyond 2^53: compare exactly against the other side's integer part.
    const x = a instanceof BigNumber ? BigInt(a.text) : BigInt(Math.floor(a as number));
    const y = b instanceof BigNumber ? BigInt(b.text) : BigInt(Math.floor(b as number));
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (ra === 1) return Number(a) - Number(b);
  return 0;
}

/** A stable identity for a cell, for de-duplication. */
export function valueKey(v: Value | undefined): string {
  if (v === null || v === undefined) return 'n';
  if (v instanceof BigNumber) return 'd' + v.text;
  switch (typeof v) {
    case 'string':
      return 's' + v;
    case 'number':
      return 'd' + String(v);
    default:
      return 'b' + String(v);
  }
}
