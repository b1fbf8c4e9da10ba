import { isKeyword } from './tokenizer';
import type { ParsedStatement, Span } from './types';

const BARE_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether `name` must be double-quoted to be read back as the same identifier. */
export function identNeedsQuotes(name: string): boolean {
  return !BARE_IDENT.test(name) || isKeyword(name);
}

function escapeIdent(name: string): string {
  return name.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * `name` as an InfluxQL identifier: bare when it can be, else double-quoted with `\\`, `\"` and `\n` escaped.
 * Throws RangeError for a name holding a carriage return, which InfluxQL cannot express.
 */
export function quoteIdent(name: string): string {
  if (name.includes('\r')) throw new RangeError('an identifier with a carriage return cannot be written in InfluxQL');
  return identNeedsQuotes(name) ? `"${escapeIdent(name)}"` : name;
}

/**
 * Dotted identifier segments quoted the way influxd prints them (`"db"."rp".m`; an empty segment is `""` at
 * either end and nothing in the middle). Used for influxd's "too many segments in …" message.
 */
export function quoteSegments(segments: readonly string[]): string {
  const last = segments.length - 1;
  return segments
    .map((seg, i) => {
      const quote = identNeedsQuotes(seg) && seg !== '' ? true : (i < last && seg !== '') || ((i === 0 || i === last) && seg === '');
      return quote ? `"${escapeIdent(seg)}"` : seg;
    })
    .join('.');
}

/** Which database references `rewriteDatabase` replaces besides the FROM sources. */
export interface RewriteDatabaseOptions {
  /** Also replace the db qualifier of a `SELECT … INTO db.rp.m` target (default true). */
  into?: boolean;
  /** Also replace the database of an `ON <db>` clause (SHOW … ON db, CREATE RETENTION POLICY … ON db, …) (default true). */
  on?: boolean;
}

/** The db qualifier spans of `stmt` (nested subqueries and wrapped selects included), keyed by offset. */
function databaseSpans(stmt: ParsedStatement, options: RewriteDatabaseOptions, into: Map<number, Span>): void {
  const add = (span: Span | undefined): void => {
    if (span) into.set(span.start, span);
  };
  for (const source of stmt.sources) {
    if (source.kind === 'subquery') databaseSpans(source.statement, options, into);
    else add(source.dbSpan);
  }
  if (options.into !== false) add(stmt.into?.dbSpan);
  if (options.on !== false) add(stmt.onDatabaseSpan);
  add(stmt.withMeasurement?.source.dbSpan);
  if (stmt.inner) databaseSpans(stmt.inner, options, into);
}

/**
 * `stmt.text` with every explicitly written database name replaced by `newDb` (quoted when needed):
 * the `db` of each `db.rp.m` / `db..m` / `db.rp./re/` source (subqueries included), and by default the
 * INTO target's db and an `ON <db>` clause. Everything else, comments and spacing included, is kept as written.
 * Sources without a db qualifier are left alone (they use the request's `db` parameter), and so is the name in
 * CREATE/DROP DATABASE.
 * Throws RangeError if `newDb` holds a carriage return (InfluxQL has no way to write one).
 */
export function rewriteDatabase(stmt: ParsedStatement, newDb: string, options: RewriteDatabaseOptions = {}): string {
  const spans = new Map<number, Span>();
  databaseSpans(stmt, options, spans);
  if (spans.size === 0) return stmt.text;
  const replacement = quoteIdent(newDb);
  const ordered = [...spans.values()].sort((a, b) => a.start - b.start);
  let out = '';
  let at = stmt.start;
  for (const span of ordered) {
    out += stmt.text.slice(at - stmt.start, span.start - stmt.start) + replacement;
    at = span.end;
  }
  return out + stmt.text.slice(at - stmt.start);
}
