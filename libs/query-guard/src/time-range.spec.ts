import { parseQuery } from '@app/influxql';
import { timeRange } from '@app/query-guard';

/** 2023-11-14T22:13:20Z. */
const NOW = 1_700_000_000_000_000_000n;
const NS = 1n;
const US = 1_000n;
const MS = 1_000_000n;
const S = 1_000_000_000n;
const M = 60n * S;
const H = 60n * M;
const D = 24n * H;
const W = 7n * D;

type Params = Record<string, unknown>;

function rangeOf(where: string, params?: Params, suffix = '') {
  const [stmt] = parseQuery(`SELECT mean(v) FROM m WHERE ${where} GROUP BY time(1m)${suffix}`, { params });
  return timeRange(stmt, NOW);
}

function bounds(where: string, params?: Params, suffix = ''): [bigint | undefined, bigint | undefined] {
  const r = rangeOf(where, params, suffix);
  return [r.bounded.lower ? r.min : undefined, r.bounded.upper ? r.max : undefined];
}

describe('timeRange: values', () => {
  it('reads now() - 1h as a lower bound one nanosecond past the value (>)', () => {
    expect(bounds('time > now() - 1h')).toEqual([NOW - H + 1n, undefined]);
  });

  it('reads an RFC3339 string literal', () => {
    expect(bounds(`time >= '2023-11-14T22:13:20Z'`)).toEqual([NOW, undefined]);
  });

  it('reads RFC3339 with fractional seconds (nine digits count, more are dropped) and with offsets', () => {
    expect(bounds(`time >= '2023-11-14T22:13:20.5Z'`)[0]).toBe(NOW + 500n * MS);
    expect(bounds(`time >= '2023-11-14T22:13:20.123456789123Z'`)[0]).toBe(NOW + 123_456_789n);
    expect(bounds(`time >= '2023-11-14T23:13:20+01:00'`)[0]).toBe(NOW);
    expect(bounds(`time >= '2023-11-14T17:43:20-04:30'`)[0]).toBe(NOW);
  });

  it("reads influxd's other string forms: date only, and 'YYYY-MM-DD HH:MM:SS[.frac]' (UTC without tz())", () => {
    expect(bounds(`time >= '2023-11-14'`)[0]).toBe(NOW - 22n * H - 13n * M - 20n * S);
    expect(bounds(`time >= '2023-11-14 22:13:20'`)[0]).toBe(NOW);
    expect(bounds(`time >= '2023-11-14   22:13:20.25'`)[0]).toBe(NOW + 250n * MS);
    expect(bounds(`time >= '2023-11-14 2:13:20'`)[0]).toBe(NOW - 20n * H);
  });

  it('gives no bound for a string influxd refuses as a timestamp (influxd answers an error)', () => {
    expect(bounds(`time >= '2023-02-30T00:00:00Z'`)).toEqual([undefined, undefined]);
    expect(bounds(`time >= '2023-11-14T22:13:20'`)).toEqual([undefined, undefined]);
    expect(bounds(`time >= '2023-11-14x'`)).toEqual([undefined, undefined]);
    expect(bounds(`time >= 'yesterday'`)).toEqual([undefined, undefined]);
    expect(bounds(`time >= '1500-01-01T00:00:00Z'`)).toEqual([undefined, undefined]);
  });

  it('reads an integer as epoch nanoseconds', () => {
    expect(bounds('time >= 1700000000000000000')).toEqual([NOW, undefined]);
    expect(bounds('time >= -1000')).toEqual([-1000n, undefined]);
    expect(bounds('time > 0')).toEqual([1n, undefined]);
  });

  it('reads an integer with a duration unit as a time since the epoch', () => {
    expect(bounds('time >= 1700000000000ms')).toEqual([NOW, undefined]);
    expect(bounds('time >= 1700000000s')).toEqual([NOW, undefined]);
    expect(bounds('time >= 1700000000000000u')).toEqual([NOW, undefined]);
  });

  it.each([
    ['1ns', NS],
    ['1u', US],
    ['1µ', US],
    ['1ms', MS],
    ['1s', S],
    ['1m', M],
    ['1h', H],
    ['1d', D],
    ['1w', W],
    ['1h30m', H + 30n * M],
    ['2w3d4h5m6s7ms8u9ns', 2n * W + 3n * D + 4n * H + 5n * M + 6n * S + 7n * MS + 8n * US + 9n],
  ])('reads the duration %s', (literal, ns) => {
    expect(bounds(`time >= now() - ${literal}`)[0]).toBe(NOW - ns);
  });

  it('does ± duration arithmetic on now(), string literals, integers and durations', () => {
    expect(bounds('time >= now() - 1h + 30m')[0]).toBe(NOW - 30n * M);
    expect(bounds(`time >= '2023-11-14T22:13:20Z' - 1h`)[0]).toBe(NOW - H);
    expect(bounds(`time >= '2023-11-14T22:13:20Z' + 1d`)[0]).toBe(NOW + D);
    expect(bounds('time >= 1700000000000000000 - 1h')[0]).toBe(NOW - H);
    expect(bounds('time >= 1700000000s + 1h')[0]).toBe(NOW + H);
    expect(bounds('time >= now() - 2 * 1h')).toEqual([undefined, undefined]); // influxd: integer * duration does not reduce
    expect(bounds('time >= now() - 1h * 2')[0]).toBe(NOW - 2n * H);
    expect(bounds('time >= now() - (1h + 1h)')[0]).toBe(NOW - 2n * H);
  });

  it('gives no bound for a value that is not a time (field references, other functions)', () => {
    expect(bounds('time > other')).toEqual([undefined, undefined]);
    expect(bounds('time > mean(v)')).toEqual([undefined, undefined]);
    expect(bounds('time > true')).toEqual([undefined, undefined]);
  });
});

describe('timeRange: comparisons and conditions', () => {
  it('combines time > x AND time < y into both bounds (strict comparisons move one nanosecond)', () => {
    expect(bounds(`time > '2023-11-14T00:00:00Z' AND time < '2023-11-15T00:00:00Z'`)).toEqual([
      NOW - 22n * H - 13n * M - 20n * S + 1n,
      NOW + H + 46n * M + 40n * S - 1n,
    ]);
  });

  it('reads >=, <= and = inclusively', () => {
    expect(bounds('time >= 10 AND time <= 20')).toEqual([10n, 20n]);
    expect(bounds('time = 15')).toEqual([15n, 15n]);
  });

  it('reads the mirrored forms (value on the left)', () => {
    expect(bounds('now() - 1h < time')).toEqual([NOW - H + 1n, undefined]);
    expect(bounds('now() - 1h <= time')).toEqual([NOW - H, undefined]);
    expect(bounds(`'2023-11-14T22:13:20Z' > time`)).toEqual([undefined, NOW - 1n]);
    expect(bounds(`'2023-11-14T22:13:20Z' >= time`)).toEqual([undefined, NOW]);
    expect(bounds('20 = time')).toEqual([20n, 20n]);
  });

  it('intersects conditions joined by AND (largest lower bound, smallest upper bound)', () => {
    expect(bounds('time > now() - 2h AND time > now() - 1h AND time < now() AND time <= now() + 1h')).toEqual([NOW - H + 1n, NOW - 1n]);
  });

  it('treats OR as unbounded, even where influxd would intersect', () => {
    expect(bounds('time > now() - 1h OR time < now() - 2h')).toEqual([undefined, undefined]);
    expect(bounds(`time > now() - 1h OR host = 'a'`)).toEqual([undefined, undefined]);
    expect(bounds(`time <= now() AND (time > now() - 1h OR host = 'a')`)).toEqual([undefined, NOW]);
  });

  it('looks through parentheses and ignores conditions that are not on time', () => {
    expect(bounds(`(("host" = 'a') AND (time >= now() - 6h)) AND (value > 3 AND time <= now())`)).toEqual([NOW - 6n * H, NOW]);
    expect(bounds(`host = 'a' AND region =~ /eu-.*/`)).toEqual([undefined, undefined]);
  });

  it('recognises a quoted or cast time reference, but not a qualified one', () => {
    expect(bounds('"time" > 5')).toEqual([6n, undefined]);
    expect(bounds('"TIME" > 5')).toEqual([6n, undefined]);
    expect(bounds('m.time > 5')).toEqual([undefined, undefined]);
  });

  it('gives no bound for operators influxd does not accept on time', () => {
    expect(bounds('time != 5')).toEqual([undefined, undefined]);
    expect(bounds('time + 1h > now()')).toEqual([undefined, undefined]);
  });

  it('uses 0 and now() for missing bounds', () => {
    expect(rangeOf(`host = 'a'`)).toEqual({ min: 0n, max: NOW, bounded: { lower: false, upper: false } });
    const [stmt] = parseQuery('SELECT * FROM m');
    expect(timeRange(stmt, NOW)).toEqual({ min: 0n, max: NOW, bounded: { lower: false, upper: false } });
  });

  it('reads the WHERE of the SELECT an EXPLAIN wraps', () => {
    const [stmt] = parseQuery('EXPLAIN ANALYZE SELECT mean(v) FROM m WHERE time >= now() - 1h GROUP BY time(1m)');
    expect(timeRange(stmt, NOW)).toEqual({ min: NOW - H, max: NOW, bounded: { lower: true, upper: false } });
  });

  it('reads only the top-level WHERE (a subquery condition is not the statement range)', () => {
    const [stmt] = parseQuery('SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu WHERE time > now() - 1h GROUP BY time(1m))');
    expect(timeRange(stmt, NOW).bounded).toEqual({ lower: false, upper: false });
  });
});

describe('timeRange: bound parameters and tz()', () => {
  it('reads bound parameters, which parseQuery(q, { params }) has already substituted', () => {
    // eslint-disable-next-line no-loss-of-precision -- the point of the case: a JSON number this large arrives rounded
    expect(bounds('time >= $from AND time <= $to', { from: '2023-11-14T22:13:20Z', to: 1700000000000000001 })).toEqual([
      NOW,
      NOW, // JSON numbers arrive as doubles: 1700000000000000001 is not representable
    ]);
    expect(bounds('time >= now() - $ago', { ago: { duration: '1h' } })).toEqual([NOW - H, undefined]);
    expect(bounds('time >= $t', { t: { integer: 5 } })).toEqual([5n, undefined]);
    expect(bounds('$col >= 5', { col: { identifier: 'time' } })).toEqual([5n, undefined]);
  });

  it("reads literals without an offset in the statement's tz() zone, and RFC3339 with Z as UTC", () => {
    // America/Chicago is UTC-6 in November.
    const tz = ` tz('America/Chicago')`;
    expect(bounds(`time >= '2023-11-14 16:13:20'`, undefined, tz)[0]).toBe(NOW);
    expect(bounds(`time >= '2023-11-14'`, undefined, tz)[0]).toBe(NOW - 16n * H - 13n * M - 20n * S);
    expect(bounds(`time >= '2023-11-14T22:13:20Z'`, undefined, tz)[0]).toBe(NOW);
    // Daylight time (UTC-5) in July.
    expect(bounds(`time >= '2023-07-01 00:00:00'`, undefined, tz)[0]).toBe(1688187600n * S);
  });

  it('falls back to UTC for a zone it does not know', () => {
    expect(bounds(`time >= '2023-11-14 22:13:20'`, undefined, ` tz('Nowhere/Special')`)[0]).toBe(NOW);
  });
});
