import { parseQuery } from '@app/influxql';
import { bucketCount } from '@app/query-guard';

/** 2023-11-14T22:13:20Z: a multiple of 20s, not of a minute. */
const NOW = 1_700_000_000_000_000_000n;
const MINUTES_SINCE_1970 = 28_333_334; // buckets 0 … floor((NOW - 1ns) / 1m), both included

function count(q: string, now = NOW, params?: Record<string, unknown>): number {
  const [stmt] = parseQuery(q, { params });
  return bucketCount(stmt, now);
}

describe('bucketCount: one SELECT', () => {
  it('is 0 without GROUP BY time', () => {
    expect(count('SELECT mean(v) FROM m WHERE time > 0')).toBe(0);
    expect(count('SELECT mean(v) FROM m WHERE time > 0 GROUP BY host')).toBe(0);
    expect(count('SELECT * FROM m')).toBe(0);
    expect(count('SHOW DATABASES')).toBe(0);
  });

  it("counts the issue's killer query from the epoch to now: one bucket per minute since 1970", () => {
    expect(count('SELECT mean(v) FROM heavy WHERE time > 0 GROUP BY time(1m), host')).toBe(MINUTES_SINCE_1970);
  });

  it('counts from the epoch when there is no lower bound, and up to now when there is no upper bound', () => {
    expect(count('SELECT mean(v) FROM m GROUP BY time(1m)')).toBe(MINUTES_SINCE_1970);
    expect(count('SELECT mean(v) FROM m WHERE time <= now() GROUP BY time(1m)')).toBe(MINUTES_SINCE_1970);
    expect(count('SELECT mean(v) FROM m WHERE time >= now() - 1h GROUP BY time(1m)')).toBe(61);
  });

  it('counts Grafana-style relative ranges exactly', () => {
    const q = (interval: string) =>
      `SELECT mean("value") FROM "cpu" WHERE ("host" = 'a') AND time >= now() - 6h and time <= now() GROUP BY time(${interval}), "host" fill(null)`;
    expect(count(q('20s'))).toBe(1080); // now is on a 20s boundary: the bucket starting at now is not counted
    expect(count(q('20s'), NOW + 7_000_000_000n)).toBe(1081);
    expect(count(q('1m'))).toBe(361);
    expect(count(q('1h'))).toBe(7);
  });

  it('counts Grafana-style absolute millisecond ranges exactly', () => {
    const q = `SELECT mean("usage_idle") FROM "autogen"."cpu" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(1m) fill(null)`;
    expect(count(q)).toBe(61);
  });

  it("matches influxd's own max-select-buckets test (4 buckets)", () => {
    expect(
      count(`SELECT count(value) FROM cpu WHERE time >= '2000-01-01T00:00:05Z' AND time < '2000-01-01T00:00:35Z' GROUP BY time(10s)`),
    ).toBe(4);
  });

  it('shifts bucket boundaries by the GROUP BY time offset: time(10s, 5s)', () => {
    const range = 'WHERE time >= 0 AND time < 60s';
    expect(count(`SELECT mean(v) FROM m ${range} GROUP BY time(10s)`)).toBe(6);
    expect(count(`SELECT mean(v) FROM m ${range} GROUP BY time(10s, 5s)`)).toBe(7); // [-5s,5s) … [55s,65s)
    expect(count(`SELECT mean(v) FROM m ${range} GROUP BY time(10s, 15s)`)).toBe(7); // offset modulo interval
    expect(count(`SELECT mean(v) FROM m ${range} GROUP BY time(10s, -5s)`)).toBe(7);
    expect(count(`SELECT mean(v) FROM m ${range} GROUP BY time(10s, 10s)`)).toBe(6);
  });

  it('takes an offset of now() or a time literal relative to the interval boundary', () => {
    // now is 20s past a minute: offset 20s makes now - 6h a bucket start.
    expect(count('SELECT mean(v) FROM m WHERE time >= now() - 6h AND time <= now() GROUP BY time(1m, now())')).toBe(360);
    expect(
      count(
        `SELECT mean(v) FROM m WHERE time >= '2023-11-14T00:00:00Z' AND time < '2023-11-15T00:00:00Z' GROUP BY time(1h, '2023-11-14T22:15:00Z')`,
      ),
    ).toBe(25);
  });

  it('is 0 for an empty range or an interval influxd would refuse', () => {
    expect(count('SELECT mean(v) FROM m WHERE time > now() + 1h GROUP BY time(1m)')).toBe(0);
    expect(count('SELECT mean(v) FROM m WHERE time > 10 AND time < 5 GROUP BY time(1m)')).toBe(0);
    expect(count('SELECT mean(v) FROM m GROUP BY time(0s)')).toBe(0);
    expect(count('SELECT mean(v) FROM m GROUP BY time(-1m)')).toBe(0);
  });

  it('counts every nanosecond bucket without losing its way (huge counts stay numbers)', () => {
    expect(count('SELECT mean(v) FROM m WHERE time > 0 GROUP BY time(1ns)')).toBe(Number(NOW));
  });

  it('treats OR on time as unbounded', () => {
    expect(count('SELECT mean(v) FROM m WHERE time > now() - 1h OR time < now() - 2h GROUP BY time(1m)')).toBe(MINUTES_SINCE_1970);
  });

  it('reads a bound-parameter interval and range (parseQuery substitutes them)', () => {
    const q = 'SELECT mean(v) FROM m WHERE time >= now() - $range GROUP BY time($interval)';
    expect(count(q, NOW, { range: { duration: '1h' }, interval: { duration: '1m' } })).toBe(61);
  });
});

describe('bucketCount: tz()', () => {
  const twoUtcDays = `WHERE time >= '2023-11-14T00:00:00Z' AND time < '2023-11-16T00:00:00Z' GROUP BY time(1d)`;

  it('aligns day buckets to local midnight', () => {
    expect(count(`SELECT mean(v) FROM m ${twoUtcDays}`)).toBe(2);
    expect(count(`SELECT mean(v) FROM m ${twoUtcDays} tz('America/Chicago')`)).toBe(3);
  });

  it('keeps day buckets on local midnight across a daylight-saving change', () => {
    // Chicago leaves daylight time on 2023-11-05: local midnights are 05:00Z on the 4th and 5th, 06:00Z on the 6th.
    const q = `SELECT mean(v) FROM m WHERE time >= '2023-11-04T12:00:00Z' AND time <= '2023-11-06T12:00:00Z' GROUP BY time(1d) tz('America/Chicago')`;
    expect(count(q)).toBe(3);
  });
});

describe('bucketCount: subqueries and EXPLAIN', () => {
  it('lets a subquery without a time condition inherit the outer range', () => {
    expect(count('SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(1m)) WHERE time >= now() - 1h')).toBe(61);
  });

  it('counts an unbounded subquery from the epoch when nothing bounds it', () => {
    expect(count('SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(1m))')).toBe(MINUTES_SINCE_1970);
  });

  it('intersects a subquery range with the outer range', () => {
    expect(
      count('SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu WHERE time >= now() - 1d GROUP BY time(1m)) WHERE time >= now() - 1h'),
    ).toBe(61);
    expect(
      count('SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu WHERE time >= now() - 10m GROUP BY time(1m)) WHERE time >= now() - 1h'),
    ).toBe(11);
  });

  it('takes the largest count over the outer SELECT and every subquery', () => {
    // outer: 2 hour buckets; inner: 3600 second buckets over the inherited hour.
    expect(count('SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(1s)) WHERE time >= now() - 1h GROUP BY time(1h)')).toBe(
      3600,
    );
    expect(
      count(
        'SELECT max(a) FROM (SELECT mean(v) AS a FROM cpu WHERE time >= now() - 10m GROUP BY time(10s)), (SELECT mean(v) AS a FROM mem GROUP BY time(1s)) WHERE time >= now() - 1h GROUP BY time(1m)',
      ),
    ).toBe(3600);
  });

  it('propagates the outer range through nested subqueries', () => {
    expect(count('SELECT * FROM (SELECT * FROM (SELECT mean(v) FROM cpu GROUP BY time(1s))) WHERE time >= now() - 1m')).toBe(60);
  });

  it('gives a raw subquery the outer interval without adding buckets beyond the outer count', () => {
    expect(count('SELECT mean(v) FROM (SELECT v FROM cpu) WHERE time >= now() - 1h GROUP BY time(1m)')).toBe(61);
  });

  it('counts the SELECT that EXPLAIN and EXPLAIN ANALYZE wrap', () => {
    expect(count('EXPLAIN SELECT mean(v) FROM m WHERE time > 0 GROUP BY time(1m)')).toBe(MINUTES_SINCE_1970);
    expect(count('EXPLAIN ANALYZE SELECT mean(v) FROM m WHERE time >= now() - 1h GROUP BY time(1m)')).toBe(61);
  });

  it('does not count a continuous query body (nothing runs at CREATE time)', () => {
    expect(count('CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1s) END')).toBe(0);
  });
});
