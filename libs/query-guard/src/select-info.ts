import type { ParsedStatement, Token } from '@app/influxql';
import { readExpr, type Expr } from './expr';
import { isTimeLiteral, parseTimeLiteral } from './time-literal';
import { conditionBounds, evaluate, type Bounds, type EvalContext } from './time-range';
import { floorMod, zoneLookup, type ZoneLookup } from './zone';

/** `GROUP BY time(duration[, offset])`, in nanoseconds; offset already reduced as influxd does. */
export interface GroupInterval {
  duration: bigint;
  offset: bigint;
}

/** What the guard needs to know about one SELECT (its own clauses; not its subqueries'). */
export interface SelectInfo {
  statement: ParsedStatement;
  /** Bounds from the statement's own WHERE. */
  bounds: Bounds;
  /** Whether GROUP BY has a `time(…)` dimension at all. */
  hasTimeDimension: boolean;
  /** The GROUP BY time interval, when there is one influxd would accept (duration > 0). */
  interval?: GroupInterval;
  /** The statement's tz() zone (undefined: UTC). */
  zone?: ZoneLookup;
  /** Whether a field calls an aggregate, selector or other non-per-point function (or uses DISTINCT). */
  aggregate: boolean;
  /** Whether a FROM source is a measurement or regex (read from storage), not only subqueries. */
  readsStorage: boolean;
  /** The subqueries in FROM, in order. */
  subqueries: ParsedStatement[];
}

/** Go's zero time (0001-01-01) is this many ns before the epoch: `Time.Truncate` rounds relative to it. */
const GO_ZERO_TIME_NS = 62135596800n * 1_000_000_000n;

/**
 * Functions whose output has one point per input point: influxd's math functions and the transformations
 * (applied to a raw field they stream raw points). Any other call makes a SELECT an aggregate.
 */
const PER_POINT_FUNCTIONS = new Set([
  'abs', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2', 'exp', 'log', 'ln', 'log2', 'log10', 'sqrt',
  'pow', 'floor', 'ceil', 'round',
  'derivative', 'non_negative_derivative', 'difference', 'non_negative_difference', 'moving_average',
  'cumulative_sum', 'elapsed',
]);

/** Reads the guard-relevant parts of a SELECT. Never throws: a part it cannot read is left unknown. */
export function selectInfo(stmt: ParsedStatement, now: bigint): SelectInfo {
  const tokens = stmt.tokens;
  const zone = safe(() => statementZone(stmt, tokens), undefined);
  const ctx: EvalContext = { now, zone };
  const where = stmt.clauses.where;
  const bounds = safe<Bounds>(() => (where ? conditionBounds(readExpr(tokens, where.tokenStart + 1, where.tokenEnd), ctx) : {}), {});
  const group = safe(() => groupByTime(stmt, tokens, ctx), { hasTimeDimension: false, interval: undefined });
  const info: SelectInfo = {
    statement: stmt,
    bounds,
    hasTimeDimension: group.hasTimeDimension,
    zone,
    aggregate: safe(() => hasAggregate(stmt, tokens), true),
    readsStorage: stmt.sources.some((s) => s.kind !== 'subquery'),
    subqueries: stmt.sources.flatMap((s) => (s.kind === 'subquery' ? [s.statement] : [])),
  };
  if (group.interval) info.interval = group.interval;
  return info;
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

/** The zone named by `tz('…')`, if the statement has that clause. */
function statementZone(stmt: ParsedStatement, tokens: readonly Token[]): ZoneLookup | undefined {
  const tz = stmt.clauses.tz;
  if (!tz) return undefined;
  for (let i = tz.tokenStart; i < tz.tokenEnd && i < tokens.length; i++) {
    if (tokens[i].kind === 'string') return zoneLookup(tokens[i].value);
  }
  return undefined;
}

/** influxd's compileDimensions for the time dimension: interval and offset. */
function groupByTime(
  stmt: ParsedStatement,
  tokens: readonly Token[],
  ctx: EvalContext,
): { hasTimeDimension: boolean; interval: GroupInterval | undefined } {
  for (const dim of stmt.clauses.dimensions ?? []) {
    const first = tokens[dim.tokenStart];
    if (!first || first.kind !== 'ident' || first.value.toLowerCase() !== 'time') continue;
    const e = readExpr(tokens, dim.tokenStart, dim.tokenEnd);
    if (e.type !== 'call' || e.name !== 'time') continue;
    // The first time() dimension decides (influxd refuses a second one).
    return { hasTimeDimension: true, interval: timeCallInterval(e.args, ctx) };
  }
  return { hasTimeDimension: false, interval: undefined };
}

function timeCallInterval(args: Expr[], ctx: EvalContext): GroupInterval | undefined {
  if (args.length < 1 || args.length > 2) return undefined;
  const d = evaluate(args[0], ctx);
  if (d.t !== 'duration' || d.ns <= 0n) return undefined;
  const duration = d.ns;
  let offset = 0n;
  if (args.length === 2) {
    const arg = args[1];
    let at: bigint | undefined;
    if (arg.type === 'string') {
      at = isTimeLiteral(arg.value) ? parseTimeLiteral(arg.value, ctx.zone) : undefined;
    } else {
      const v = evaluate(arg, ctx);
      if (v.t === 'duration') offset = v.ns % duration; // Go's %: the sign follows the dividend.
      else if (v.t === 'time') at = v.ns;
    }
    // A time offset (a literal or now()) is its distance past the interval boundary, as Go's Truncate sees it.
    if (at !== undefined) offset = floorMod(at + GO_ZERO_TIME_NS, duration);
  }
  return { duration, offset };
}

/** Whether the field list calls anything but per-point functions, or uses DISTINCT. */
function hasAggregate(stmt: ParsedStatement, tokens: readonly Token[]): boolean {
  const fields = stmt.clauses.fields;
  if (!fields) return false;
  for (let i = fields.tokenStart; i < fields.tokenEnd && i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === 'keyword' && t.value === 'DISTINCT') return true;
    if (t.kind !== 'ident') continue;
    const next = tokens[i + 1];
    if (next && next.kind === 'punctuation' && next.value === '(' && next.start === t.end) {
      if (!PER_POINT_FUNCTIONS.has(t.value.toLowerCase())) return true;
    }
  }
  return false;
}
