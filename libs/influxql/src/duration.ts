import { INT64_MAX } from './operators';

/** Nanoseconds per InfluxQL duration unit. */
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  u: 1_000n,
  µ: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

/** Why a duration literal is not valid, in influxd's words; undefined when it is valid. */
export function durationError(text: string): string | undefined {
  const r = parseDurationNs(text);
  return typeof r === 'string' ? r : undefined;
}

/**
 * A duration literal (`10s`, `1h30m`, `-5m`, `100µ`, `2w`) in nanoseconds, as a bigint.
 * Units: ns, u/µ (microseconds), ms, s, m, h, d, w; several `<digits><unit>` terms may follow each other.
 * Returns undefined for text influxd would refuse (bad unit, missing digits, int64 overflow).
 */
export function parseDuration(text: string): bigint | undefined {
  const r = parseDurationNs(text);
  return typeof r === 'bigint' ? r : undefined;
}

function parseDurationNs(text: string): bigint | string {
  if (text.length < 2) return 'invalid duration';
  let i = 0;
  let negative = false;
  if (text[0] === '-') {
    negative = true;
    i++;
  }
  let total = 0n;
  let lastTerm = '';
  while (i < text.length) {
    const start = i;
    while (i < text.length && text[i] >= '0' && text[i] <= '9') i++;
    if (i >= text.length || i === start) return 'invalid duration';
    const digits = text.slice(start, i);
    const n = BigInt(digits);
    if (n > INT64_MAX) return 'invalid duration';
    let unit = text[i];
    if ((unit === 'n' || unit === 'm') && text[i + 1] === 's') unit += 's';
    else if (unit === 'n') return 'invalid duration';
    const ns = UNIT_NS[unit];
    if (ns === undefined) return 'invalid duration';
    i += unit.length;
    // influxd adds in wrapping int64 arithmetic and only notices an overflow that ends negative.
    total = BigInt.asIntN(64, total + BigInt.asIntN(64, n * ns));
    lastTerm = digits + unit;
  }
  if (total < 0n && !negative) {
    return `overflowed duration ${lastTerm}: choose a smaller duration or INF`;
  }
  return negative ? -total : total;
}
