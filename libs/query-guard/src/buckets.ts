import type { ParsedStatement } from '@app/influxql';
import { selectInfo, type GroupInterval, type SelectInfo } from './select-info';
import { intersect, type Bounds } from './time-range';
import type { ZoneLookup } from './zone';

/** influxql.MinTime: the sentinel below every usable time, where influxd's Window clamps. */
const WINDOW_MIN = -9223372036854775807n;

/** One SELECT of a statement (the top one or a subquery) with what it inherits from the SELECTs around it. */
export interface SelectLevel {
  info: SelectInfo;
  /** Its own bounds intersected with those of every enclosing SELECT (influxd propagates them inward). */
  bounds: Bounds;
  /** Its own GROUP BY time interval, or else the nearest enclosing one (influxd's subquery inheritance). */
  interval?: GroupInterval;
  /** Nesting depth: 0 for the statement's own SELECT. */
  depth: number;
}

/** The SELECT a statement runs: itself, EXPLAIN's inner SELECT; undefined for anything else. */
export function selectOf(stmt: ParsedStatement): ParsedStatement | undefined {
  if (stmt.kind === 'select') return stmt;
  if (stmt.kind === 'explain' && stmt.inner && stmt.inner.kind === 'select') return stmt.inner;
  return undefined;
}

/** Every SELECT level of `top` (top first, then subqueries depth-first, in FROM order). */
export function selectLevels(top: ParsedStatement, now: bigint): SelectLevel[] {
  const out: SelectLevel[] = [];
  const visit = (stmt: ParsedStatement, outer: Bounds, outerInterval: GroupInterval | undefined, depth: number): void => {
    const info = selectInfo(stmt, now);
    const bounds = intersect(info.bounds, outer);
    const interval = info.interval ?? (info.hasTimeDimension ? undefined : outerInterval);
    const level: SelectLevel = { info, bounds, depth };
    if (interval) level.interval = interval;
    out.push(level);
    for (const sub of info.subqueries) visit(sub, bounds, interval, depth + 1);
  };
  visit(top, {}, undefined, 0);
  return out;
}

/**
 * Buckets of `interval` over [min, max] the way influxd counts them for max-select-buckets
 * (query/compile.go Prepare): first = Window(min), last = Window(max - 1), (last - first + d) / d.
 * A missing lower bound counts from `dataStart` (where the data that exists begins) or, when that is
 * unknown, from the epoch (0); a missing upper bound up to `now`. An empty range (min > max) has 0 buckets.
 */
export function countBuckets(bounds: Bounds, interval: GroupInterval, now: bigint, zone?: ZoneLookup, dataStart?: bigint): bigint {
  const d = interval.duration;
  if (d <= 0n) return 0n;
  const min = bounds.min ?? dataStart ?? 0n;
  const max = bounds.max ?? now;
  if (min > max) return 0n; // empty range (influxd's formula can still say 1 here)
  let first: bigint;
  let last: bigint;
  try {
    first = windowStart(min, interval, zone);
    last = windowStart(max - 1n, interval, zone);
  } catch {
    first = windowStart(min, interval, undefined);
    last = windowStart(max - 1n, interval, undefined);
  }
  const n = (last - first + d) / d;
  return n > 0n ? n : 0n;
}

/** influxd's IteratorOptions.Window start: `t`'s bucket, aligned to the interval, offset and zone. */
export function windowStart(time: bigint, interval: GroupInterval, zone?: ZoneLookup): bigint {
  const d = interval.duration;
  const t = time - interval.offset;
  const zoneOffset = zone ? zone(t) : 0n;
  let dt = (t + zoneOffset) % d;
  if (dt < 0n) dt += d;
  let start = WINDOW_MIN + dt >= t ? WINDOW_MIN : t - dt;
  if (zone) {
    // Re-read the offset at the bucket start (a DST change between start and t), unless it moves a whole bucket.
    const o = zoneOffset - zone(start);
    if (o !== 0n && (o < 0n ? -o : o) < d) start += o;
  }
  return start + interval.offset;
}

/** The largest bucket count over the statement's SELECT levels (0 without any GROUP BY time). */
export function statementBuckets(stmt: ParsedStatement, now: bigint, dataStart?: bigint): bigint {
  const top = selectOf(stmt);
  if (!top) return 0n;
  let most = 0n;
  for (const level of selectLevels(top, now)) {
    if (!level.interval) continue;
    const n = countBuckets(level.bounds, level.interval, now, level.info.zone, dataStart);
    if (n > most) most = n;
  }
  return most;
}
