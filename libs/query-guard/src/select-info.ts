import type { Expr, ParsedStatement, SelectParts } from '@app/influxql';
import { parseTimeLiteral } from './time-literal';
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
  /**
   * Whether a field calls an aggregate, selector or other non-per-point function (or uses DISTINCT). Narrower than
   * the parser's `select.aggregated` (influxd's "not a raw query": any call), because `abs(v)` or `derivative(v)`
   * still stream one point per point read, which is what the raw-select cap is about.
   */
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
  'abs',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'atan2',
  'exp',
  'log',
  'ln',
  'log2',
  'log10',
  'sqrt',
  'pow',
  'floor',
  'ceil',
  'round',
  'derivative',
  'non_negative_derivative',
  'difference',
  'non_negative_difference',
  'moving_average',
  'cumulative_sum',
  'elapsed',
]);

/**
 * Reads the guard-relevant parts of a SELECT from the trees and facts the parser attached (`stmt.select`).
 * Never throws: a part it cannot evaluate (an unknown tz() zone, arithmetic it does not reduce) is left unknown.
 */
export function selectInfo(stmt: ParsedStatement, now: bigint): SelectInfo {
  // The parser attaches `select` to every SELECT it returns (subqueries and EXPLAIN's included); a statement
  // without it was not built by the parser, and then nothing is known of it.
  const parts = stmt.select;
  const zone = parts?.tz === undefined ? undefined : safe(() => zoneLookup(parts.tz!), undefined);
  const ctx: EvalContext = { now, zone };
  const condition = parts?.condition;
  const bounds = condition ? safe<Bounds>(() => conditionBounds(condition, ctx), {}) : {};
  const time = parts?.timeDimension;
  const info: SelectInfo = {
    statement: stmt,
    bounds,
    hasTimeDimension: time !== undefined,
    zone,
    aggregate: parts ? safe(() => hasAggregate(parts), true) : false,
    readsStorage: stmt.sources.some((s) => s.kind !== 'subquery'),
    subqueries: stmt.sources.flatMap((s) => (s.kind === 'subquery' ? [s.statement] : [])),
  };
  const interval = time ? safe(() => timeCallInterval(time.args, ctx), undefined) : undefined;
  if (interval) info.interval = interval;
  return info;
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

/** influxd's compileDimensions for the time dimension (the parser keeps its arguments as written): interval and offset. */
function timeCallInterval(args: readonly Expr[], ctx: EvalContext): GroupInterval | undefined {
  if (args.length < 1 || args.length > 2) return undefined;
  const d = evaluate(args[0], ctx);
  if (d.t !== 'duration' || d.ns <= 0n) return undefined;
  const duration = d.ns;
  let offset = 0n;
  if (args.length === 2) {
    const arg = args[1];
    let at: bigint | undefined;
    if (arg.type === 'string') {
      at = arg.timeLiteral ? parseTimeLiteral(arg.value, ctx.zone) : undefined;
    } else {
      const v = evaluate(arg, ctx);
      if (v.t === 'duration')
        offset = v.ns % duration; // Go's %: the sign follows the dividend.
      else if (v.t === 'time') at = v.ns;
    }
    // A time offset (a literal or now()) is its distance past the interval boundary, as Go's Truncate sees it.
    if (at !== undefined) offset = floorMod(at + GO_ZERO_TIME_NS, duration);
  }
  return { duration, offset };
}

/** Whether a field calls anything but per-point functions, or uses DISTINCT (anywhere in its tree). */
function hasAggregate(parts: SelectParts): boolean {
  const stack: Expr[] = [];
  for (const field of parts.fields) stack.push(field.expr);
  while (stack.length > 0) {
    const e = stack.pop()!;
    switch (e.type) {
      case 'distinct':
        return true;
      case 'call':
        if (!PER_POINT_FUNCTIONS.has(e.name)) return true;
        for (const arg of e.args) stack.push(arg);
        break;
      case 'binary':
        stack.push(e.lhs, e.rhs);
        break;
      case 'paren':
        stack.push(e.expr);
        break;
      default:
        break;
    }
  }
  return false;
}
