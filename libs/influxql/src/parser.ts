import { durationError, parseDuration } from './duration';
import { errorAtPosition, InfluxQLParseError, positionBefore, positionOf } from './errors';
import { STATEMENT_TRIE, trieStep, type KeywordTrie, type StatementHandler } from './grammar';
import { quoteSegments } from './rewrite';
import { isWhitespaceCode, Lexer, type Token, type TokenKind } from './tokenizer';
import { BINARY_PRECEDENCE as PRECEDENCE, INT64_MAX } from './operators';
import { isTimeLiteralText } from './literals';
import type {
  BinaryExpr,
  CallExpr,
  ClauseRange,
  DistinctExpr,
  Expr,
  FillOption,
  IntoTarget,
  MeasurementSource,
  ParenExpr,
  ParsedStatement,
  ParseOptions,
  RegexLiteral,
  RegexSource,
  SelectField,
  SelectParts,
  Source,
  StatementClauses,
  VarRef,
  Wildcard,
  WithKey,
} from './types';

/**
 * A recursive-descent parser for InfluxQL that follows influxd's grammar (influxdata/influxql parser.go)
 * closely enough to agree with influxd on every query influxd accepts: the same statement boundaries,
 * kinds and sources. Besides token positions it keeps the expression trees of a SELECT (fields, WHERE,
 * GROUP BY) with their literal values, so consumers walk one tree instead of re-reading tokens; the
 * conditions of other statements (SHOW … WHERE, DELETE) are only validated.
 *
 * Regexes: influxd reads a `/` as a regex only where its parser asks for one (start of a SELECT field,
 * GROUP BY dimension or function argument; after `=~`/`!~`; at the start of a FROM source or after the
 * `db.rp.` / `rp.` / `db..` qualifiers of one; after WITH MEASUREMENT =/=~ and WITH KEY =~/!~), skipping
 * only whitespace (not comments) before it. `tryRegex` is called at exactly those places.
 */

/** Nesting allowed for parentheses, calls and subqueries before the query is refused (guards the JS stack). */
const MAX_DEPTH = 400;

const UINT64_MAX = (1n << 64n) - 1n;
const INT32_MAX = 2147483647;

/** Operators influxd refuses in a SELECT field ("operator is intended for WHERE clause"). */
const CONDITION_OPS = new Set(['=', '!=', '=~', '!~', '<', '<=', '>', '>=', 'AND', 'OR']);

/** The fill() options influxd names. */
const FILL_NAMES = new Set(['null', 'none', 'previous', 'linear']);

/** What SELECT field parsing yields: the fields and whether any calls a function. */
interface ParsedFields {
  fields: SelectField[];
  aggregated: boolean;
}

/** Whether `expr` contains a function call anywhere. */
function containsCall(expr: Expr): boolean {
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.type === 'call') return true;
    if (e.type === 'binary') stack.push(e.lhs, e.rhs);
    else if (e.type === 'paren') stack.push(e.expr);
  }
  return false;
}

/** The first `time(…)` dimension, if any. */
function timeDimensionOf(dimensions: readonly Expr[]): CallExpr | undefined {
  for (const d of dimensions) if (d.type === 'call' && d.name === 'time') return d;
  return undefined;
}

/** The `GROUP BY time(interval)` interval in ns (0n without one), or why the time dimension is wrong (influxd's GroupByInterval). */
function groupByInterval(time: CallExpr | undefined): bigint | string {
  if (!time) return 0n;
  if (time.args.length < 1 || time.args.length > 2) return 'time dimension expected 1 or 2 arguments';
  const arg = time.args[0];
  if (arg.type !== 'duration') return 'time dimension must have duration argument';
  return arg.ns;
}

/** A duration as influxd prints it (FormatDuration): the largest unit that divides it exactly. */
function formatDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const units: [bigint, string][] = [
    [604_800_000_000_000n, 'w'],
    [86_400_000_000_000n, 'd'],
    [3_600_000_000_000n, 'h'],
    [60_000_000_000n, 'm'],
    [1_000_000_000n, 's'],
    [1_000_000n, 'ms'],
    [1_000n, 'u'],
  ];
  for (const [size, unit] of units) if (ns % size === 0n) return `${ns / size}${unit}`;
  return `${ns}ns`;
}

/** Adds `op rhs` to the tree the way influxd does: left-associative, by precedence. */
function insertBinary(root: Expr, op: string, rhs: Expr): Expr {
  if (root.type !== 'binary' || PRECEDENCE[root.op] >= PRECEDENCE[op]) return { type: 'binary', op, lhs: root, rhs };
  root.rhs = insertBinary(root.rhs, op, rhs);
  return root;
}

/** The first condition operator met walking `expr` pre-order (influxd's Walk order), if any. */
function firstConditionOp(expr: Expr): string | undefined {
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.type === 'binary') {
      if (CONDITION_OPS.has(e.op)) return e.op;
      stack.push(e.rhs, e.lhs);
    } else if (e.type === 'call') {
      for (let i = e.args.length - 1; i >= 0; i--) stack.push(e.args[i]);
    } else if (e.type === 'paren') {
      stack.push(e.expr);
    }
  }
  return undefined;
}

/** A statement under construction: a ParsedStatement whose clause token indices are still absolute. */
type Draft = ParsedStatement;

function newDraft(): Draft {
  return { kind: 'unknown', text: '', start: 0, end: 0, tokens: [], sources: [], clauses: {} };
}

function isKw(t: Token, kw: string): boolean {
  return t.kind === 'keyword' && t.value === kw;
}
function isPunct(t: Token, p: string): boolean {
  return t.kind === 'punctuation' && t.value === p;
}
function isOp(t: Token, op: string): boolean {
  return t.kind === 'operator' && t.value === op;
}
function isBinaryOp(t: Token): boolean {
  return t.kind === 'operator' || isKw(t, 'AND') || isKw(t, 'OR');
}
function spanOf(t: Token): { start: number; end: number } {
  return { start: t.start, end: t.end };
}

/** How influxd names a token in "found X": its literal when it has one, else the token's name. */
function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'EOF';
    case 'ident':
      return t.value === '' ? 'IDENT' : t.value;
    case 'string':
      return t.value === '' ? 'STRING' : t.value;
    case 'regex':
      return t.value === '' ? 'REGEX' : t.value;
    case 'bad-string':
      return t.value === '' ? 'BADSTRING' : t.value;
    case 'bad-regex':
      return 'BADREGEX';
    case 'illegal':
      return t.value === '' ? 'ILLEGAL' : t.value;
    case 'whitespace':
    case 'bound-param':
      return t.text;
    case 'comment':
      // influxd's token table has no name for COMMENT.
      return '';
    default:
      return t.value;
  }
}

const TOP_LEVEL_KEYWORDS = Object.keys(STATEMENT_TRIE);

/** The token a bound parameter value stands for (influxd's BindValue), or why it cannot be bound. */
function bindValue(v: unknown): { kind: TokenKind; value: string } | string {
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'boolean') return { kind: 'keyword', value: v ? 'TRUE' : 'FALSE' };
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return { kind: 'integer', value: String(v) };
    return Number.isFinite(v) ? { kind: 'number', value: String(v) } : 'unable to bind parameter with type float64';
  }
  if (v === null) return 'unable to bind parameter with type <nil>';
  if (Array.isArray(v)) return 'unable to bind parameter with type []interface {}';
  if (typeof v !== 'object') return `unable to bind parameter with type ${typeof v}`;
  const entries = Object.entries(v);
  if (entries.length !== 1) return 'bound object parameter value must have exactly one entry';
  const [type, x] = entries[0];
  switch (type) {
    case 'ident':
    case 'identifier':
      return typeof x === 'string' ? { kind: 'ident', value: x } : 'identifier must be a string value';
    case 'regex':
      return typeof x === 'string' ? { kind: 'regex', value: x } : 'regex literal must be a string value';
    case 'string':
      return typeof x === 'string' ? { kind: 'string', value: x } : 'string literal must be a string value';
    case 'float':
    case 'number':
      return typeof x === 'number' && Number.isFinite(x) ? { kind: 'number', value: String(x) } : 'number literal must be a float value';
    case 'int':
    case 'integer':
      return typeof x === 'number' && Number.isSafeInteger(x)
        ? { kind: 'integer', value: String(x) }
        : 'integer literal must be an integer value';
    case 'duration':
      if (typeof x === 'string') return { kind: 'duration', value: x };
      if (typeof x === 'number' && Number.isSafeInteger(x)) return { kind: 'duration', value: `${x}ns` };
      return 'duration literal must be a string or integer value';
    default:
      return `unknown bind object type: ${type}`;
  }
}

class Parser {
  private readonly lexer: Lexer;
  /** Offset of the next unread character. */
  private pos = 0;
  /** Every significant token consumed so far, in order (statements own slices of it). */
  private readonly tokens: Token[] = [];
  private depth = 0;
  private peekedAt = -1;
  private peeked: Token | undefined;
  /** Why a bound parameter that was supplied could not be bound, by name. */
  private readonly paramErrors = new Map<string, string>();
  /** Whether influxd's scanner would already have read past the end (it then places EOF one character later). */
  private eofTouched = false;
  /** The last run of separators looked through by `onlySemicolonsFrom`: [from, to], and whether it reached EOF. */
  private separatorRun: { from: number; to: number; toEnd: boolean } | undefined;

  /**
   * @param input the query up to the end of its trimmed text (influxd parses `strings.TrimSpace(q)`)
   * @param trimStart offset of the trimmed text's first character; influxd's line/char count from there
   */
  constructor(
    private readonly input: string,
    private readonly trimStart: number,
    private readonly params: Record<string, unknown> | undefined,
  ) {
    this.lexer = new Lexer(input);
    this.pos = trimStart;
  }

  parseQuery(options: ParseOptions): ParsedStatement[] {
    const statements: ParsedStatement[] = [];
    let afterStatement = false;
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return statements;
      if (isPunct(t, ';')) {
        if (!afterStatement && options.rejectEmptyStatements && !this.onlySemicolonsFrom(t.end)) {
          throw this.unexpected(t, TOP_LEVEL_KEYWORDS);
        }
        this.next();
        afterStatement = false;
        continue;
      }
      if (afterStatement) throw this.unexpected(t, [';']);
      statements.push(this.parseStatement());
      afterStatement = true;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Token access

  /** The next significant token (whitespace and comments skipped), without consuming it. */
  private peek(): Token {
    if (this.peekedAt !== this.pos || !this.peeked) {
      let p = this.pos;
      let t = this.lexer.scan(p);
      while (t.kind === 'whitespace' || t.kind === 'comment') {
        p = t.end;
        t = this.lexer.scan(p);
      }
      this.peeked = this.bind(t);
      this.peekedAt = this.pos;
    }
    return this.peeked;
  }

  /** Consumes and returns the next significant token. */
  private next(): Token {
    const t = this.peek();
    this.take(t);
    return t;
  }

  /** The token at the current offset, whitespace and comments included (influxd's unskipping `Scan`). */
  private peekRaw(): Token {
    return this.bind(this.lexer.scan(this.pos));
  }

  /** A bound parameter replaced by a token of its value's type, when the request supplied it. */
  private bind(t: Token): Token {
    if (t.kind !== 'bound-param' || !this.params || !Object.prototype.hasOwnProperty.call(this.params, t.value)) return t;
    const bound = bindValue(this.params[t.value]);
    if (typeof bound === 'string') {
      this.paramErrors.set(t.value, bound);
      return t;
    }
    return { kind: bound.kind, text: t.text, value: bound.value, start: t.start, end: t.end, param: t.value };
  }

  private take(t: Token): void {
    this.pos = t.end;
    if (t.kind !== 'eof' && t.kind !== 'whitespace' && t.kind !== 'comment') this.tokens.push(t);
  }

  /** Offset of the first non-whitespace character at or after `pos` (comments are not skipped). */
  private skipWhitespace(pos: number): number {
    while (pos < this.input.length && isWhitespaceCode(this.input.charCodeAt(pos))) pos++;
    return pos;
  }

  /**
   * Reads a regex if one starts here (after whitespace when `skipWhitespace`), as influxd's parseRegex does;
   * returns undefined, consuming nothing, when the next character is not `/`.
   */
  private tryRegex(skipWhitespace: boolean): Token | undefined {
    const at = skipWhitespace ? this.skipWhitespace(this.pos) : this.pos;
    if (at >= this.input.length) this.eofTouched = true;
    let t: Token;
    if (this.input[at] === '$') {
      // A bound parameter may stand for a regex.
      t = this.bind(this.lexer.scan(at));
      if (t.kind !== 'regex') return undefined;
    } else if (this.input[at] === '/') {
      t = this.lexer.scanRegex(at);
      if (t.kind === 'bad-regex') throw this.errorAtToken(t, 'bad regex: ');
    } else {
      return undefined;
    }
    // RE2 refuses a pattern opening with a repetition operator; this also covers `/*…*/` read as a regex.
    const first = t.value[0];
    if (first === '*' || first === '+' || first === '?') {
      throw this.errorAtToken(t, `error parsing regexp: missing argument to repetition operator: \`${first}\``);
    }
    this.take(t);
    return t;
  }

  /** Whether nothing but `;`, whitespace and comments follows `pos` (memoised, so `;;;…` stays linear). */
  private onlySemicolonsFrom(pos: number): boolean {
    const memo = this.separatorRun;
    if (memo && pos >= memo.from && pos <= memo.to) return memo.toEnd;
    let p = pos;
    for (;;) {
      const t = this.lexer.scan(p);
      const separator = t.kind === 'whitespace' || t.kind === 'comment' || isPunct(t, ';');
      if (t.kind === 'eof' || !separator) {
        this.separatorRun = { from: pos, to: t.start, toEnd: t.kind === 'eof' };
        return t.kind === 'eof';
      }
      p = t.end;
    }
  }

  /** influxd's line and character (1-based) for `offset`: counted in the trimmed query. */
  private where(offset: number): { line: number; char: number } {
    return positionOf(this.input.slice(this.trimStart), offset - this.trimStart);
  }

  private errorAt(offset: number, message: string): InfluxQLParseError {
    const { line, char } = this.where(offset);
    return errorAtPosition(message, offset, line, char);
  }

  private unexpected(t: Token, expected: readonly string[]): InfluxQLParseError {
    return this.errorAtToken(t, `found ${describe(t)}, expected ${expected.join(', ')}`);
  }

  /**
   * An error at `t`, positioned as influxd positions that kind of token: strings, regexes and unclosed quotes
   * at the character before them, a bad escape at the character after its backslash, EOF one past the last
   * non-whitespace character, anything starting with `$` at the `$`.
   */
  private errorAtToken(t: Token, message: string): InfluxQLParseError {
    if (t.param === undefined) {
      if (t.kind === 'eof') {
        const { line, char } = this.where(t.start);
        return errorAtPosition(message, t.start, line, char + (this.eofTouched || this.endsInLookahead() ? 1 : 0));
      }
      if (t.text.startsWith('$')) return this.errorAt(t.start, message);
      if (t.kind === 'string' || t.kind === 'bad-string' || t.kind === 'regex' || t.kind === 'bad-regex') {
        const { line, char } =
          t.start <= this.trimStart ? { line: 1, char: 1 } : positionBefore(this.input.slice(this.trimStart), t.start - this.trimStart);
        return errorAtPosition(message, t.start, line, char);
      }
      if (t.kind === 'bad-escape') return this.errorAt(t.start + 1, message);
    }
    return this.errorAt(t.start, message);
  }

  /**
   * Whether the query ends in a token whose scanning consumes influxd's first read of EOF (bare words and
   * `$params`, whose scanner does not push EOF back, and comments running to the end). influxd then reports
   * the EOF token one character further on.
   */
  private endsInLookahead(): boolean {
    let last: Token | undefined = this.tokens[this.tokens.length - 1];
    for (let p = last ? last.end : this.trimStart; p < this.input.length;) {
      const t = this.lexer.scan(p);
      if (t.kind !== 'whitespace') last = t;
      p = t.end;
    }
    if (!last || last.end !== this.input.length || last.param !== undefined) return false;
    switch (last.kind) {
      case 'keyword':
        return true;
      case 'ident':
        return !last.quoted;
      case 'bound-param':
        return !last.text.endsWith('"');
      case 'comment':
        return last.text.startsWith('--');
      case 'illegal':
        return last.value === '';
      default:
        return false;
    }
  }

  /** influxd's position-less errors print as "at line 1, char 1"; `offset` still says where the problem is. */
  private unpositioned(message: string, offset: number): InfluxQLParseError {
    return new InfluxQLParseError(`${message} at line 1, char 1`, offset, 1, 1);
  }

  /** An error influxd reports without any position suffix. */
  private bare(message: string, offset: number): InfluxQLParseError {
    const { line, char } = this.where(offset);
    return new InfluxQLParseError(message, offset, line, char);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.errorAt(this.pos, 'query is nested too deeply');
  }

  private leave(): void {
    this.depth--;
  }

  private acceptKeyword(kw: string): Token | undefined {
    return isKw(this.peek(), kw) ? this.next() : undefined;
  }

  private expectKeyword(kw: string, expected: readonly string[] = [kw]): Token {
    const t = this.next();
    if (!isKw(t, kw)) throw this.unexpected(t, expected);
    return t;
  }

  private expectPunct(p: string): Token {
    const t = this.next();
    if (!isPunct(t, p)) throw this.unexpected(t, [p]);
    return t;
  }

  private parseIdent(): Token {
    const t = this.next();
    if (t.kind !== 'ident') throw this.unexpected(t, ['identifier']);
    return t;
  }

  private parseString(): Token {
    const t = this.next();
    if (t.kind !== 'string') throw this.unexpected(t, ['string']);
    return t;
  }

  private parseUInt64(): string {
    const t = this.next();
    if (t.kind !== 'integer') throw this.unexpected(t, ['integer']);
    if (t.value.startsWith('-')) {
      throw this.errorAt(t.start, `strconv.ParseUint: parsing "${t.value}": invalid syntax`);
    }
    if (BigInt(t.value) > UINT64_MAX) {
      throw this.errorAt(t.start, `strconv.ParseUint: parsing "${t.value}": value out of range`);
    }
    return BigInt(t.value).toString();
  }

  /** An integer in [min, max] (influxd's ParseInt). */
  private parseIntInRange(min: number, max: number): number {
    const t = this.next();
    if (t.kind !== 'integer') throw this.unexpected(t, ['integer']);
    const big = BigInt(t.value);
    if (big > INT64_MAX) throw this.errorAt(t.start, `strconv.Atoi: parsing "${t.value}": value out of range`);
    const n = Number(big);
    if (n < min || n > max) throw this.errorAt(t.start, `invalid value ${n}: must be ${min} <= n <= ${max}`);
    return n;
  }

  /** A duration literal or INF (influxd's ParseDuration method). */
  private parseDurationOrInf(): Token {
    const t = this.next();
    if (t.kind === 'keyword' && t.value === 'INF') return t;
    if (t.kind !== 'duration') throw this.unexpected(t, ['duration']);
    const err = durationError(t.value);
    if (err) throw this.errorAt(t.start, err);
    return t;
  }

  /** A duration literal, INF not allowed (RESAMPLE EVERY/FOR). */
  private parseDurationLiteral(): Token {
    const t = this.next();
    if (t.kind !== 'duration') throw this.unexpected(t, ['duration']);
    const err = durationError(t.value);
    if (err) throw this.errorAt(t.start, err);
    return t;
  }

  // ---------------------------------------------------------------------------------------------
  // Clause bookkeeping

  private mark(): number {
    return this.tokens.length;
  }

  /** The clause from token index `from` (absolute) through the last consumed token. */
  private rangeFrom(from: number): ClauseRange {
    const first = this.tokens[from];
    const last = this.tokens[this.tokens.length - 1];
    return { start: first.start, end: last.end, tokenStart: from, tokenEnd: this.tokens.length };
  }

  /** Seals a draft: text, offsets and tokens from token index `base`, clause indices made statement-relative. */
  private finish(st: Draft, base: number): ParsedStatement {
    const tokens = this.tokens.slice(base);
    st.tokens = tokens;
    st.start = tokens[0].start;
    st.end = tokens[tokens.length - 1].end;
    st.text = this.input.slice(st.start, st.end);
    st.clauses = shiftClauses(st.clauses, -base);
    return st;
  }

  // ---------------------------------------------------------------------------------------------
  // Statements

  private parseStatement(): ParsedStatement {
    const base = this.mark();
    let node: KeywordTrie = STATEMENT_TRIE;
    for (;;) {
      const t = this.next();
      const child = trieStep(node, t);
      if (child === undefined) throw this.unexpected(t, Object.keys(node));
      if (typeof child === 'string') {
        const st = newDraft();
        this.dispatch(child, st);
        return this.finish(st, base);
      }
      node = child;
    }
  }

  private dispatch(handler: StatementHandler, st: Draft): void {
    switch (handler) {
      case 'select':
        this.parseSelectBody(st, 'optional');
        return;
      case 'explain':
        return this.parseExplain(st);
      case 'delete':
        return this.parseDeleteOrDropSeries(st, 'delete');
      case 'drop-series':
        return this.parseDeleteOrDropSeries(st, 'drop-series');

      case 'show-continuous-queries':
      case 'show-databases':
      case 'show-queries':
      case 'show-shards':
      case 'show-shard-groups':
      case 'show-subscriptions':
      case 'show-users':
        st.kind = handler;
        return;
      case 'show-diagnostics':
      case 'show-stats':
        st.kind = handler;
        if (this.acceptKeyword('FOR')) st.module = this.parseString().value;
        return;
      case 'show-grants':
        st.kind = handler;
        st.name = this.parseIdent().value;
        return;
      case 'show-retention-policies':
        st.kind = handler;
        this.parseOptionalOn(st);
        return;
      case 'show-measurements':
        return this.parseShowMeasurements(st);
      case 'show-measurement-cardinality':
        return this.parseCardinality(st, 'show-measurement-cardinality', false);
      case 'show-measurement-exact-cardinality':
        this.expectKeyword('CARDINALITY');
        return this.parseCardinality(st, 'show-measurement-cardinality', true);
      case 'show-series':
        return this.parseShowSeries(st);
      case 'show-tag-keys':
        return this.parseShowTagKeys(st);
      case 'show-tag-key-cardinality':
      case 'show-field-key-cardinality': {
        const exact = this.acceptKeyword('EXACT') !== undefined;
        this.expectKeyword('CARDINALITY', exact ? ['CARDINALITY'] : ['EXACT', 'CARDINALITY']);
        return this.parseCardinality(st, handler, exact);
      }
      case 'show-tag-values':
        return this.parseShowTagValues(st);
      case 'show-field-keys':
        st.kind = handler;
        this.parseOptionalOn(st);
        this.parseOptionalFrom(st);
        this.parseOrderBy(st);
        this.parseOptionalInt(st, 'LIMIT');
        this.parseOptionalInt(st, 'OFFSET');
        return;

      case 'create-database':
        return this.parseCreateDatabase(st);
      case 'create-retention-policy':
        return this.parseCreateRetentionPolicy(st);
      case 'create-user':
        return this.parseCreateUser(st);
      case 'create-continuous-query':
        return this.parseCreateContinuousQuery(st);
      case 'create-subscription':
        return this.parseCreateSubscription(st);
      case 'alter-retention-policy':
        return this.parseAlterRetentionPolicy(st);

      case 'drop-database': {
        st.kind = handler;
        const name = this.parseIdent();
        st.database = name.value;
        st.databaseSpan = spanOf(name);
        return;
      }
      case 'drop-measurement': {
        st.kind = handler;
        const t = this.parseIdent();
        st.name = t.value;
        st.sources = [{ kind: 'measurement', name: t.value, span: spanOf(t) }];
        return;
      }
      case 'drop-retention-policy':
      case 'drop-continuous-query':
        st.kind = handler;
        st.name = this.parseIdent().value;
        this.expectKeyword('ON');
        this.parseOnDatabaseIdent(st);
        return;
      case 'drop-shard':
        st.kind = handler;
        st.id = this.parseUInt64();
        return;
      case 'drop-subscription':
        st.kind = handler;
        st.name = this.parseIdent().value;
        this.expectKeyword('ON');
        this.parseDatabaseDotRetentionPolicy(st);
        return;
      case 'drop-user':
        st.kind = handler;
        st.name = this.parseIdent().value;
        return;

      case 'grant':
        return this.parseGrantOrRevoke(st, 'grant');
      case 'revoke':
        return this.parseGrantOrRevoke(st, 'revoke');
      case 'kill-query':
        st.kind = handler;
        st.id = this.parseUInt64();
        if (this.acceptKeyword('ON')) st.host = this.parseIdent().value;
        return;
      case 'set-password': {
        st.kind = handler;
        st.name = this.parseIdent().value;
        const eq = this.next();
        if (!isOp(eq, '=')) throw this.unexpected(eq, ['=']);
        this.parseString();
        return;
      }
      default: {
        const unhandled: never = handler;
        throw new Error(`no parser for ${String(unhandled)}`);
      }
    }
  }

  /** SELECT after the SELECT keyword. `target`: whether INTO is optional, required (CQ) or in a subquery. */
  private parseSelectBody(st: Draft, target: 'optional' | 'required' | 'subquery'): SelectParts {
    st.kind = 'select';
    const fieldsAt = this.mark();
    const { fields, aggregated } = this.parseFields();
    st.clauses.fields = this.rangeFrom(fieldsAt);

    const maybeInto = this.peek();
    if (isKw(maybeInto, 'INTO')) {
      const intoAt = this.mark();
      this.next();
      st.into = this.parseIntoTarget();
      st.clauses.into = this.rangeFrom(intoAt);
    } else if (target === 'required') {
      throw this.unexpected(maybeInto, ['INTO']);
    }

    const fromAt = this.mark();
    this.expectKeyword('FROM');
    st.sources = this.parseSources(true);
    st.clauses.from = this.rangeFrom(fromAt);

    const condition = this.parseWhere(st);
    const dimensions = this.parseGroupBy(st);
    const fill = this.parseFill(st);
    this.parseOrderBy(st);
    this.parseOptionalInt(st, 'LIMIT');
    this.parseOptionalInt(st, 'OFFSET');
    this.parseOptionalInt(st, 'SLIMIT');
    this.parseOptionalInt(st, 'SOFFSET');
    const tz = this.parseTz(st);

    const timeDimension = timeDimensionOf(dimensions);
    const interval = groupByInterval(timeDimension);
    const parts: SelectParts = { fields, dimensions, groupByInterval: typeof interval === 'bigint' ? interval : 0n, aggregated };
    if (condition) parts.condition = condition;
    if (timeDimension) {
      parts.timeDimension = timeDimension;
      if (timeDimension.args.length === 2) parts.groupByOffset = timeDimension.args[1];
    }
    if (fill) parts.fill = fill;
    if (tz !== undefined) parts.tz = tz;
    st.select = parts;
    return parts;
  }

  /** A SELECT nested in another statement (subquery, EXPLAIN, CQ), parsed from its SELECT keyword. */
  private parseNestedSelect(target: 'optional' | 'required' | 'subquery'): ParsedStatement {
    return this.parseNestedSelectShape(target).statement;
  }

  private parseNestedSelectShape(target: 'optional' | 'required' | 'subquery'): {
    statement: ParsedStatement;
    shape: SelectParts;
  } {
    this.enter();
    const base = this.mark();
    this.expectKeyword('SELECT');
    const inner = newDraft();
    const shape = this.parseSelectBody(inner, target);
    this.leave();
    return { statement: this.finish(inner, base), shape };
  }

  private parseExplain(st: Draft): void {
    st.kind = 'explain';
    const analyze = this.acceptKeyword('ANALYZE') !== undefined;
    const verbose = this.acceptKeyword('VERBOSE') !== undefined;
    st.explain = { analyze, verbose };
    const innerAt = this.mark();
    const inner = this.parseNestedSelect('optional');
    st.inner = inner;
    st.sources = inner.sources;
    if (inner.into) st.into = inner.into;
    if (inner.select) st.select = inner.select;
    // The wrapped select's clauses and limits, re-indexed to this statement's tokens (absolute until finish).
    st.clauses = shiftClauses(inner.clauses, innerAt);
    if (inner.limit !== undefined) st.limit = inner.limit;
    if (inner.offset !== undefined) st.offset = inner.offset;
    if (inner.slimit !== undefined) st.slimit = inner.slimit;
    if (inner.soffset !== undefined) st.soffset = inner.soffset;
  }

  private parseDeleteOrDropSeries(st: Draft, kind: 'delete' | 'drop-series'): void {
    st.kind = kind;
    const first = this.peek();
    if (isKw(first, 'FROM')) {
      const fromAt = this.mark();
      this.next();
      st.sources = this.parseSources(false);
      st.clauses.from = this.rangeFrom(fromAt);
      // The database (and for DROP SERIES the retention policy) is the request's, never written here.
      let problem: string | undefined;
      let at = first.start;
      for (const s of st.sources) {
        if (s.kind === 'subquery') continue;
        if (s.db !== undefined) {
          problem = 'database not supported';
          at = s.span.start;
        }
        if (kind === 'drop-series' && s.rp !== undefined) {
          problem = 'retention policy not supported';
          at = s.span.start;
        }
      }
      if (problem) throw this.unpositioned(problem, at);
    }
    this.parseWhere(st);
    if (!st.clauses.where && !st.clauses.from) throw this.unexpected(first, ['FROM', 'WHERE']);
  }

  private parseShowMeasurements(st: Draft): void {
    st.kind = 'show-measurements';
    if (this.acceptKeyword('ON')) {
      const db = this.next();
      if (db.kind === 'ident') {
        st.onDatabase = db.value;
        st.onDatabaseSpan = spanOf(db);
      } else if (isOp(db, '*')) {
        st.onAllDatabases = true;
      } else {
        throw this.unexpected(db, ['identifier or *']);
      }
      if (isPunct(this.peek(), '.')) {
        this.next();
        const rp = this.next();
        if (rp.kind === 'ident') st.onRetentionPolicy = rp.value;
        else if (isOp(rp, '*')) st.onAllRetentionPolicies = true;
        else throw this.unexpected(rp, ['identifier or *']);
      }
    }
    if (isKw(this.peek(), 'WITH')) {
      const withAt = this.mark();
      this.next();
      this.expectKeyword('MEASUREMENT');
      const op = this.next();
      if (!isOp(op, '=') && !isOp(op, '=~')) throw this.unexpected(op, ['=', '=~']);
      const source = this.parseSource(false) as MeasurementSource | RegexSource;
      st.withMeasurement = { op: op.value as '=' | '=~', source };
      st.clauses.with = this.rangeFrom(withAt);
    }
    this.parseWhere(st);
    this.parseOrderBy(st);
    this.parseOptionalInt(st, 'LIMIT');
    this.parseOptionalInt(st, 'OFFSET');
  }

  private parseShowSeries(st: Draft): void {
    // influxd: EXACT not followed by CARDINALITY is dropped and the statement is a plain SHOW SERIES.
    const exact = this.acceptKeyword('EXACT') !== undefined;
    if (this.acceptKeyword('CARDINALITY')) return this.parseCardinality(st, 'show-series-cardinality', exact);
    st.kind = 'show-series';
    this.parseOptionalOn(st);
    this.parseOptionalFrom(st);
    this.parseWhere(st);
    this.parseOrderBy(st);
    this.parseOptionalInt(st, 'LIMIT');
    this.parseOptionalInt(st, 'OFFSET');
  }

  private parseShowTagKeys(st: Draft): void {
    st.kind = 'show-tag-keys';
    this.parseOptionalOn(st);
    this.parseOptionalFrom(st);
    if (isKw(this.peek(), 'WITH')) this.parseWithKey(st);
    this.parseWhere(st);
    this.parseOrderBy(st);
    this.parseOptionalInt(st, 'LIMIT');
    this.parseOptionalInt(st, 'OFFSET');
    this.parseOptionalInt(st, 'SLIMIT');
    this.parseOptionalInt(st, 'SOFFSET');
  }

  private parseShowTagValues(st: Draft): void {
    if (this.acceptKeyword('EXACT')) {
      this.expectKeyword('CARDINALITY');
      return this.parseCardinality(st, 'show-tag-values-cardinality', true);
    }
    if (this.acceptKeyword('CARDINALITY')) return this.parseCardinality(st, 'show-tag-values-cardinality', false);
    st.kind = 'show-tag-values';
    this.parseOptionalOn(st);
    this.parseOptionalFrom(st);
    this.parseWithKey(st);
    this.parseWhere(st);
    this.parseOrderBy(st);
    this.parseOptionalInt(st, 'LIMIT');
    this.parseOptionalInt(st, 'OFFSET');
  }

  /** The body shared by the SHOW … CARDINALITY statements, after CARDINALITY. */
  private parseCardinality(
    st: Draft,
    kind:
      | 'show-series-cardinality'
      | 'show-measurement-cardinality'
      | 'show-tag-key-cardinality'
      | 'show-field-key-cardinality'
      | 'show-tag-values-cardinality',
    exact: boolean,
  ): void {
    st.kind = kind;
    st.exact = exact;
    this.parseOptionalOn(st);
    this.parseOptionalFrom(st);
    if (kind === 'show-tag-values-cardinality') this.parseWithKey(st);
    this.parseWhere(st);
    this.parseGroupBy(st);
    this.parseOptionalInt(st, 'LIMIT');
    this.parseOptionalInt(st, 'OFFSET');
  }

  /** `WITH KEY = k | != k | IN (k, …) | =~ /re/ | !~ /re/`. */
  private parseWithKey(st: Draft): void {
    const withAt = this.mark();
    this.expectKeyword('WITH');
    this.expectKeyword('KEY');
    const op = this.next();
    let withKey: WithKey;
    if (isKw(op, 'IN')) {
      this.expectPunct('(');
      const keys = [this.parseIdent().value];
      while (isPunct(this.peek(), ',')) {
        this.next();
        keys.push(this.parseIdent().value);
      }
      this.expectPunct(')');
      withKey = { op: 'IN', keys };
    } else if (isOp(op, '=') || isOp(op, '!=')) {
      withKey = { op: op.value as '=' | '!=', key: this.parseIdent().value };
    } else if (isOp(op, '=~') || isOp(op, '!~')) {
      const re = this.tryRegex(true);
      if (!re) throw this.unexpected(this.peek(), ['regex']);
      withKey = { op: op.value as '=~' | '!~', pattern: re.value };
    } else {
      throw this.unexpected(op, ['IN', '=', '=~']);
    }
    st.withKey = withKey;
    st.clauses.with = this.rangeFrom(withAt);
  }

  private parseCreateDatabase(st: Draft): void {
    st.kind = 'create-database';
    const name = this.parseIdent();
    st.database = name.value;
    st.databaseSpan = spanOf(name);
    if (!this.acceptKeyword('WITH')) return;
    const options = ['DURATION', 'NAME', 'REPLICATION', 'SHARD', 'FUTURE', 'PAST'];
    const first = this.peek();
    if (!(first.kind === 'keyword' && options.includes(first.value))) throw this.unexpected(first, options);
    if (this.acceptKeyword('DURATION')) this.parseDurationOrInf();
    if (this.acceptKeyword('REPLICATION')) this.parseIntInRange(1, INT32_MAX);
    if (this.acceptKeyword('SHARD')) {
      this.expectKeyword('DURATION');
      this.parseDurationOrInf();
    }
    if (this.acceptKeyword('FUTURE')) {
      this.expectKeyword('LIMIT');
      this.parseDurationOrInf();
    }
    if (this.acceptKeyword('PAST')) {
      this.expectKeyword('LIMIT');
      this.parseDurationOrInf();
    }
    if (this.acceptKeyword('NAME')) st.name = this.parseIdent().value;
  }

  private parseCreateRetentionPolicy(st: Draft): void {
    st.kind = 'create-retention-policy';
    st.name = this.parseIdent().value;
    this.expectKeyword('ON');
    this.parseOnDatabaseIdent(st);
    this.expectKeyword('DURATION');
    this.parseDurationOrInf();
    this.expectKeyword('REPLICATION');
    this.parseIntInRange(1, INT32_MAX);
    if (this.acceptKeyword('SHARD')) {
      this.expectKeyword('DURATION');
      this.parseShardDuration();
    }
    this.acceptKeyword('DEFAULT');
    if (this.acceptKeyword('FUTURE')) {
      this.expectKeyword('LIMIT');
      this.parseDurationOrInf();
    }
    if (this.acceptKeyword('PAST')) {
      this.expectKeyword('LIMIT');
      this.parseDurationOrInf();
    }
  }

  private parseShardDuration(): void {
    const t = this.peek();
    if (isKw(t, 'INF')) throw this.errorAt(t.start, 'invalid duration INF for shard duration');
    this.parseDurationOrInf();
  }

  private parseAlterRetentionPolicy(st: Draft): void {
    st.kind = 'alter-retention-policy';
    const name = this.next();
    if (isKw(name, 'DEFAULT')) st.name = 'default';
    else if (name.kind === 'ident') st.name = name.value;
    else throw this.unexpected(name, ['identifier']);
    this.expectKeyword('ON');
    this.parseOnDatabaseIdent(st);
    const seen = new Set<string>();
    for (;;) {
      const t = this.peek();
      const option = t.kind === 'keyword' ? t.value : '';
      if (seen.has(option)) throw this.errorAt(t.start, `found duplicate ${option} option`);
      switch (option) {
        case 'DURATION':
          this.next();
          this.parseDurationOrInf();
          break;
        case 'REPLICATION':
          this.next();
          this.parseIntInRange(1, INT32_MAX);
          break;
        case 'SHARD':
          this.next();
          this.expectKeyword('DURATION');
          this.parseShardDuration();
          break;
        case 'DEFAULT':
          this.next();
          break;
        case 'FUTURE':
        case 'PAST':
          this.next();
          this.expectKeyword('LIMIT');
          this.parseDurationOrInf();
          break;
        default:
          if (seen.size === 0) {
            throw this.unexpected(t, ['DURATION', 'REPLICATION', 'SHARD', 'DEFAULT', 'FUTURE', 'PAST']);
          }
          return;
      }
      seen.add(option);
    }
  }

  private parseCreateUser(st: Draft): void {
    st.kind = 'create-user';
    st.name = this.parseIdent().value;
    this.expectKeyword('WITH');
    this.expectKeyword('PASSWORD');
    this.parseString();
    if (this.acceptKeyword('WITH')) {
      this.expectKeyword('ALL');
      this.expectKeyword('PRIVILEGES');
      st.privilege = 'ALL';
    }
  }

  private parseCreateContinuousQuery(st: Draft): void {
    st.kind = 'create-continuous-query';
    st.name = this.parseIdent().value;
    this.expectKeyword('ON');
    this.parseOnDatabaseIdent(st);
    let every = 0n;
    let resampleFor = 0n;
    if (this.acceptKeyword('RESAMPLE')) {
      // influxd treats a zero EVERY/FOR like a missing one: at least one non-zero duration is required.
      if (this.acceptKeyword('EVERY')) every = parseDuration(this.parseDurationLiteral().value) ?? 0n;
      if (this.acceptKeyword('FOR')) resampleFor = parseDuration(this.parseDurationLiteral().value) ?? 0n;
      if (every === 0n && resampleFor === 0n) throw this.unexpected(this.peek(), ['EVERY', 'FOR']);
    }
    this.expectKeyword('BEGIN');
    const { statement: inner, shape } = this.parseNestedSelectShape('required');
    st.inner = inner;
    st.sources = inner.sources;
    if (inner.into) st.into = inner.into;

    // An aggregating continuous query needs GROUP BY time(…), as influxd checks.
    let interval = groupByInterval(shape.timeDimension);
    if (shape.aggregated && (interval === 0n || typeof interval === 'string')) {
      const last = inner.tokens[inner.tokens.length - 1];
      throw this.unexpected(last, ['GROUP BY time(...)', ...(typeof interval === 'string' ? [interval] : [])]);
    }
    this.expectKeyword('END');
    if (typeof interval === 'string') throw this.bare(interval, inner.start);
    if (resampleFor !== 0n) {
      if (every !== 0n && every > interval) interval = every;
      if (interval > resampleFor) {
        throw this.bare(
          `FOR duration must be >= GROUP BY time duration: must be a minimum of ${formatDuration(interval)}, got ${formatDuration(resampleFor)}`,
          inner.start,
        );
      }
    }
  }

  private parseCreateSubscription(st: Draft): void {
    st.kind = 'create-subscription';
    st.name = this.parseIdent().value;
    this.expectKeyword('ON');
    this.parseDatabaseDotRetentionPolicy(st);
    this.expectKeyword('DESTINATIONS');
    const mode = this.next();
    if (!isKw(mode, 'ALL') && !isKw(mode, 'ANY')) throw this.unexpected(mode, ['ALL', 'ANY']);
    this.parseString();
    while (isPunct(this.peek(), ',')) {
      this.next();
      this.parseString();
    }
  }

  private parseGrantOrRevoke(st: Draft, kind: 'grant' | 'revoke'): void {
    st.kind = kind;
    const priv = this.next();
    if (isKw(priv, 'READ') || isKw(priv, 'WRITE')) st.privilege = priv.value as 'READ' | 'WRITE';
    else if (isKw(priv, 'ALL')) {
      st.privilege = 'ALL';
      this.acceptKeyword('PRIVILEGES');
    } else throw this.unexpected(priv, ['READ', 'WRITE', 'ALL [PRIVILEGES]']);

    const toUser = kind === 'grant' ? 'TO' : 'FROM';
    const t = this.next();
    if (isKw(t, 'ON')) {
      this.parseOnDatabaseIdent(st);
      this.expectKeyword(toUser);
      st.name = this.parseIdent().value;
    } else if (isKw(t, toUser) && st.privilege === 'ALL') {
      st.name = this.parseIdent().value;
    } else if (isKw(t, toUser)) {
      throw this.unexpected(t, ['ON']);
    } else {
      throw this.unexpected(t, st.privilege === 'ALL' ? ['ON', toUser] : ['ON']);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Clauses

  private parseOptionalOn(st: Draft): void {
    if (this.acceptKeyword('ON')) this.parseOnDatabaseIdent(st);
  }

  private parseOnDatabaseIdent(st: Draft): void {
    const db = this.parseIdent();
    st.onDatabase = db.value;
    st.onDatabaseSpan = spanOf(db);
  }

  /** `db.rp` of CREATE/DROP SUBSCRIPTION: the dot must follow the database name directly. */
  private parseDatabaseDotRetentionPolicy(st: Draft): void {
    this.parseOnDatabaseIdent(st);
    const dot = this.peekRaw();
    if (!isPunct(dot, '.')) throw this.unexpected(dot, ['.']);
    this.take(dot);
    st.onRetentionPolicy = this.parseIdent().value;
  }

  private parseOptionalFrom(st: Draft): void {
    if (!isKw(this.peek(), 'FROM')) return;
    const fromAt = this.mark();
    this.next();
    st.sources = this.parseSources(false);
    st.clauses.from = this.rangeFrom(fromAt);
  }

  /** `WHERE condition`: the condition's tree, undefined without a WHERE. */
  private parseWhere(st: Draft): Expr | undefined {
    if (!isKw(this.peek(), 'WHERE')) return undefined;
    const at = this.mark();
    this.next();
    const condition = this.parseExpr();
    st.clauses.where = this.rangeFrom(at);
    return condition;
  }

  private parseGroupBy(st: Draft): Expr[] {
    const exprs: Expr[] = [];
    if (!isKw(this.peek(), 'GROUP')) return exprs;
    const at = this.mark();
    this.next();
    this.expectKeyword('BY');
    const dimensions: ClauseRange[] = [];
    for (;;) {
      const dimAt = this.mark();
      const regex = this.tryRegex(true);
      if (regex) {
        exprs.push(regexLiteral(regex));
        dimensions.push(this.rangeFrom(dimAt));
        // influxd looks for the comma right after a regex dimension, without skipping whitespace.
        const comma = this.peekRaw();
        if (!isPunct(comma, ',')) break;
        this.take(comma);
        continue;
      }
      exprs.push(this.parseExpr());
      dimensions.push(this.rangeFrom(dimAt));
      if (!isPunct(this.peek(), ',')) break;
      this.next();
    }
    st.clauses.groupBy = this.rangeFrom(at);
    st.clauses.dimensions = dimensions;
    return exprs;
  }

  private parseFill(st: Draft): FillOption | undefined {
    const t = this.peek();
    if (t.kind !== 'ident' || t.value.toLowerCase() !== 'fill') return undefined;
    const at = this.mark();
    const e = this.parseExpr();
    if (e.type !== 'call') throw this.bare('fill must be a function call', t.start);
    if (e.args.length !== 1) {
      throw this.bare('fill requires an argument, e.g.: 0, null, none, previous, linear', t.start);
    }
    const arg = e.args[0];
    let fill: FillOption;
    if (arg.type === 'ref' && arg.cast === undefined && FILL_NAMES.has(arg.name)) {
      fill = { option: arg.name as 'null' | 'none' | 'previous' | 'linear' };
    } else if (arg.type === 'integer' || arg.type === 'number') {
      fill = { option: 'number', value: Number(arg.value) };
    } else {
      throw this.bare('expected number argument in fill()', t.start);
    }
    st.clauses.fill = this.rangeFrom(at);
    return fill;
  }

  /** `tz('zone')`: the zone name. */
  private parseTz(st: Draft): string | undefined {
    const t = this.peek();
    if (t.kind !== 'ident' || t.value.toLowerCase() !== 'tz') return undefined;
    const at = this.mark();
    const e = this.parseExpr();
    if (e.type !== 'call') throw this.bare('tz must be a function call', t.start);
    if (e.args.length !== 1) throw this.bare('tz requires exactly one argument', t.start);
    const zone = e.args[0];
    if (zone.type !== 'string') throw this.bare('expected string argument in tz()', t.start);
    st.clauses.tz = this.rangeFrom(at);
    return zone.value;
  }

  private parseOrderBy(st: Draft): void {
    if (!isKw(this.peek(), 'ORDER')) return;
    const at = this.mark();
    this.next();
    this.expectKeyword('BY');
    const onlyTime = 'only ORDER BY time supported at this time';
    const first = this.next();
    let fields = 1;
    if (first.kind === 'ident') {
      if (!this.acceptKeyword('ASC')) this.acceptKeyword('DESC');
      if (first.value !== 'time') throw this.bare(onlyTime, first.start);
    } else if (!isKw(first, 'ASC') && !isKw(first, 'DESC')) {
      throw this.unexpected(first, ['identifier', 'ASC', 'DESC']);
    }
    while (isPunct(this.peek(), ',')) {
      this.next();
      this.parseIdent();
      if (!this.acceptKeyword('ASC')) this.acceptKeyword('DESC');
      fields++;
    }
    if (fields > 1) throw this.bare(onlyTime, first.start);
    st.clauses.orderBy = this.rangeFrom(at);
  }

  private parseOptionalInt(st: Draft, kw: 'LIMIT' | 'OFFSET' | 'SLIMIT' | 'SOFFSET'): void {
    if (!isKw(this.peek(), kw)) return;
    const at = this.mark();
    this.next();
    const t = this.next();
    if (t.kind !== 'integer') throw this.unexpected(t, ['integer']);
    // influxd ignores the range error and keeps int64's maximum.
    const big = BigInt(t.value);
    if (big < 0n) throw this.errorAt(t.start, `${kw} must be >= 0`);
    const n = Number(big > INT64_MAX ? INT64_MAX : big);
    const key = kw.toLowerCase() as 'limit' | 'offset' | 'slimit' | 'soffset';
    st[key] = n;
    st.clauses[key] = this.rangeFrom(at);
  }

  // ---------------------------------------------------------------------------------------------
  // Sources and targets

  private parseSources(subqueries: boolean): Source[] {
    const sources: Source[] = [];
    for (;;) {
      sources.push(this.parseSource(subqueries));
      if (!isPunct(this.peek(), ',')) return sources;
      this.next();
    }
  }

  private parseSource(subqueries: boolean): Source {
    const re = this.tryRegex(true);
    if (re) return { kind: 'regex', pattern: re.value, span: spanOf(re) };

    if (subqueries && isPunct(this.peek(), '(')) {
      const open = this.next();
      const statement = this.parseNestedSelect('subquery');
      const close = this.expectPunct(')');
      return { kind: 'subquery', statement, span: { start: open.start, end: close.end } };
    }

    const first = this.parseIdent();
    const { segments, stop } = this.parseSegments(first);
    const last = this.tokens[this.tokens.length - 1];
    const qualifiers = (dbTok: Token | null, rpTok: Token | null): Pick<MeasurementSource, 'db' | 'rp' | 'dbSpan'> => {
      const q: Pick<MeasurementSource, 'db' | 'rp' | 'dbSpan'> = {};
      if (dbTok && dbTok.value !== '') {
        q.db = dbTok.value;
        q.dbSpan = spanOf(dbTok);
      }
      if (rpTok && rpTok.value !== '') q.rp = rpTok.value;
      return q;
    };

    if (segments.length === 3) {
      return {
        kind: 'measurement',
        name: segments[2]?.value ?? '',
        ...qualifiers(segments[0], segments[1]),
        span: { start: first.start, end: last.end },
      };
    }

    let regex: Token | undefined;
    if (stop === '/') {
      regex = this.tryRegex(false);
    } else if (stop === 'none') {
      // influxd peeks past the token after the name: a '/' right after it is an error there.
      const after = this.peekRaw();
      if (after.end >= this.input.length) this.eofTouched = true;
      if (after.kind !== 'eof' && this.input[after.end] === '/') throw this.unexpected(after, ['regex']);
    }

    if (regex) {
      const [dbTok, rpTok] = segments.length === 2 ? [segments[0], segments[1]] : [null, segments[0]];
      return {
        kind: 'regex',
        pattern: regex.value,
        ...qualifiers(dbTok, rpTok),
        span: { start: first.start, end: regex.end },
      };
    }
    const [rpTok, nameTok] = segments.length === 2 ? [segments[0], segments[1]] : [null, segments[0]];
    return {
      kind: 'measurement',
      name: nameTok?.value ?? '',
      ...qualifiers(null, rpTok),
      span: { start: first.start, end: last.end },
    };
  }

  /**
   * The rest of a dotted name after its first identifier: `.ident` segments, `..` for an empty one.
   * The dot must follow directly; it stops (dot consumed) before a `/` (a regex follows) or a `:`.
   * At most three segments.
   */
  private parseSegments(first: Token): { segments: (Token | null)[]; stop: 'none' | '/' | ':' } {
    const segments: (Token | null)[] = [first];
    let stop: 'none' | '/' | ':' = 'none';
    for (;;) {
      const dot = this.peekRaw();
      if (!isPunct(dot, '.')) break;
      this.take(dot);
      if (this.pos >= this.input.length) this.eofTouched = true;
      const c = this.input[this.pos];
      if (c === '/' || c === ':') {
        stop = c;
        break;
      }
      if (c === '.') {
        segments.push(null);
        continue;
      }
      segments.push(this.parseIdent());
    }
    if (segments.length > 3) {
      const names = segments.map((s) => s?.value ?? '');
      throw this.unpositioned(`too many segments in ${quoteSegments(names)}`, first.start);
    }
    return { segments, stop };
  }

  /** `INTO` target after the INTO keyword: `m`, `rp.m`, `db.rp.m`, `db..m`, `[db.][rp.]:MEASUREMENT`. */
  private parseIntoTarget(): IntoTarget {
    const first = this.parseIdent();
    const { segments, stop } = this.parseSegments(first);
    let sourceMeasurement = false;
    if (segments.length < 3) {
      let colon = stop === ':';
      if (stop === 'none') {
        // influxd peeks past the token after the name for ':'.
        const after = this.peekRaw();
        if (after.end >= this.input.length) this.eofTouched = true;
        if (after.kind !== 'eof' && this.input[after.end] === ':') {
          if (after.kind !== 'whitespace' && after.kind !== 'comment') throw this.unexpected(after, [':']);
          colon = true;
        }
      }
      if (colon) {
        this.expectPunct(':');
        this.expectKeyword('MEASUREMENT');
        segments.push(null);
        sourceMeasurement = true;
      }
    }
    const last = this.tokens[this.tokens.length - 1];
    const target: IntoTarget = { sourceMeasurement, span: { start: first.start, end: last.end } };
    const [dbTok, rpTok, nameTok] =
      segments.length === 3 ? segments : segments.length === 2 ? [null, segments[0], segments[1]] : [null, null, segments[0]];
    if (!sourceMeasurement) target.name = nameTok?.value ?? '';
    if (dbTok && dbTok.value !== '') {
      target.db = dbTok.value;
      target.dbSpan = spanOf(dbTok);
    }
    if (rpTok && rpTok.value !== '') target.rp = rpTok.value;
    return target;
  }

  // ---------------------------------------------------------------------------------------------
  // Fields and expressions

  /** The SELECT field list, and whether any field calls a function. */
  private parseFields(): ParsedFields {
    const fields: SelectField[] = [];
    let aggregated = false;
    for (;;) {
      const field = this.parseField();
      fields.push(field);
      aggregated = aggregated || (field.expr.type !== 'regex' && containsCall(field.expr));
      if (!isPunct(this.peek(), ',')) return { fields, aggregated };
      this.next();
    }
  }

  private parseField(): SelectField {
    const regex = this.tryRegex(true);
    let expr: Expr;
    if (regex) {
      expr = regexLiteral(regex);
    } else {
      const at = this.peek().start;
      expr = this.parseExpr();
      const bad = firstConditionOp(expr);
      if (bad) {
        const { line, char } = this.where(at);
        throw new InfluxQLParseError(
          `invalid operator ${bad} in SELECT clause at line ${line}, char ${char}; operator is intended for WHERE clause`,
          at,
          line,
          char,
        );
      }
    }
    if (this.acceptKeyword('AS')) return { expr, alias: this.parseIdent().value };
    return { expr };
  }

  private parseExpr(): Expr {
    this.enter();
    let root = this.parseUnary();
    for (;;) {
      const op = this.peek();
      if (!isBinaryOp(op)) break;
      this.next();
      let rhs: Expr;
      if (op.value === '=~' || op.value === '!~') {
        const regex = this.tryRegex(true);
        if (!regex) throw this.unexpected(this.peek(), ['regex']);
        rhs = regexLiteral(regex);
      } else {
        rhs = this.parseUnary();
      }
      root = insertBinary(root, op.value, rhs);
    }
    this.leave();
    return root;
  }

  private parseUnary(): Expr {
    this.enter();
    const e = this.parseUnaryInner();
    this.leave();
    return e;
  }

  private parseUnaryInner(): Expr {
    const t = this.next();
    if (isPunct(t, '(')) {
      const expr = this.parseExpr();
      this.expectPunct(')');
      return { type: 'paren', expr };
    }
    switch (t.kind) {
      case 'ident':
        // A call only when '(' follows the name directly.
        if (this.input[this.pos] === '(') {
          this.next();
          return this.parseCall(t.value.toLowerCase());
        }
        return this.parseVarRef(t);
      case 'keyword':
        if (t.value === 'DISTINCT') {
          if (this.input[this.pos] === '(') {
            this.next();
            return this.parseCall('distinct');
          }
          const raw = this.peekRaw();
          if (raw.kind === 'whitespace') {
            const name = this.next();
            if (name.kind !== 'ident') throw this.unexpected(name, ['identifier']);
            return { type: 'distinct', name: name.value };
          }
          throw this.unexpected(raw, ['(', 'identifier']);
        }
        if (t.value === 'TRUE' || t.value === 'FALSE') return withParam({ type: 'boolean', value: t.value === 'TRUE' }, t);
        break;
      case 'string':
        return withParam({ type: 'string', value: t.value, timeLiteral: isTimeLiteralText(t.value) }, t);
      case 'number': {
        const value = Number(t.value);
        if (!Number.isFinite(value)) throw this.errorAt(t.start, 'unable to parse number');
        return withParam({ type: 'number', value }, t);
      }
      case 'integer': {
        const value = BigInt(t.value);
        if (value > UINT64_MAX) throw this.errorAt(t.start, 'unable to parse integer');
        return withParam(value > INT64_MAX ? { type: 'unsigned', value } : { type: 'integer', value }, t);
      }
      case 'duration': {
        const ns = parseDuration(t.value);
        if (ns === undefined) throw this.bare(durationError(t.value) ?? 'invalid duration', t.start);
        return withParam({ type: 'duration', ns }, t);
      }
      case 'bound-param':
        // Not bound (bound ones were substituted when peeked).
        if (t.value === '') throw this.bare('empty bound parameter', t.start);
        throw this.bare(this.paramErrors.get(t.value) ?? `missing parameter: ${t.value}`, t.start);
      case 'operator':
        if (t.value === '*') {
          const cast = this.peekRaw();
          if (isPunct(cast, '::')) {
            this.take(cast);
            const type = this.peekRaw();
            if (!isKw(type, 'FIELD') && !isKw(type, 'TAG')) throw this.unexpected(type, ['field', 'tag']);
            this.take(type);
            return { type: 'wildcard', cast: type.value === 'FIELD' ? 'field' : 'tag' };
          }
          return { type: 'wildcard' };
        }
        if (t.value === '+' || t.value === '-') return this.parseSigned(t);
        break;
    }
    throw this.unexpected(t, ['identifier', 'string', 'number', 'bool']);
  }

  /** `+x` / `-x` after the sign: a number, duration, identifier, call or parenthesised expression. */
  private parseSigned(sign: Token): Expr {
    const n = this.peek();
    if (!(n.kind === 'number' || n.kind === 'integer' || n.kind === 'duration' || n.kind === 'ident' || isPunct(n, '('))) {
      throw this.unexpected(n, ['identifier', 'number', 'duration', '(']);
    }
    const operand = this.parseUnary();
    const negative = sign.value === '-';
    switch (operand.type) {
      case 'integer':
        return negative ? { ...operand, value: BigInt.asIntN(64, -operand.value) } : operand;
      case 'unsigned':
        if (!negative) return operand;
        // -9223372036854775808 is int64's minimum; anything larger does not fit.
        if (operand.value > INT64_MAX + 1n) throw this.bare(`constant -${operand.value} underflows int64`, n.start);
        return { ...operand, type: 'integer', value: -operand.value };
      case 'number':
        return negative ? { ...operand, value: -operand.value } : operand;
      case 'duration':
        return negative ? { ...operand, ns: BigInt.asIntN(64, -operand.ns) } : operand;
      case 'ref':
      case 'call':
      case 'paren':
        // influxd's `±x`: ±1 * x.
        return { type: 'binary', op: '*', lhs: { type: 'integer', value: negative ? -1n : 1n }, rhs: operand };
      default:
        return operand;
    }
  }

  /** A function call after `name(`: arguments may be regexes; `()` only with nothing but whitespace inside. */
  private parseCall(name: string): Expr {
    this.enter();
    const args: Expr[] = [];
    const regex = this.tryRegex(true);
    if (regex) {
      args.push(regexLiteral(regex));
    } else {
      const close = this.skipWhitespace(this.pos);
      if (this.input[close] === ')') {
        this.take(this.lexer.scan(close));
        this.leave();
        return { type: 'call', name, args };
      }
      args.push(this.parseExpr());
    }
    while (isPunct(this.peek(), ',')) {
      this.next();
      const argRegex = this.tryRegex(true);
      args.push(argRegex ? regexLiteral(argRegex) : this.parseExpr());
    }
    this.expectPunct(')');
    this.leave();
    return { type: 'call', name, args };
  }

  /** A field/tag reference after its first identifier: dotted segments and an optional `::type` cast. */
  private parseVarRef(first: Token): Expr {
    const { segments } = this.parseSegments(first);
    let name = first.value;
    let quoted = first.quoted === true;
    for (let i = 1; i < segments.length; i++) {
      const segment = segments[i];
      name += '.' + (segment?.value ?? '');
      if (segment?.quoted) quoted = true;
    }
    const ref: VarRef = { type: 'ref', name, quoted };
    if (first.param !== undefined) ref.param = first.param;
    const cast = this.peekRaw();
    if (!isPunct(cast, '::')) return ref;
    this.take(cast);
    const type = this.peekRaw();
    if (type.kind === 'ident') {
      if (!['float', 'integer', 'unsigned', 'string', 'boolean'].includes(type.value.toLowerCase())) {
        throw this.unexpected(type, ['float', 'integer', 'unsigned', 'string', 'boolean', 'field', 'tag']);
      }
    } else if (!isKw(type, 'FIELD') && !isKw(type, 'TAG')) {
      throw this.unexpected(type, ['float', 'integer', 'string', 'boolean', 'field', 'tag']);
    }
    this.take(type);
    ref.cast = type.value.toLowerCase();
    return ref;
  }
}

/** A regex token as a tree node. */
function regexLiteral(t: Token): RegexLiteral {
  return t.param === undefined ? { type: 'regex', pattern: t.value } : { type: 'regex', pattern: t.value, param: t.param };
}

/** `literal`, marked with the bound parameter `t` stands for (if it does). */
function withParam(literal: Exclude<Expr, BinaryExpr | ParenExpr | CallExpr | Wildcard | DistinctExpr>, t: Token): Expr {
  if (t.param !== undefined) literal.param = t.param;
  return literal;
}

/** Go's unicode.IsSpace, which influxd's `strings.TrimSpace(q)` trims with. */
function isGoSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Bounds of `s` without leading and trailing Go white space. */
function goTrimSpace(s: string): { start: number; end: number } {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charCodeAt(start))) start++;
  while (end > start && isGoSpace(s.charCodeAt(end - 1))) end--;
  return { start, end };
}

/** `clauses` with every token index moved by `delta`. */
function shiftClauses(clauses: StatementClauses, delta: number): StatementClauses {
  const shift = (r: ClauseRange): ClauseRange => ({ ...r, tokenStart: r.tokenStart + delta, tokenEnd: r.tokenEnd + delta });
  const out: StatementClauses = {};
  for (const key of Object.keys(clauses) as (keyof StatementClauses)[]) {
    const value = clauses[key];
    if (value === undefined) continue;
    if (Array.isArray(value)) out.dimensions = value.map(shift);
    else (out as Record<string, ClauseRange>)[key] = shift(value);
  }
  return out;
}

/**
 * Splits and parses an InfluxQL query the way influxd's POST /query does: on the query with Go white space
 * trimmed from both ends, statements separated by `;` outside strings, quoted identifiers, regexes and
 * comments, empty statements skipped (unless `options.rejectEmptyStatements`). Returns one entry per statement,
 * in order; [] for a query with none. Offsets are into `query` as given.
 *
 * Throws InfluxQLParseError for anything influxd would refuse to parse, with influxd's message (its "line L,
 * char C" counted, as influxd counts them, in the trimmed query); and for nesting deeper than this parser
 * follows (about 200 levels of parentheses or subqueries).
 */
export function parseQuery(query: string, options: ParseOptions = {}): ParsedStatement[] {
  const { start, end } = goTrimSpace(query);
  try {
    return new Parser(query.slice(0, end), start, options.params).parseQuery(options);
  } catch (err) {
    if (err instanceof RangeError) throw new InfluxQLParseError('query is nested too deeply');
    throw err;
  }
}
