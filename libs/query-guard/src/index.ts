/**
 * @app/query-guard — refuses the InfluxQL statements that take a backend down, before any backend sees them.
 *
 * Pure functions over `@app/influxql`'s parsed statements; they read the trees and facts the parser attached to
 * each SELECT (`stmt.select`: WHERE, fields, GROUP BY time), never the tokens:
 * - `checkStatements(stmts, settings, now, dataStart?)` → the first refused statement (`GuardRefusal`) or null;
 *   answer a refusal as influxd does: 200 with that statement's `error`, the statements before it run, the
 *   ones after it not (`not executed`).
 * - `timeRange(stmt, now)` → the statement's time range from its WHERE conditions on `time`.
 * - `bucketCount(stmt, now)` → how many GROUP BY time buckets it makes (largest over its subqueries).
 *
 * `now` is nanoseconds since the epoch (bigint); use one value for a whole request, as influxd does.
 * Bound parameters: parse with `parseQuery(q, { params })` and the `$name`s are already values here.
 *
 * Rules (influxd 1.x semantics unless noted):
 * - time conditions: `time <op> expr` and `expr <op> time` with > >= < <= =; expr is now(), a string time
 *   literal (RFC3339, `YYYY-MM-DD[ HH:MM:SS[.f]]`, read in the tz() zone when it has no offset), an integer
 *   (epoch ns), a duration (ns since the epoch), or ± duration arithmetic on those (influxd's Reduce rules);
 *   AND intersects; OR gives no bound (influxd intersects; the guard overestimates instead); anything that
 *   does not evaluate (field refs, other functions, out-of-range times) gives no bound;
 * - buckets: influxd's count `(Window(max-1) - Window(min) + d) / d` with the GROUP BY time offset and tz()
 *   alignment; a missing lower bound is where the data begins (`dataStart`: the earliest shard of the
 *   db/rp on the backends that would answer, which bounds what influxd reads), else the epoch; a missing
 *   upper bound now();
 * - subqueries: each SELECT level is counted with its own bounds intersected with every enclosing level's,
 *   and with the nearest enclosing interval when it has no GROUP BY time; the statement's count is the max;
 * - checked statements: SELECT, EXPLAIN [ANALYZE] SELECT (buckets only); CQ bodies and the rest pass;
 * - raw cap: a top-level SELECT refused when it (or a subquery it reads) streams raw points (no aggregate or
 *   selector call, no GROUP BY time) with no LIMIT > 0 and no time bound, own or inherited.
 */
export {
  checkStatements,
  timeRange,
  bucketCount,
  DEFAULT_GUARD_SETTINGS,
  UNBOUNDED_RAW_SELECT_MESSAGE,
  type GuardSettings,
  type GuardRefusal,
  type DataStart,
  type TimeRange,
} from './guard';
