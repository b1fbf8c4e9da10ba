import type { ParsedStatement } from '@app/influxql';
import { countBuckets, selectLevels, selectOf, statementBuckets, type SelectLevel } from './buckets';
import { selectInfo } from './select-info';
import type { Bounds } from './time-range';

/** The guard's per-proxy settings (validated by the config layer). */
export interface GuardSettings {
  /** Refuse a statement whose GROUP BY time would make more buckets than this; 0 turns the check off. */
  maxSelectBuckets: number;
  /** Refuse a raw-point SELECT (no aggregate, no GROUP BY time) that has neither a LIMIT nor a time bound. */
  maxUnboundedRawSelect: boolean;
  /**
   * Refuse the statement at which the buckets of a request's statements, summed, pass this; 0 turns the
   * check off (as does maxSelectBuckets 0). Fifty statements of 86,400 buckets each pass maxSelectBuckets
   * one by one, but not this.
   */
  maxRequestBuckets: number;
}

/** 100,000 buckets: a few per pixel of any screen. The raw-select cap is off. */
export const DEFAULT_GUARD_SETTINGS: Readonly<GuardSettings> = Object.freeze({
  maxSelectBuckets: 100_000,
  maxUnboundedRawSelect: false,
  maxRequestBuckets: 1_000_000,
});

/**
 * Why a statement is refused. influxd answers it as that statement's error inside a 200
 * (`{"results":[…,{"statement_id":i,"error":message}]}`): the statements before it run, the ones after do not.
 */
export interface GuardRefusal {
  /** Index (in the array given to checkStatements) of the first statement refused. */
  statementIndex: number;
  /** `max-select-buckets limit exceeded: (N/M)` (influxd's wording), or the raw-select message. */
  message: string;
  /** The computed bucket count N (as a number: above 2^53 it is approximate; the message has it exactly); 0 for a raw-select refusal. */
  count: number;
  /** The limit that was exceeded: M for buckets; 0 for a raw-select refusal. */
  limit: number;
  /** Which check refused the statement (for metrics). */
  reason: 'max-select-buckets' | 'unbounded-raw-select' | 'max-request-buckets';
}

/** The raw-select refusal message; names the setting so an operator can find it. */
export const UNBOUNDED_RAW_SELECT_MESSAGE =
  'raw SELECT without LIMIT or time bound refused by the proxy (maxUnboundedRawSelect): add a WHERE time condition or a LIMIT';

/**
 * Where the data a statement can read begins (ns since the epoch), e.g. the earliest shard start of its
 * database and retention policy on the backends that would answer it; undefined when unknown. A statement
 * with no data at all may say `now` (or anything past its upper bound): it then makes no bucket.
 * Called only for a statement with a GROUP BY time level that has no lower time bound, at most once.
 */
export type DataStart = (statementIndex: number, stmt: ParsedStatement) => bigint | undefined;

/**
 * The first statement the guard refuses, or null when every statement may be forwarded.
 *
 * Checked statements: SELECT (with all its subqueries) and EXPLAIN [ANALYZE] SELECT (buckets only; influxd
 * prepares, and so bucket-checks, an EXPLAIN too). Everything else passes. Never throws: a statement whose
 * analysis fails unexpectedly is allowed.
 *
 * A SELECT level without a lower time bound counts its buckets from `dataStart` (the data that exists),
 * else from the epoch. A written lower bound counts as written (`WHERE time > 0` is counted from 1970, as
 * influxd counts it).
 */
export function checkStatements(
  stmts: readonly ParsedStatement[],
  settings: Readonly<Partial<GuardSettings>>,
  now: bigint,
  dataStart?: DataStart,
): GuardRefusal | null {
  const limit = safeLimit(settings?.maxSelectBuckets, DEFAULT_GUARD_SETTINGS.maxSelectBuckets);
  // the bucket checks go together: maxSelectBuckets 0 (no bucket limit) turns the request's off too
  const requestLimit = limit > 0 ? safeLimit(settings?.maxRequestBuckets, DEFAULT_GUARD_SETTINGS.maxRequestBuckets) : 0;
  const rawCap = settings?.maxUnboundedRawSelect ?? DEFAULT_GUARD_SETTINGS.maxUnboundedRawSelect;
  const nowNs = safeNow(now);
  let total = 0n;
  for (let i = 0; i < (stmts?.length ?? 0); i++) {
    let checked: { refusal: GuardRefusal | null; buckets: bigint } = { refusal: null, buckets: 0n };
    try {
      checked = checkStatement(stmts[i], i, limit, rawCap === true, nowNs, () => startOf(dataStart, i, stmts[i]));
    } catch {
      checked = { refusal: null, buckets: 0n };
    }
    if (checked.refusal) return checked.refusal;
    total += checked.buckets;
    if (requestLimit > 0 && total > BigInt(requestLimit)) {
      return {
        statementIndex: i,
        message: `max-select-buckets limit exceeded for the request: (${total}/${requestLimit}) over statements 1 to ${i + 1} (maxRequestBuckets)`,
        count: Number(total),
        limit: requestLimit,
        reason: 'max-request-buckets',
      };
    }
  }
  return null;
}

function checkStatement(
  stmt: ParsedStatement,
  index: number,
  limit: number,
  rawCap: boolean,
  now: bigint,
  lookupDataStart: () => bigint | undefined,
): { refusal: GuardRefusal | null; buckets: bigint } {
  const top = selectOf(stmt);
  if (!top) return { refusal: null, buckets: 0n };
  const levels = selectLevels(top, now);
  let most = 0n;

  {
    // asked only for a level that needs it (GROUP BY time without a lower bound), once per statement
    let dataStart: bigint | undefined;
    let asked = false;
    for (const level of levels) {
      if (!level.interval) continue;
      if (level.bounds.min === undefined && !asked) {
        asked = true;
        dataStart = lookupDataStart();
      }
      let n: bigint;
      try {
        n = countBuckets(level.bounds, level.interval, now, level.info.zone, dataStart);
      } catch {
        // Arithmetic surprise: count the widest range the rule allows (epoch … now).
        n = countBuckets({}, level.interval, now);
      }
      if (n > most) most = n;
    }
    if (limit > 0 && most > BigInt(limit)) {
      const refusal: GuardRefusal = {
        statementIndex: index,
        message: `max-select-buckets limit exceeded: (${most}/${limit})`,
        count: Number(most),
        limit,
        reason: 'max-select-buckets',
      };
      return { refusal, buckets: most };
    }
  }

  if (rawCap && stmt.kind === 'select' && streamsUnboundedRawPoints(levels, 0)) {
    const refusal: GuardRefusal = {
      statementIndex: index,
      message: UNBOUNDED_RAW_SELECT_MESSAGE,
      count: 0,
      limit: 0,
      reason: 'unbounded-raw-select',
    };
    return { refusal, buckets: most };
  }
  return { refusal: null, buckets: most };
}

/**
 * Whether the SELECT at `levels[at]` would stream every raw point it reads, with nothing bounding them:
 * no aggregate and no GROUP BY time, no LIMIT (LIMIT 0 is influxd's "no limit"), no time bound of its own
 * or from an enclosing SELECT, and it reads storage directly or through a subquery that does the same.
 */
function streamsUnboundedRawPoints(levels: readonly SelectLevel[], at: number): boolean {
  const level = levels[at];
  const { info } = level;
  if ((info.statement.limit ?? 0) > 0) return false;
  if (isBounded(level.bounds)) return false;
  if (info.aggregate || info.hasTimeDimension) return false;
  if (info.readsStorage) return true;
  // Subqueries are the following levels one deeper, up to the next level at this depth or shallower.
  for (let i = at + 1; i < levels.length && levels[i].depth > level.depth; i++) {
    if (levels[i].depth === level.depth + 1 && streamsUnboundedRawPoints(levels, i)) return true;
  }
  return false;
}

function isBounded(b: Bounds): boolean {
  return b.min !== undefined || b.max !== undefined;
}

/** The statement's data start, when known; a throwing lookup counts as unknown. */
function startOf(dataStart: DataStart | undefined, index: number, stmt: ParsedStatement): bigint | undefined {
  if (!dataStart) return undefined;
  try {
    const v = dataStart(index, stmt);
    return typeof v === 'bigint' ? v : undefined;
  } catch {
    return undefined;
  }
}

function safeLimit(v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return 0;
  return Math.floor(v);
}

function safeNow(now: unknown): bigint {
  if (typeof now === 'bigint') return now;
  if (typeof now === 'number' && Number.isFinite(now)) return BigInt(Math.trunc(now));
  return BigInt(Date.now()) * 1_000_000n;
}

/** The time range of a statement's own WHERE (EXPLAIN: its SELECT's). */
export interface TimeRange {
  /** Lower bound, inclusive, in ns since the epoch; 0 (the epoch) when there is none. */
  min: bigint;
  /** Upper bound, inclusive, in ns; `now` when there is none. */
  max: bigint;
  /** Which bounds the WHERE clause actually gives. */
  bounded: { lower: boolean; upper: boolean };
}

/**
 * The time range of `stmt`'s top-level WHERE conditions on `time` (not inherited by or from subqueries).
 * A missing lower bound is the epoch (0) and a missing upper bound `now`. Never throws.
 */
export function timeRange(stmt: ParsedStatement, now: bigint): TimeRange {
  const nowNs = safeNow(now);
  let bounds: Bounds = {};
  try {
    const target = selectOf(stmt) ?? stmt;
    bounds = selectInfo(target, nowNs).bounds;
  } catch {
    bounds = {};
  }
  return {
    min: bounds.min ?? 0n,
    max: bounds.max ?? nowNs,
    bounded: { lower: bounds.min !== undefined, upper: bounds.max !== undefined },
  };
}

/**
 * The number of GROUP BY time buckets `stmt` makes: the largest over its SELECT and every subquery (a subquery
 * inherits the enclosing time bounds and, when it has none, the enclosing interval); 0 when no level has a
 * GROUP BY time. Approximate above 2^53. Never throws (0 when nothing can be computed).
 */
export function bucketCount(stmt: ParsedStatement, now: bigint, dataStart?: bigint): number {
  try {
    return Number(statementBuckets(stmt, safeNow(now), dataStart));
  } catch {
    return 0;
  }
}
