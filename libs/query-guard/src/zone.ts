/**
 * Time-zone offsets for a statement's `tz('…')` clause, from the IANA database Node's Intl carries.
 * influxd uses the zone to read time literals without an explicit offset and to align GROUP BY time
 * buckets; outside those two places it changes nothing the guard computes.
 */

/** The zone's offset from UTC (east positive) at the instant `utcNs`, in nanoseconds. */
export type ZoneLookup = (utcNs: bigint) => bigint;

const NS_PER_SEC = 1_000_000_000n;
/** JS Date's range in seconds (±8.64e12). int64 nanoseconds stay far inside it. */
const DATE_LIMIT_SEC = 8_640_000_000_000n;
const MAX_CACHED = 256;
const cache = new Map<string, ZoneLookup | null>();

/**
 * The offset lookup for zone `name`, or undefined for UTC, for an empty name, and for a name Intl does not
 * know (influxd refuses such a query with `unable to find time zone`; the guard then just uses UTC).
 */
export function zoneLookup(name: string | undefined): ZoneLookup | undefined {
  if (name === undefined || name === '' || name === 'UTC') return undefined;
  const hit = cache.get(name);
  if (hit !== undefined) return hit ?? undefined;
  const lookup = makeLookup(name);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(name, lookup ?? null);
  return lookup;
}

function makeLookup(name: string): ZoneLookup | undefined {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return undefined;
  }
  const resolved = fmt.resolvedOptions().timeZone;
  if (resolved === 'UTC' || resolved === 'Etc/UTC') return undefined;

  return (utcNs: bigint): bigint => {
    const sec = floorDiv(utcNs, NS_PER_SEC);
    if (sec > DATE_LIMIT_SEC || sec < -DATE_LIMIT_SEC) return 0n;
    const s = Number(sec);
    const fields: Record<string, string> = {};
    for (const p of fmt.formatToParts(new Date(s * 1000))) fields[p.type] = p.value;
    let year = Number(fields.year);
    if (fields.era === 'BC' || fields.era === 'B') year = 1 - year;
    const wall =
      daysFromCivil(year, Number(fields.month), Number(fields.day)) * 86400 +
      Number(fields.hour) * 3600 +
      Number(fields.minute) * 60 +
      Number(fields.second);
    const offset = wall - s;
    // A garbled format (should not happen) must not move anything.
    return Number.isFinite(offset) && Math.abs(offset) < 86400 * 2 ? BigInt(offset) * NS_PER_SEC : 0n;
  };
}

/** Days from 1970-01-01 to the proleptic-Gregorian date y-m-d (any year; month 1–12). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Floor division for bigints (rounds toward −∞); `b` > 0. */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** Non-negative remainder for bigints; `b` > 0. */
export function floorMod(a: bigint, b: bigint): bigint {
  const r = a % b;
  return r < 0n ? r + b : r;
}
