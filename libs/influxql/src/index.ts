/**
 * @app/influxql — the proxy's InfluxQL statement layer.
 *
 * Not an executor: it finds statement boundaries, kinds, sources and clause positions exactly as influxd's
 * own parser (influxdata/influxql) would, so the proxy can judge every statement of a query on its own:
 * refuse forbidden ones (a statement after `;` is never exempt), route single-measurement ones, fan out
 * cluster-wide ones, and guard time ranges and GROUP BY buckets.
 *
 * - `parseQuery(q, options?)` → one `ParsedStatement` per statement: kind, verbatim text and offsets, tokens,
 *   FROM sources (measurements, regexes, subqueries, with db/rp qualifiers), INTO target, ON database,
 *   WITH MEASUREMENT / WITH KEY, LIMIT/OFFSET/SLIMIT/SOFFSET, and clause ranges (WHERE, GROUP BY, fill, …);
 *   for a SELECT (and EXPLAIN's), `select`: the field, WHERE and GROUP BY expression trees (`Expr`, literal values
 *   kept) and what influxd derives from them (aggregated, GROUP BY interval and offset, fill, tz). Consumers walk
 *   these trees; nothing else reads expressions from tokens.
 *   Throws `InfluxQLParseError` carrying influxd's own message; answer it as
 *   `400 {"error":"error parsing query: <message>"}`.
 * - `classifyStatement(text)` → a statement's kind from its leading keywords (never throws; `unknown` if none).
 * - `rewriteDatabase(stmt, newDb)` → the statement text with every written db qualifier renamed.
 * - `Lexer` → raw InfluxQL tokens (the parser decides where `/` starts a regex; prefer `ParsedStatement.tokens`).
 *
 * Agreement with influxd was checked against a live influxd 1.6.7 (see influxd-recorded.spec.ts); the grammar
 * followed is current influxql, which accepts a few forms 1.6 refused. Not checked here: Go RE2 regex syntax,
 * tz() names, and semantic rules influxd applies after parsing (e.g. which functions exist).
 */
export { parseQuery } from './parser';
export { classifyStatement } from './grammar';
export { rewriteDatabase, quoteIdent, identNeedsQuotes, type RewriteDatabaseOptions } from './rewrite';
export { InfluxQLParseError } from './errors';
export { Lexer, KEYWORDS, isKeyword, type Token, type TokenKind } from './tokenizer';
export { parseDuration } from './duration';
export { BINARY_PRECEDENCE, INT64_MAX } from './operators';
export { isTimeLiteralText } from './literals';
export {
  STATEMENT_KINDS,
  type StatementKind,
  type ParsedStatement,
  type ParseOptions,
  type Source,
  type MeasurementSource,
  type RegexSource,
  type SubquerySource,
  type IntoTarget,
  type WithMeasurement,
  type WithKey,
  type StatementClauses,
  type ClauseRange,
  type Span,
  type SelectParts,
  type SelectField,
  type FillOption,
  type Expr,
  type BinaryExpr,
  type ParenExpr,
  type CallExpr,
  type VarRef,
  type IntegerLiteral,
  type UnsignedLiteral,
  type NumberLiteral,
  type DurationLiteral,
  type StringLiteral,
  type BooleanLiteral,
  type RegexLiteral,
  type Wildcard,
  type DistinctExpr,
} from './types';
