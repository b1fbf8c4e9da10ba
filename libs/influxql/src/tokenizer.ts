/**
 * InfluxQL lexical analysis.
 *
 * The lexer is position-based and stateless: `scan(pos)` reads the one token starting at `pos`.
 * Whether a `/` opens a regex or is the division operator depends on the grammar (influxd's parser
 * asks its scanner for a regex only at the few places one may appear), so the parser decides and
 * calls `scanRegex(pos)` there; `scan` always reads `/` as division or as the start of a `/* *\/`
 * comment. The lexer never throws: malformed input comes back as `illegal` / `bad-*` tokens, which the parser
 * reports the way influxd does (`found …, expected …`). The tokens of a parsed statement (`ParsedStatement.tokens`) therefore carry the right
 * interpretation; use the parser, not a bare `scan` loop, to split or inspect queries.
 */

/** What a token is. */
export type TokenKind =
  /** Bare (`cpu`) or double-quoted (`"my cpu"`) identifier; `value` is the decoded name. */
  | 'ident'
  /** Reserved word (case-insensitive, includes AND, OR, TRUE, FALSE); `value` is upper-case. */
  | 'keyword'
  /** Single-quoted string literal; `value` is the decoded string. */
  | 'string'
  /** Regex literal `/.../`; `value` is the pattern with `\/` turned into `/`. */
  | 'regex'
  /** Integer literal such as `42`; `value` is the text. */
  | 'integer'
  /** Decimal literal such as `1.5` or `.5`; `value` is the digits (a trailing `.` is dropped, as influxd does). */
  | 'number'
  /** Duration literal such as `10s`, `1h30m`, `5µ`; `value` is the text (validity is checked by the parser). */
  | 'duration'
  /** Bound parameter `$name`; `value` is the name without `$`. */
  | 'bound-param'
  /** `+ - * / % & | ^ = != =~ !~ < <= > >=`; `value` is canonical (`<>` becomes `!=`). */
  | 'operator'
  /** `( ) , ; . : ::`. */
  | 'punctuation'
  /** A run of spaces, tabs, CRs and LFs (only from `Lexer.scan`, never in a statement's tokens). */
  | 'whitespace'
  /** `-- …` up to the line end, or `/* … *\/` (only from `Lexer.scan`, never in a statement's tokens). */
  | 'comment'
  /** A character InfluxQL has no token for (e.g. `#`, a lone `!`; `value` is that character), or an unclosed `/*` (`value` is ''). */
  | 'illegal'
  /** A string or quoted identifier not closed on its line; `value` is what was read of it. */
  | 'bad-string'
  /** A `\x` escape InfluxQL does not know inside a string or quoted identifier; `value` is the escape, `start` its backslash. */
  | 'bad-escape'
  /** A regex not closed on its line (only from `Lexer.scanRegex`); `value` is ''. */
  | 'bad-regex'
  /** End of input; `start === end === input.length`. */
  | 'eof';

/** One lexical token. Offsets are UTF-16 indices into the query, so `query.slice(start, end) === text`. */
export interface Token {
  kind: TokenKind;
  /** The raw source text of the token. */
  text: string;
  /** The decoded value (see `TokenKind`). */
  value: string;
  /** Offset of the token's first character. */
  start: number;
  /** Offset just past the token's last character. */
  end: number;
  /** For `ident` tokens: whether the name was written in double quotes. */
  quoted?: boolean;
  /** Set when the parser substituted this token for the bound parameter `$param` (`text` stays `$param`). */
  param?: string;
}

/** InfluxQL's reserved words (influxd's keyword table plus AND, OR, TRUE, FALSE), upper-case. */
// prettier-ignore
export const KEYWORDS: ReadonlySet<string> = new Set([
  'ALL', 'ALTER', 'ANALYZE', 'ANY', 'AS', 'ASC', 'BEGIN', 'BY', 'CARDINALITY', 'CREATE', 'CONTINUOUS',
  'DATABASE', 'DATABASES', 'DEFAULT', 'DELETE', 'DESC', 'DESTINATIONS', 'DIAGNOSTICS', 'DISTINCT', 'DROP',
  'DURATION', 'END', 'EVERY', 'EXACT', 'EXPLAIN', 'FIELD', 'FOR', 'FROM', 'FUTURE', 'GRANT', 'GRANTS',
  'GROUP', 'GROUPS', 'IN', 'INF', 'INSERT', 'INTO', 'KEY', 'KEYS', 'KILL', 'LIMIT', 'MEASUREMENT',
  'MEASUREMENTS', 'NAME', 'OFFSET', 'ON', 'ORDER', 'PASSWORD', 'PAST', 'POLICY', 'POLICIES', 'PRIVILEGES',
  'QUERIES', 'QUERY', 'READ', 'REPLICATION', 'RESAMPLE', 'RETENTION', 'REVOKE', 'SELECT', 'SERIES', 'SET',
  'SHOW', 'SHARD', 'SHARDS', 'SLIMIT', 'SOFFSET', 'STATS', 'SUBSCRIPTION', 'SUBSCRIPTIONS', 'TAG', 'TO',
  'USER', 'USERS', 'VALUES', 'VERBOSE', 'WHERE', 'WITH', 'WRITE',
  'AND', 'OR', 'TRUE', 'FALSE',
]);

/** Whether `name` is a reserved word (and so must be double-quoted to be used as an identifier). */
export function isKeyword(name: string): boolean {
  return KEYWORDS.has(name.toUpperCase());
}

const MICRO = 0xb5; // 'µ'

/** influxd's whitespace: space, tab, LF, and CR (its reader turns CR and CRLF into LF). */
export function isWhitespaceCode(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isIdentChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 0x5f;
}
function isNewline(c: number): boolean {
  return c === 0x0a || c === 0x0d;
}

/** Single-character operators and punctuation that never combine with the next character. */
const SINGLE: Record<string, TokenKind> = {
  '+': 'operator',
  '*': 'operator',
  '%': 'operator',
  '&': 'operator',
  '|': 'operator',
  '^': 'operator',
  '(': 'punctuation',
  ')': 'punctuation',
  ',': 'punctuation',
  ';': 'punctuation',
};

/** Reads InfluxQL tokens out of one query string. */
export class Lexer {
  constructor(readonly input: string) {}

  /**
   * The token starting at `pos` (whitespace and comments included). `/` is division here, or a comment
   * when followed by `*`; a regex is read only by `scanRegex`.
   * An unclosed string, quoted identifier or comment, or an unknown escape, comes back as a `bad-*` or `illegal` token.
   */
  scan(pos: number): Token {
    const s = this.input;
    if (pos >= s.length) return this.make('eof', s.length, s.length, '');
    const c = s.charCodeAt(pos);

    if (isWhitespaceCode(c)) {
      let end = pos + 1;
      while (end < s.length && isWhitespaceCode(s.charCodeAt(end))) end++;
      return this.make('whitespace', pos, end);
    }
    if (isLetter(c) || c === 0x5f) return this.scanIdent(pos, true);
    if (isDigit(c)) return this.scanNumber(pos);

    const ch = s[pos];
    switch (ch) {
      case '"':
        return this.scanIdent(pos, true);
      case "'":
        return this.scanQuoted(pos, "'", pos, 'string');
      case '.':
        if (isDigit(s.charCodeAt(pos + 1))) return this.scanNumber(pos);
        return this.make('punctuation', pos, pos + 1);
      case '$': {
        const name = this.scanIdent(pos + 1, false);
        if (name.kind !== 'ident') return { ...name, start: pos, text: s.slice(pos, name.end), value: '$' + name.value };
        return this.make('bound-param', pos, name.end, name.value);
      }
      case '-':
        if (s[pos + 1] === '-') {
          let end = pos + 2;
          while (end < s.length && !isNewline(s.charCodeAt(end))) end++;
          return this.make('comment', pos, end);
        }
        return this.make('operator', pos, pos + 1);
      case '/':
        if (s[pos + 1] === '*') {
          const close = s.indexOf('*/', pos + 2);
          if (close < 0) return this.make('illegal', pos, s.length, '');
          return this.make('comment', pos, close + 2);
        }
        return this.make('operator', pos, pos + 1);
      case '=':
        return s[pos + 1] === '~' ? this.make('operator', pos, pos + 2) : this.make('operator', pos, pos + 1);
      case '!':
        if (s[pos + 1] === '=' || s[pos + 1] === '~') return this.make('operator', pos, pos + 2);
        return this.make('illegal', pos, pos + 1);
      case '>':
        return s[pos + 1] === '=' ? this.make('operator', pos, pos + 2) : this.make('operator', pos, pos + 1);
      case '<':
        if (s[pos + 1] === '>') return this.make('operator', pos, pos + 2, '!=');
        return s[pos + 1] === '=' ? this.make('operator', pos, pos + 2) : this.make('operator', pos, pos + 1);
      case ':':
        return s[pos + 1] === ':' ? this.make('punctuation', pos, pos + 2) : this.make('punctuation', pos, pos + 1);
    }
    const single = SINGLE[ch];
    if (single) return this.make(single, pos, pos + 1);

    // Anything else is one illegal character (a whole surrogate pair counts as one).
    const cp = s.codePointAt(pos) ?? c;
    return this.make('illegal', pos, pos + (cp > 0xffff ? 2 : 1));
  }

  /**
   * The regex literal starting at `pos`, where `input[pos]` must be `/`. Only `\/` is an escape; any other
   * backslash is kept as written (so `\\/` is a backslash followed by an escaped slash, as in influxd).
   * A regex not closed on its line comes back as a `bad-regex` token.
   */
  scanRegex(pos: number): Token {
    const s = this.input;
    let value = '';
    let i = pos + 1;
    for (;;) {
      if (i >= s.length || isNewline(s.charCodeAt(i))) return this.make('bad-regex', pos, i, '');
      const ch = s[i];
      if (ch === '/') return this.make('regex', pos, i + 1, value);
      if (ch === '\\') {
        if (i + 1 >= s.length) return this.make('bad-regex', pos, i + 1, '');
        if (s[i + 1] === '/') {
          value += '/';
          i += 2;
        } else {
          // Keep the backslash; the next character is read on its own (it may itself start an escape).
          value += '\\';
          i += 1;
        }
        continue;
      }
      value += ch;
      i++;
    }
  }

  private make(kind: TokenKind, start: number, end: number, value?: string): Token {
    const text = this.input.slice(start, end);
    return { kind, text, value: value ?? text, start, end };
  }

  /**
   * An identifier at `pos`: bare, double-quoted, or influxd's odd `bare"quoted"` form (one identifier whose
   * name is the quoted part). With `lookup`, a bare word that is a keyword becomes a keyword token.
   */
  private scanIdent(pos: number, lookup: boolean): Token {
    const s = this.input;
    let end = pos;
    while (end < s.length && isIdentChar(s.charCodeAt(end))) end++;
    if (s[end] === '"') {
      const q = this.scanQuoted(end, '"', pos, 'ident');
      return q.kind === 'ident' ? { ...q, quoted: true } : q;
    }
    const word = s.slice(pos, end);
    if (lookup && KEYWORDS.has(word.toUpperCase())) return this.make('keyword', pos, end, word.toUpperCase());
    return { ...this.make('ident', pos, end, word), quoted: false };
  }

  /**
   * A `'…'` string or `"…"` identifier body whose quote is at `quoteAt` (the token starts at `start`):
   * escapes `\n \\ \" \'`, no raw line break (a `bad-string` token otherwise), no other escape (`bad-escape`).
   */
  private scanQuoted(quoteAt: number, quote: string, start: number, kind: 'string' | 'ident'): Token {
    const s = this.input;
    let value = '';
    let i = quoteAt + 1;
    for (;;) {
      // influxd positions an unclosed quote at its opening quote, whatever came before it.
      if (i >= s.length || isNewline(s.charCodeAt(i))) return this.make('bad-string', quoteAt, i, value);
      const ch = s[i];
      if (ch === quote) return this.make(kind, start, i + 1, value);
      if (ch === '\\') {
        const next = s[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"' || next === "'") value += next;
        else {
          // influxd reports the backslash and the character after it (NUL at the end of input).
          const escaped = next === undefined ? '\u0000' : String.fromCodePoint(s.codePointAt(i + 1) ?? 0);
          return this.make('bad-escape', i, Math.min(s.length, i + 1 + escaped.length), '\\' + escaped);
        }
        i += 2;
        continue;
      }
      value += ch;
      i++;
    }
  }

  /** An integer, decimal or duration at `pos` (which holds a digit, or a `.` followed by a digit). */
  private scanNumber(pos: number): Token {
    const s = this.input;
    let i = pos;
    while (isDigit(s.charCodeAt(i))) i++;
    if (s[i] === '.') {
      // influxd consumes the '.' even when no digit follows ("5." is the number 5).
      const digitsEnd = i;
      i++;
      if (isDigit(s.charCodeAt(i))) {
        while (isDigit(s.charCodeAt(i))) i++;
        return this.make('number', pos, i);
      }
      return this.make('number', pos, i, s.slice(pos, digitsEnd));
    }
    const c = s.charCodeAt(i);
    if (isLetter(c) || c === MICRO) {
      while (isLetter(s.charCodeAt(i)) || s.charCodeAt(i) === MICRO) i++;
      for (;;) {
        const d = s.charCodeAt(i);
        if (isLetter(d) || isDigit(d) || d === MICRO) i++;
        else break;
      }
      return this.make('duration', pos, i);
    }
    return this.make('integer', pos, i);
  }
}
