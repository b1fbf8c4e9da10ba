import { daysFromCivil, type ZoneLookup } from './zone';

/**
 * influxd's string time literals (influxql `StringLiteral.ToTimeLiteral`; which strings are time literals,
 * `IsTimeLiteral`, the parser records as `StringLiteral.timeLiteral`):
 *
 * - a string matching `^\d{4}-\d{2}-\d{2}.+` is read with Go's layout `2006-01-02 15:04:05.999999`
 *   (`2023-11-14 22:13:20`, `2023-11-14 22:13:20.5`; wall time in the statement's zone) and, failing that,
 *   with `time.RFC3339Nano` (`2023-11-14T22:13:20Z`, `2023-11-14T22:13:20.123456789+01:00`);
 * - a string matching `^\d{4}-\d{2}-\d{2}$` is midnight of that date in the statement's zone.
 *
 * Go's parser rules kept: one layout space matches a run of spaces, the hour may have one digit, any number
 * of fraction digits (only the first nine count), month/day/hour/minute/second range checks (day against the
 * month's length), nothing after the last field.
 */

/** A date followed by more (Go's RE2 `.` matches anything but `\n`): read as a date-time, not a date. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[^\n]/;
const LAYOUT = /^(\d{4})-(\d{2})-(\d{2}) +(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const NS_PER_SEC = 1_000_000_000n;

/**
 * The instant `s` names, in nanoseconds since the epoch (unbounded: range checks are the caller's), or
 * undefined when influxd would answer `invalid timestamp string`. `zone` is the statement's `tz()`.
 */
export function parseTimeLiteral(s: string, zone?: ZoneLookup): bigint | undefined {
  if (DATE_TIME.test(s)) {
    const local = LAYOUT.exec(s);
    if (local) return wallToUtc(wallNs(local), zone);
    const rfc = RFC3339.exec(s);
    if (!rfc) return undefined;
    const wall = wallNs(rfc);
    if (wall === undefined) return undefined;
    if (rfc[8] === 'Z') return wall;
    const hh = Number(rfc[10]);
    const mm = Number(rfc[11]);
    if (hh > 24 || mm > 60) return undefined;
    const offset = BigInt((hh * 60 + mm) * 60) * NS_PER_SEC;
    return rfc[9] === '-' ? wall + offset : wall - offset;
  }
  const date = DATE.exec(s);
  if (date) return wallToUtc(wallNs([date[0], date[1], date[2], date[3], '0', '00', '00']), zone);
  return undefined;
}

/** Wall-clock nanoseconds (as if UTC) from regex groups year, month, day, hour, minute, second, fraction. */
function wallNs(g: ArrayLike<string | undefined>): bigint | undefined {
  const year = Number(g[1]);
  const month = Number(g[2]);
  const day = Number(g[3]);
  const hour = Number(g[4]);
  const minute = Number(g[5]);
  const second = Number(g[6]);
  if (month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysIn(month, year)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const frac = g[7] ?? '';
  const nanos = frac === '' ? 0n : BigInt(frac.slice(0, 9).padEnd(9, '0'));
  const secs = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return BigInt(secs) * NS_PER_SEC + nanos;
}

/** The instant at which the zone's clocks show `wall` (Go's `time.Date` in a location). */
function wallToUtc(wall: bigint | undefined, zone: ZoneLookup | undefined): bigint | undefined {
  if (wall === undefined || !zone) return wall;
  const guess = zone(wall);
  const utc = wall - guess;
  const actual = zone(utc);
  return actual === guess ? utc : wall - actual;
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}
