import { INT64_MAX, type Expr } from '@app/influxql';
import { parseTimeLiteral } from './time-literal';
import type { ZoneLookup } from './zone';

/**
 * Time conditions the way influxd reads them (influxql ast.go `ConditionExpr`, `getTimeRange`, `Reduce`
 * with a `NowValuer`), with one deliberate difference: influxd intersects the ranges on both sides of an
 * OR ("there is no such thing as using OR with a time range"); the guard treats an OR as giving no bound,
 * so it can only overestimate a range.
 */

/** influxd's smallest and largest usable times (models.MinNanoTime, models.MaxNanoTime). */
export const MIN_TIME = -9223372036854775806n;
export const MAX_TIME = 9223372036854775806n;
const INT64_MIN = -(1n << 63n);

/** Bounds found in a condition, both inclusive; a missing side is unbounded. */
export interface Bounds {
  min?: bigint;
  max?: bigint;
}

export interface EvalContext {
  /** now() in nanoseconds since the epoch. */
  now: bigint;
  /** The statement's tz() zone; undefined for UTC. */
  zone?: ZoneLookup;
}

/** A reduced constant, as influxd's `Reduce` would leave it; `other` is anything not usable as a time. */
export type Value =
  | { t: 'time'; ns: bigint }
  | { t: 'duration'; ns: bigint }
  | { t: 'integer'; v: bigint }
  | { t: 'number'; v: number }
  | { t: 'string'; v: string }
  | { t: 'other' };

const OTHER: Value = { t: 'other' };

/** The lower and upper bounds `cond` puts on `time`, intersected across AND. */
export function conditionBounds(cond: Expr, ctx: EvalContext): Bounds {
  switch (cond.type) {
    case 'paren':
      return conditionBounds(cond.expr, ctx);
    case 'binary': {
      if (cond.op === 'AND') return intersect(conditionBounds(cond.lhs, ctx), conditionBounds(cond.rhs, ctx));
      if (cond.op === 'OR') return {};
      if (isTimeRef(cond.lhs)) return comparisonBounds(cond.op, cond.rhs, ctx) ?? {};
      if (isTimeRef(cond.rhs)) return comparisonBounds(MIRRORED[cond.op] ?? cond.op, cond.lhs, ctx) ?? {};
      return {};
    }
    default:
      return {};
  }
}

const MIRRORED: Record<string, string> = { '>': '<', '<': '>', '>=': '<=', '<=': '>=' };

function isTimeRef(e: Expr): boolean {
  return e.type === 'ref' && e.name.toLowerCase() === 'time';
}

/** Intersection of two bound sets (the larger minimum, the smaller maximum). */
export function intersect(a: Bounds, b: Bounds): Bounds {
  const out: Bounds = {};
  const min = a.min === undefined ? b.min : b.min === undefined ? a.min : a.min > b.min ? a.min : b.min;
  const max = a.max === undefined ? b.max : b.max === undefined ? a.max : a.max < b.max ? a.max : b.max;
  if (min !== undefined) out.min = min;
  if (max !== undefined) out.max = max;
  return out;
}

/**
 * `time <op> rhs` → bounds (influxd's getTimeRange), or undefined where influxd would refuse the query
 * (value not a time, out of range, operator not a comparison, unbound parameter…).
 */
export function comparisonBounds(op: string, rhs: Expr, ctx: EvalContext): Bounds | undefined {
  let value: bigint | undefined;
  if (rhs.type === 'string' && rhs.timeLiteral) {
    // A direct string literal is read as a time before anything else.
    value = checkedTime(parseTimeLiteral(rhs.value, ctx.zone));
  } else {
    const v = evaluate(rhs, ctx);
    switch (v.t) {
      case 'time':
        value = checkedTime(v.ns);
        break;
      case 'duration':
        value = v.ns;
        break;
      case 'integer':
        value = v.v;
        break;
      case 'number':
        value = floatToInt64(v.v);
        break;
      default:
        value = undefined;
    }
  }
  if (value === undefined) return undefined;
  switch (op) {
    case '>':
      return { min: value + 1n };
    case '>=':
      return { min: value };
    case '<':
      return { max: value - 1n };
    case '<=':
      return { max: value };
    case '=':
      return { min: value, max: value };
    default:
      return undefined;
  }
}

function checkedTime(ns: bigint | undefined): bigint | undefined {
  if (ns === undefined || ns > MAX_TIME || ns < MIN_TIME) return undefined;
  return ns;
}

/** Go's float64 → int64 conversion where it is defined (truncation toward zero). */
function floatToInt64(f: number): bigint | undefined {
  if (!Number.isFinite(f)) return undefined;
  const b = BigInt(Math.trunc(f));
  return b < INT64_MIN || b > INT64_MAX ? undefined : b;
}

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);

/** A constant expression reduced as influxd's `Reduce` does with `now()` bound (time arithmetic only). */
export function evaluate(e: Expr, ctx: EvalContext): Value {
  switch (e.type) {
    case 'paren':
      return evaluate(e.expr, ctx);
    case 'call':
      return e.name === 'now' && e.args.length === 0 ? { t: 'time', ns: ctx.now } : OTHER;
    case 'integer':
      return { t: 'integer', v: e.value };
    case 'number':
      return { t: 'number', v: e.value };
    case 'duration':
      return { t: 'duration', ns: e.ns };
    case 'string':
      return { t: 'string', v: e.value };
    case 'binary':
      return reduceBinary(e.op, evaluate(e.lhs, ctx), evaluate(e.rhs, ctx), ctx);
    default:
      return OTHER;
  }
}

function reduceBinary(op: string, l: Value, r: Value, ctx: EvalContext): Value {
  switch (l.t) {
    case 'duration':
      return durationLhs(op, l.ns, r, ctx);
    case 'integer':
      return integerLhs(op, l.v, r, ctx);
    case 'number':
      return numberLhs(op, l.v, r);
    case 'string':
      return stringLhs(op, l.v, r, ctx);
    case 'time':
      return timeLhs(op, l.ns, r, ctx);
    default:
      return OTHER;
  }
}

function asTime(s: string, ctx: EvalContext): Value | undefined {
  const ns = parseTimeLiteral(s, ctx.zone);
  return ns === undefined ? undefined : { t: 'time', ns };
}

function durationLhs(op: string, d: bigint, r: Value, ctx: EvalContext): Value {
  switch (r.t) {
    case 'duration':
      if (op === '+') return { t: 'duration', ns: wrap(d + r.ns) };
      if (op === '-') return { t: 'duration', ns: wrap(d - r.ns) };
      return OTHER;
    case 'number': {
      if (op === '/' && r.v === 0) return { t: 'duration', ns: 0n };
      const n = floatToInt64(r.v);
      if (n === undefined) return OTHER;
      if (op === '*') return { t: 'duration', ns: wrap(d * n) };
      if (op === '/' && n !== 0n) return { t: 'duration', ns: wrap(d / n) };
      return OTHER;
    }
    case 'integer':
      if (op === '*') return { t: 'duration', ns: wrap(d * r.v) };
      if (op === '/') return { t: 'duration', ns: r.v === 0n ? 0n : wrap(d / r.v) };
      return OTHER;
    case 'time':
      return op === '+' ? { t: 'time', ns: r.ns + d } : OTHER;
    case 'string': {
      const t = asTime(r.v, ctx);
      return t ? durationLhs(op, d, t, ctx) : OTHER;
    }
    default:
      return OTHER;
  }
}

function integerLhs(op: string, i: bigint, r: Value, ctx: EvalContext): Value {
  switch (r.t) {
    case 'number':
      return numberLhs(op, Number(i), r);
    case 'integer':
      switch (op) {
        case '+':
          return { t: 'integer', v: wrap(i + r.v) };
        case '-':
          return { t: 'integer', v: wrap(i - r.v) };
        case '*':
          return { t: 'integer', v: wrap(i * r.v) };
        case '/':
          return { t: 'number', v: r.v === 0n ? 0 : Number(i) / Number(r.v) };
        case '%':
          return { t: 'integer', v: r.v === 0n ? 0n : i % r.v };
        case '&':
          return { t: 'integer', v: wrap(i & r.v) };
        case '|':
          return { t: 'integer', v: wrap(i | r.v) };
        case '^':
          return { t: 'integer', v: wrap(i ^ r.v) };
        default:
          return OTHER;
      }
    case 'duration':
      // The integer is a timestamp.
      if (op === '+') return { t: 'time', ns: i + r.ns };
      if (op === '-') return { t: 'time', ns: i - r.ns };
      return OTHER;
    case 'time':
      return durationLhs(op, i, r, ctx);
    case 'string': {
      const t = asTime(r.v, ctx);
      return t ? durationLhs(op, i, t, ctx) : OTHER;
    }
    default:
      return OTHER;
  }
}

function numberLhs(op: string, n: number, r: Value): Value {
  let x: number;
  if (r.t === 'number') x = r.v;
  else if (r.t === 'integer') x = Number(r.v);
  else return OTHER;
  switch (op) {
    case '+':
      return { t: 'number', v: n + x };
    case '-':
      return { t: 'number', v: n - x };
    case '*':
      return { t: 'number', v: n * x };
    case '/':
      return { t: 'number', v: x === 0 ? 0 : n / x };
    case '%':
      return { t: 'number', v: n % x };
    default:
      return OTHER;
  }
}

function stringLhs(op: string, s: string, r: Value, ctx: EvalContext): Value {
  if (r.t === 'string') {
    if (op === '+') return { t: 'string', v: s + r.v };
    if (op === '=' || op === '!=') return OTHER;
  } else if (r.t !== 'duration' && r.t !== 'time' && r.t !== 'integer') {
    return OTHER;
  }
  const t = asTime(s, ctx);
  return t ? timeLhs(op, t.t === 'time' ? t.ns : 0n, r, ctx) : OTHER;
}

function timeLhs(op: string, ns: bigint, r: Value, ctx: EvalContext): Value {
  switch (r.t) {
    case 'duration':
      if (op === '+') return { t: 'time', ns: ns + r.ns };
      if (op === '-') return { t: 'time', ns: ns - r.ns };
      return OTHER;
    case 'integer':
      return timeLhs(op, ns, { t: 'duration', ns: r.v }, ctx);
    case 'time': {
      if (op !== '-') return OTHER;
      // Go's Time.Sub saturates at the Duration range.
      const d = ns - r.ns;
      return { t: 'duration', ns: d > INT64_MAX ? INT64_MAX : d < INT64_MIN ? INT64_MIN : d };
    }
    case 'string': {
      const t = asTime(r.v, ctx);
      return t ? timeLhs(op, ns, t, ctx) : OTHER;
    }
    default:
      return OTHER;
  }
}
