import type { Token } from './tokenizer';

/** Every statement kind the parser reports, plus `unknown` (only ever returned by `classifyStatement`). */
export const STATEMENT_KINDS = [
  'select',
  'explain',
  'delete',
  'show-continuous-queries',
  'show-databases',
  'show-diagnostics',
  'show-field-keys',
  'show-field-key-cardinality',
  'show-grants',
  'show-measurements',
  'show-measurement-cardinality',
  'show-queries',
  'show-retention-policies',
  'show-series',
  'show-series-cardinality',
  'show-shards',
  'show-shard-groups',
  'show-stats',
  'show-subscriptions',
  'show-tag-keys',
  'show-tag-key-cardinality',
  'show-tag-values',
  'show-tag-values-cardinality',
  'show-users',
  'create-continuous-query',
  'create-database',
  'create-retention-policy',
  'create-subscription',
  'create-user',
  'drop-continuous-query',
  'drop-database',
  'drop-measurement',
  'drop-retention-policy',
  'drop-series',
  'drop-shard',
  'drop-subscription',
  'drop-user',
  'alter-retention-policy',
  'grant',
  'revoke',
  'kill-query',
  'set-password',
  'unknown',
] as const;

/** What a statement does, named after its leading keywords (`SHOW TAG VALUES` → `show-tag-values`). */
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** A run of query text: UTF-16 offsets into the string given to `parseQuery`. */
export interface Span {
  /** Offset of the first character. */
  start: number;
  /** Offset just past the last character. */
  end: number;
}

/**
 * Where a clause sits: character offsets into the parsed query, and indices into the owning
 * statement's `tokens`. The range runs from the clause's first keyword (WHERE, GROUP, ORDER, LIMIT, …;
 * for `fill(…)` and `tz(…)` the function name) through its last token.
 */
export interface ClauseRange extends Span {
  /** Index in `ParsedStatement.tokens` of the clause's first token. */
  tokenStart: number;
  /** Index in `ParsedStatement.tokens` one past the clause's last token. */
  tokenEnd: number;
}

/** A named measurement in a FROM list (or the target of DROP MEASUREMENT): `m`, `rp.m`, `db.rp.m`, `db..m`. */
export interface MeasurementSource {
  kind: 'measurement';
  /** Measurement name, decoded (quotes and escapes removed). */
  name: string;
  /** Database qualifier, when one is written and not empty. */
  db?: string;
  /** Retention-policy qualifier, when one is written and not empty (`db..m` has none). */
  rp?: string;
  /** The whole source text, qualifiers included. */
  span: Span;
  /** The database qualifier's text (quotes included), when `db` is set; what `rewriteDatabase` replaces. */
  dbSpan?: Span;
}

/** A regex in a FROM list: `/cpu.*\/`, `rp./re/`, `db.rp./re/`, `db../re/`. */
export interface RegexSource {
  kind: 'regex';
  /** The pattern between the slashes, `\/` unescaped; Go RE2 syntax, not checked here. */
  pattern: string;
  /** Database qualifier, when one is written and not empty. */
  db?: string;
  /** Retention-policy qualifier, when one is written and not empty. */
  rp?: string;
  /** The whole source text, qualifiers included. */
  span: Span;
  /** The database qualifier's text (quotes included), when `db` is set. */
  dbSpan?: Span;
}

/** A subquery in a FROM list: `(SELECT … FROM …)`. */
export interface SubquerySource {
  kind: 'subquery';
  /** The inner SELECT, parsed like a top-level statement (its `text` excludes the parentheses). */
  statement: ParsedStatement;
  /** The source text, parentheses included. */
  span: Span;
}

/** One entry of a FROM clause. */
export type Source = MeasurementSource | RegexSource | SubquerySource;

/** The target of `SELECT … INTO target`. */
export interface IntoTarget {
  /** Measurement written to; undefined for `:MEASUREMENT` (each source measurement's own name). */
  name?: string;
  /** Database qualifier, when one is written and not empty. */
  db?: string;
  /** Retention-policy qualifier, when one is written and not empty. */
  rp?: string;
  /** Whether the target ends in `:MEASUREMENT`. */
  sourceMeasurement: boolean;
  /** The target text (after INTO). */
  span: Span;
  /** The database qualifier's text, when `db` is set. */
  dbSpan?: Span;
}

/** `WITH MEASUREMENT = name` or `WITH MEASUREMENT =~ /re/` of SHOW MEASUREMENTS. */
export interface WithMeasurement {
  /** The operator written (influxd accepts either with a name or a regex). */
  op: '=' | '=~';
  /** The measurement or regex after the operator. */
  source: MeasurementSource | RegexSource;
}

/** `WITH KEY …` of SHOW TAG VALUES (required) and SHOW TAG KEYS (optional). */
export type WithKey = { op: '=' | '!='; key: string } | { op: 'IN'; keys: string[] } | { op: '=~' | '!~'; pattern: string };

/** Clause locations of a statement's top level (not those of its subqueries). */
export interface StatementClauses {
  /** The SELECT field list (after SELECT, before INTO/FROM). */
  fields?: ClauseRange;
  /** `INTO target`. */
  into?: ClauseRange;
  /** `FROM sources`. */
  from?: ClauseRange;
  /** `WITH MEASUREMENT …` or `WITH KEY …`. */
  with?: ClauseRange;
  /** `WHERE condition`. */
  where?: ClauseRange;
  /** `GROUP BY dimensions`. */
  groupBy?: ClauseRange;
  /** Each GROUP BY dimension (e.g. `time(20s)`, `"host"`), in order. */
  dimensions?: ClauseRange[];
  /** `fill(…)`. */
  fill?: ClauseRange;
  /** `ORDER BY …`. */
  orderBy?: ClauseRange;
  /** `LIMIT n`. */
  limit?: ClauseRange;
  /** `OFFSET n`. */
  offset?: ClauseRange;
  /** `SLIMIT n`. */
  slimit?: ClauseRange;
  /** `SOFFSET n`. */
  soffset?: ClauseRange;
  /** `tz('…')`. */
  tz?: ClauseRange;
}

/**
 * An InfluxQL expression as influxd's parser builds it (influxql ast.go): the tree every consumer walks (the
 * query guard's time ranges and buckets, the planner). Literals keep their values; a literal that stands for a
 * bound parameter keeps its name in `param`.
 */
export type Expr =
  | BinaryExpr
  | ParenExpr
  | CallExpr
  | VarRef
  | IntegerLiteral
  | UnsignedLiteral
  | NumberLiteral
  | DurationLiteral
  | StringLiteral
  | BooleanLiteral
  | RegexLiteral
  | Wildcard
  | DistinctExpr;

/** `lhs op rhs`; `op` is an operator (`+`, `=~`, …) or `AND`/`OR`. Left-associative by `BINARY_PRECEDENCE`. */
export interface BinaryExpr {
  type: 'binary';
  op: string;
  lhs: Expr;
  rhs: Expr;
}

/** `( expr )`, kept as written (influxd's ParenExpr). */
export interface ParenExpr {
  type: 'paren';
  expr: Expr;
}

/** `name(args…)`; `name` lower-cased (`distinct(x)` included). A regex argument is a `RegexLiteral`. */
export interface CallExpr {
  type: 'call';
  name: string;
  args: Expr[];
}

/** A field or tag reference: `host`, `"my host"`, `m.f` (segments joined by `.`), `f::integer`. */
export interface VarRef {
  type: 'ref';
  /** Decoded name; dotted segments joined by `.`. */
  name: string;
  /** Whether any segment was written in double quotes. */
  quoted: boolean;
  /** The `::type` written after it, lower-cased (`float`, `integer`, `unsigned`, `string`, `boolean`, `field`, `tag`). */
  cast?: string;
  /** The bound parameter it stands for. */
  param?: string;
}

/** An integer literal in int64's range (a leading `-` folded in). */
export interface IntegerLiteral {
  type: 'integer';
  value: bigint;
  param?: string;
}

/** An integer literal above int64's range, up to uint64's (influxd's UnsignedLiteral). */
export interface UnsignedLiteral {
  type: 'unsigned';
  value: bigint;
  param?: string;
}

/** A float literal (a leading `-` folded in). */
export interface NumberLiteral {
  type: 'number';
  value: number;
  param?: string;
}

/** A duration literal in nanoseconds (a leading `-` folded in, wrapped to int64 as Go does). */
export interface DurationLiteral {
  type: 'duration';
  ns: bigint;
  param?: string;
}

/**
 * A string literal. `timeLiteral` says it has the shape influxd reads as a time when it is compared with `time`
 * (StringLiteral.IsTimeLiteral: a date, or a date followed by more); reading it needs the statement's zone.
 */
export interface StringLiteral {
  type: 'string';
  value: string;
  timeLiteral: boolean;
  param?: string;
}

/** `TRUE` / `FALSE`. */
export interface BooleanLiteral {
  type: 'boolean';
  value: boolean;
  param?: string;
}

/** `/pattern/`: the pattern with `\/` unescaped (Go RE2 syntax, not checked). */
export interface RegexLiteral {
  type: 'regex';
  pattern: string;
  param?: string;
}

/** `*`, `*::field`, `*::tag`. */
export interface Wildcard {
  type: 'wildcard';
  cast?: 'field' | 'tag';
}

/** `DISTINCT name` (without parentheses; `DISTINCT(name)` is a `CallExpr`). */
export interface DistinctExpr {
  type: 'distinct';
  name: string;
}

/** One SELECT field: `expr [AS alias]`. */
export interface SelectField {
  expr: Expr;
  alias?: string;
}

/** `fill(…)`: a named option, or a number. */
export type FillOption = { option: 'null' | 'none' | 'previous' | 'linear' } | { option: 'number'; value: number };

/** What a SELECT says, as trees and the facts influxd's parser derives from them (its own level, not its subqueries'). */
export interface SelectParts {
  /** The field list, in order. */
  fields: SelectField[];
  /** The WHERE condition. */
  condition?: Expr;
  /** The GROUP BY dimensions, in order: `time(…)` calls, tag references, regexes, `*`. */
  dimensions: Expr[];
  /** The first `time(…)` dimension (influxd uses the first; it refuses a second when compiling). */
  timeDimension?: CallExpr;
  /**
   * influxd's GroupByInterval: the time dimension's interval when it is written as a duration literal, in ns;
   * 0n when there is no time dimension or its first argument is not a duration literal.
   */
  groupByInterval: bigint;
  /** The time dimension's offset argument, as written (a duration, a time string, `now()`, …). */
  groupByOffset?: Expr;
  /** Whether any field calls a function (influxd: not a raw query). */
  aggregated: boolean;
  /** `fill(…)`. */
  fill?: FillOption;
  /** `tz('zone')`: the zone name as written (not checked). */
  tz?: string;
}

/** One statement of a query, as `parseQuery` returns it. Absent fields do not apply to the statement. */
export interface ParsedStatement {
  /** What the statement does. Never `unknown` (an unrecognised statement is a parse error). */
  kind: StatementKind;
  /** The statement's source text, first token through last token, verbatim (safe to forward alone). */
  text: string;
  /** Offset of `text` in the parsed query. */
  start: number;
  /** Offset just past `text` in the parsed query. */
  end: number;
  /** The statement's tokens (no whitespace, comments, or the separating `;`), in order. */
  tokens: Token[];
  /** FROM list in order (for SELECT, EXPLAIN and CREATE CONTINUOUS QUERY the select's; for DROP MEASUREMENT its target); [] if none. */
  sources: Source[];
  /** `SELECT … INTO target` (also for EXPLAIN/CQ selects); present means the statement writes. */
  into?: IntoTarget;
  /** `ON <db>`: SHOW … ON, CREATE/ALTER/DROP RETENTION POLICY, CREATE/DROP CONTINUOUS QUERY, GRANT/REVOKE, subscriptions. */
  onDatabase?: string;
  /** Text of the `ON <db>` database name (quotes included). */
  onDatabaseSpan?: Span;
  /** `ON db.rp` retention policy (SHOW MEASUREMENTS, CREATE/DROP SUBSCRIPTION). */
  onRetentionPolicy?: string;
  /** `SHOW MEASUREMENTS ON *`: all databases. */
  onAllDatabases?: boolean;
  /** `SHOW MEASUREMENTS ON db.*`: all retention policies. */
  onAllRetentionPolicies?: boolean;
  /** Database named by CREATE DATABASE / DROP DATABASE. */
  database?: string;
  /** Text of that database name (quotes included). */
  databaseSpan?: Span;
  /** Object the statement names: user (CREATE/DROP USER, SET PASSWORD, GRANT, REVOKE, SHOW GRANTS), retention policy, continuous query, subscription, or measurement (DROP MEASUREMENT). */
  name?: string;
  /** Query id (KILL QUERY) or shard id (DROP SHARD), as decimal text (uint64). */
  id?: string;
  /** `KILL QUERY id ON host`. */
  host?: string;
  /** GRANT/REVOKE privilege; ALL without ON is the admin privilege. */
  privilege?: 'READ' | 'WRITE' | 'ALL';
  /** `SHOW STATS FOR 'module'` / `SHOW DIAGNOSTICS FOR 'module'`. */
  module?: string;
  /** Cardinality statements: whether EXACT was given. */
  exact?: boolean;
  /** `EXPLAIN [ANALYZE] [VERBOSE]` options (ANALYZE executes the query). */
  explain?: { analyze: boolean; verbose: boolean };
  /** The SELECT wrapped by EXPLAIN or CREATE CONTINUOUS QUERY (its clauses and limits live there). */
  inner?: ParsedStatement;
  /** SHOW MEASUREMENTS `WITH MEASUREMENT …`. */
  withMeasurement?: WithMeasurement;
  /** SHOW TAG VALUES / SHOW TAG KEYS `WITH KEY …`. */
  withKey?: WithKey;
  /** Top-level `LIMIT n`. */
  limit?: number;
  /** Top-level `OFFSET n`. */
  offset?: number;
  /** Top-level `SLIMIT n`. */
  slimit?: number;
  /** Top-level `SOFFSET n`. */
  soffset?: number;
  /** Where the statement's top-level clauses are. */
  clauses: StatementClauses;
  /** SELECT (a subquery's statement too): its field, WHERE and GROUP BY trees and facts; EXPLAIN: its SELECT's. */
  select?: SelectParts;
}

/** Options for `parseQuery`. */
export interface ParseOptions {
  /**
   * Refuse empty statements (`;;`, or a leading `;`) except at the end of the query, with influxd's
   * `found ;, expected SELECT, …` message. influxd itself skips empty statements anywhere, so the
   * default (false) matches influxd.
   */
  rejectEmptyStatements?: boolean;
  /**
   * The request's bound parameters (influxd's `params` form value, JSON-decoded). A `$name` is replaced by a
   * token of its value's type, as influxd does: string → string literal, number → integer/number, boolean,
   * `{identifier|ident: s}`, `{regex: s}`, `{string: s}`, `{integer|int: n}`, `{number|float: n}`, `{duration: s}`.
   * So `FROM $m` with `{"m": {"identifier": "cpu"}}` has the source `cpu`. An unbound `$name` is refused.
   */
  params?: Record<string, unknown>;
}
