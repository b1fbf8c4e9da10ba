/** A write `precision` query value influxd 1.x accepts ('' — the parameter left out — means nanoseconds). */
export type Precision = 'n' | 'ns' | 'u' | 'ms' | 's' | 'm' | 'h';

/** Every accepted precision value, '' (nanoseconds) included. */
export const PRECISIONS: readonly (Precision | '')[] = ['', 'n', 'ns', 'u', 'ms', 's', 'm', 'h'];

export function isValidPrecision(p: string): p is Precision | '' {
  switch (p) {
    case '':
    case 'n':
    case 'ns':
    case 'u':
    case 'ms':
    case 's':
    case 'm':
    case 'h':
      return true;
    default:
      return false;
  }
}

/**
 * The write precision a `/write?precision=` value stands for; undefined when influxd 1.8 refuses it.
 * `rfc3339` (what the influx CLI sends after `precision rfc3339`) is nanoseconds: influxd 1.6 takes
 * any precision it does not know as nanoseconds, and answers 204 to it.
 */
export function writePrecisionOf(p: string): Precision | '' | undefined {
  if (isValidPrecision(p)) return p;
  return p === 'rfc3339' ? 'n' : undefined;
}

const NS_PER_MS = 1_000_000n;
/** Re-anchor when the derived clock and the wall clock disagree by more than this (a stepped clock). */
const MAX_SKEW_NS = 2_000_000n;

/**
 * Turns a (wall clock, monotonic clock) reading into "now" in a write precision, finer than
 * `Date.now()` allows. The first reading with an hrtime becomes the origin; later readings are
 * origin + hrtime delta, so nanosecond and microsecond stamps keep sub-millisecond resolution. When the
 * result drifts more than 2 ms from the wall clock (the system clock was stepped), the origin moves to
 * the new reading. With an hrtime, nanosecond results never repeat nor step back by less than 2 ms
 * (larger backwards steps of the wall clock are followed).
 */
export class TimestampClock {
  private originWallNs = 0n;
  private originHr = 0n;
  private anchored = false;
  private lastNs = 0n;

  /**
   * @param epochMs  `Date.now()` taken when the request arrived
   * @param hrtimeNs `process.hrtime.bigint()` taken at the same moment, or undefined (then ns/u are
   *                 whole milliseconds padded with zeros)
   * @param precision the request's precision ('' = nanoseconds)
   * @returns the decimal timestamp in that unit; 's', 'm' and 'h' are floored, as influxd truncates
   *          its own `now` to the precision
   */
  timestampFor(epochMs: number, hrtimeNs: bigint | undefined, precision: Precision | ''): string {
    const ms = Math.floor(epochMs);
    switch (precision) {
      case 'ms':
        return String(ms);
      case 's':
        return String(Math.floor(ms / 1000));
      case 'm':
        return String(Math.floor(ms / 60_000));
      case 'h':
        return String(Math.floor(ms / 3_600_000));
      case 'u':
        return String(this.nowNs(ms, hrtimeNs) / 1000n);
      default:
        return String(this.nowNs(ms, hrtimeNs));
    }
  }

  private nowNs(ms: number, hrtimeNs: bigint | undefined): bigint {
    const wallNs = BigInt(ms) * NS_PER_MS;
    if (hrtimeNs === undefined) return wallNs;
    if (!this.anchored) {
      this.originWallNs = wallNs;
      this.originHr = hrtimeNs;
      this.anchored = true;
    }
    let ns = this.originWallNs + (hrtimeNs - this.originHr);
    const skew = ns - wallNs;
    if (skew > MAX_SKEW_NS || skew < -MAX_SKEW_NS) {
      this.originWallNs = wallNs;
      this.originHr = hrtimeNs;
      ns = wallNs;
    }
    // Never repeat or step back by a little (re-anchoring, readings taken out of order); a large
    // backwards step of the wall clock is followed.
    if (ns <= this.lastNs && this.lastNs - ns <= MAX_SKEW_NS) ns = this.lastNs + 1n;
    this.lastNs = ns;
    return ns;
  }
}

const processClock = new TimestampClock();

/**
 * "Now" in `precision`, as the decimal string to append to lines that carry no timestamp; one shared
 * {@link TimestampClock} per process. Call it once per request (with the request's arrival readings)
 * and reuse the string for all of its lines.
 * @example timestampFor(Date.now(), process.hrtime.bigint(), 'ms') // '1700000000123'
 */
export function timestampFor(epochMs: number, hrtimeNs: bigint | undefined, precision: Precision | ''): string {
  return processClock.timestampFor(epochMs, hrtimeNs, precision);
}
