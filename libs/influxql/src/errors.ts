/**
 * The one error this library throws for a query it cannot accept.
 *
 * Messages follow influxd's wording so the proxy can answer exactly as influxd would:
 * `400 {"error":"error parsing query: <message>"}`, e.g.
 * `found FOO, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1`.
 */
export class InfluxQLParseError extends Error {
  override readonly name = 'InfluxQLParseError';

  constructor(
    message: string,
    /** UTF-16 offset into the query (as given to parseQuery) where the problem was found. */
    readonly offset?: number,
    /** 1-based line influxd reports (counted in the trimmed query; \n, \r\n and a lone \r each end a line). */
    readonly line?: number,
    /** 1-based character influxd reports within that line (code points; see parseQuery for its quirks). */
    readonly char?: number,
  ) {
    super(message);
  }
}

/** Line and character (both 1-based, characters counted in code points) of `offset` in `input`, as influxd reports them. */
export function positionOf(input: string, offset: number): { line: number; char: number } {
  let line = 1;
  let char = 1;
  const end = Math.min(offset, input.length);
  for (let i = 0; i < end; i++) {
    const c = input.charCodeAt(i);
    if (c === 0x0a) {
      line++;
      char = 1;
    } else if (c === 0x0d) {
      if (input.charCodeAt(i + 1) === 0x0a) i++;
      line++;
      char = 1;
    } else {
      // A surrogate pair is one character.
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
        const d = input.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) i++;
      }
      char++;
    }
  }
  return { line, char };
}

/**
 * Line and character of the character before `offset` (line 1, char 1 at the start). influxd reports strings,
 * regexes and unclosed quotes there: its scanner takes their position after stepping back over the quote.
 */
export function positionBefore(input: string, offset: number): { line: number; char: number } {
  if (offset <= 0) return { line: 1, char: 1 };
  let prev = offset - 1;
  const c = input.charCodeAt(prev);
  if (c === 0x0a && input.charCodeAt(prev - 1) === 0x0d) prev--;
  else if (c >= 0xdc00 && c <= 0xdfff && prev > 0) {
    const h = input.charCodeAt(prev - 1);
    if (h >= 0xd800 && h <= 0xdbff) prev--;
  }
  return positionOf(input, prev);
}

/** An error carrying influxd's ` at line L, char C` suffix. */
export function errorAtPosition(message: string, offset: number, line: number, char: number): InfluxQLParseError {
  return new InfluxQLParseError(`${message} at line ${line}, char ${char}`, offset, line, char);
}

/** An error carrying influxd's ` at line L, char C` suffix for `offset` in `input`. */
export function errorAt(input: string, offset: number, message: string): InfluxQLParseError {
  const { line, char } = positionOf(input, offset);
  return errorAtPosition(message, offset, line, char);
}
