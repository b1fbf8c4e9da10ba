/** influxd's /query JSON, written as Go's encoding/json writes it (key order, escaping, MarshalIndent for `pretty`). */
import { withBigNumberDigits } from './lossless-json';
import type { Series, StatementResult } from './query-result';

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
function ordered(r: StatementResult, rawTexts: string[]): Record<string, unknown> {
  return {
    statement_id: r.statement_id,
    series: r.series && r.series.length > 0 ? r.series.map((s) => orderedSeries(s, rawTexts)) : undefined,
    messages: r.messages && r.messages.length > 0 ? r.messages.map((m) => ({ level: m.level, text: m.text })) : undefined,
    partial: r.partial ? true : undefined,
    error: r.error ? r.error : undefined,
  };
}

/** `rawTexts` collects the series' raw values for this render (goStringify splices them in). */
function orderedSeries(s: Series, rawTexts: string[]): Record<string, unknown> {
  return {
    name: s.name ? s.name : undefined,
    tags: s.tags && Object.keys(s.tags).length > 0 ? s.tags : undefined,
    columns: s.columns && s.columns.length > 0 ? s.columns : undefined,
    values:
      s.rawValues !== undefined ? new RawJson(rawTexts.push(s.rawValues) - 1) : s.values && s.values.length > 0 ? s.values : undefined,
    partial: s.partial ? true : undefined,
  };
}

/** Marks JSON text to splice into JSON.stringify's output, replaced by the text afterwards. */
const RAW_MARK = `\u0000raw${Math.random().toString(36).slice(2)}:`;
const RAW_MARKED = new RegExp(`"${JSON.stringify(RAW_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(\\d+)"`, 'g');

/** Stands for the JSON text at `index` of the render's raw texts (see goStringify). */
class RawJson {
  constructor(readonly index: number) {}

  toJSON(): string {
    return RAW_MARK + this.index;
  }
}

/** Whether GO_FIXUPS has anything to do (not global: a test leaves no lastIndex behind). */
const NEEDS_GO_FIXUPS = /\\[^u]|[<>&\u2028\u2029]/;
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
 * matched whole, so an escaped backslash followed by `b` is left alone. BigNumbers get their digits,
 * and each RawJson its text from `rawTexts` (backend JSON, already as Go writes it: spliced in last).
 */
export function goStringify(value: unknown, pretty = false, rawTexts: readonly string[] = []): string {
  let out = JSON.stringify(value, null, pretty ? 4 : undefined);
  if (NEEDS_GO_FIXUPS.test(out)) out = out.replace(GO_FIXUPS, (m) => GO_ESCAPES[m] ?? m);
  out = withBigNumberDigits(out);
  if (rawTexts.length > 0) out = out.replace(RAW_MARKED, (_m, i: string) => rawTexts[Number(i)]);
  return out;
}

/** `{"results":[…]}` plus newline, compact or (pretty) indented by four spaces like MarshalIndent. */
export function renderJson(results: readonly StatementResult[], pretty = false): string {
  // influxd's Response has `results,omitempty`: a query of empty statements answers `{}`.
  const rawTexts: string[] = [];
  const doc = results.length > 0 ? { results: results.map((r) => ordered(r, rawTexts)) } : {};
  return goStringify(doc, pretty, rawTexts) + '\n';
}

/** chunked=true: one document per statement result, one per line. */
export function renderJsonLines(results: readonly StatementResult[], pretty = false): string {
  let out = '';
  for (const r of results) out += renderJson([r], pretty);
  return out;
}
