import { parseQuery } from '@app/influxql';
import { checkStatements, DEFAULT_GUARD_SETTINGS, UNBOUNDED_RAW_SELECT_MESSAGE, type GuardSettings } from '@app/query-guard';

const NOW = 1_700_000_000_000_000_000n; // 2023-11-14T22:13:20Z
const KILLER = 'SELECT mean(v) FROM heavy WHERE time > 0 GROUP BY time(1m), host';
const RAW_CAP: GuardSettings = { maxSelectBuckets: 100_000, maxUnboundedRawSelect: true, maxRequestBuckets: 1_000_000 };

function check(q: string, settings: Partial<GuardSettings> = DEFAULT_GUARD_SETTINGS) {
  return checkStatements(parseQuery(q), settings, NOW);
}

describe('checkStatements: max-select-buckets', () => {
  it('has the defaults the issue asks for', () => {
    expect(DEFAULT_GUARD_SETTINGS).toEqual({ maxSelectBuckets: 100_000, maxUnboundedRawSelect: false, maxRequestBuckets: 1_000_000 });
  });

  it("refuses the issue's killer query with influxd's wording and the exact count", () => {
    expect(check(KILLER)).toEqual({
      statementIndex: 0,
      message: 'max-select-buckets limit exceeded: (28333334/100000)',
      count: 28_333_334,
      limit: 100_000,
      reason: 'max-select-buckets',
    });
  });

  it('allows the same query with a Grafana-style bounded range', () => {
    expect(check('SELECT mean(v) FROM heavy WHERE time >= now() - 6h and time <= now() GROUP BY time(1m), host')).toBeNull();
    expect(check('SELECT mean(v) FROM heavy WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(1m), host')).toBeNull();
  });

  it('refuses only counts above the limit', () => {
    const q = 'SELECT mean(v) FROM m WHERE time >= now() - 6h and time <= now() GROUP BY time(1m)'; // 361 buckets
    expect(check(q, { maxSelectBuckets: 361 })).toBeNull();
    expect(check(q, { maxSelectBuckets: 360 })).toMatchObject({
      message: 'max-select-buckets limit exceeded: (361/360)',
      count: 361,
      limit: 360,
    });
  });

  it('turns the bucket check off with maxSelectBuckets 0', () => {
    expect(check(KILLER, { maxSelectBuckets: 0 })).toBeNull();
  });

  it('fills missing settings with the defaults', () => {
    expect(check(KILLER, {})).toMatchObject({ limit: 100_000 });
    expect(check('SELECT * FROM m', {})).toBeNull();
  });

  it('names the first refused statement of a multi-statement query', () => {
    const refusal = check(`SHOW DATABASES; SELECT mean(v) FROM m WHERE time > now() - 1h GROUP BY time(1m); ${KILLER}; ${KILLER}`);
    expect(refusal).toMatchObject({ statementIndex: 2, count: 28_333_334 });
    expect(check('SHOW DATABASES; SELECT mean(v) FROM m WHERE time > now() - 1h GROUP BY time(1m)')).toBeNull();
    expect(checkStatements([], DEFAULT_GUARD_SETTINGS, NOW)).toBeNull();
  });

  it('refuses a query whose subquery is unbounded', () => {
    expect(check('SELECT max(m) FROM (SELECT mean(v) AS m FROM heavy WHERE time > 0 GROUP BY time(1m))')).toMatchObject({
      count: 28_333_334,
    });
    expect(check('SELECT max(m) FROM (SELECT mean(v) AS m FROM heavy GROUP BY time(1m)) WHERE time > now() - 1d')).toBeNull();
  });

  it('refuses EXPLAIN and EXPLAIN ANALYZE of an unbounded query (influxd prepares both)', () => {
    expect(check(`EXPLAIN ${KILLER}`)).toMatchObject({ statementIndex: 0, count: 28_333_334 });
    expect(check(`EXPLAIN ANALYZE ${KILLER}`)).toMatchObject({ statementIndex: 0, count: 28_333_334 });
  });

  it('lets statements that are not SELECT through', () => {
    expect(check('DELETE FROM m WHERE time > 0')).toBeNull();
    expect(check('SHOW TAG VALUES WITH KEY = host WHERE time > 0')).toBeNull();
    expect(check('CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1s) END')).toBeNull();
  });

  it('counts SELECT … INTO like any SELECT', () => {
    expect(check('SELECT mean(v) INTO m2 FROM m WHERE time > 0 GROUP BY time(1m)')).toMatchObject({ count: 28_333_334 });
  });
});

describe('checkStatements: an open lower bound counts from the data that exists', () => {
  const M = 60_000_000_000n;
  const OPEN = 'SELECT mean(usage) FROM gcpu GROUP BY time(1m)';

  it('counts from the epoch when the data start is unknown (the old rule)', () => {
    expect(checkStatements(parseQuery(OPEN), DEFAULT_GUARD_SETTINGS, NOW, () => undefined)).toMatchObject({ reason: 'max-select-buckets' });
  });

  it('counts from the data start when it is known: hours of data pass', () => {
    const start = NOW - 6n * 60n * M; // earliest shard six hours back
    expect(checkStatements(parseQuery(OPEN), DEFAULT_GUARD_SETTINGS, NOW, () => start)).toBeNull();
    // and the count is exact: 361 one-minute buckets from there to now
    expect(checkStatements(parseQuery(OPEN), { maxSelectBuckets: 360 }, NOW, () => start)).toMatchObject({
      message: 'max-select-buckets limit exceeded: (361/360)',
    });
  });

  it('still refuses data that spans more buckets than the limit', () => {
    const start = NOW - 200_000n * M;
    expect(checkStatements(parseQuery(OPEN), DEFAULT_GUARD_SETTINGS, NOW, () => start)).toMatchObject({ count: 200_001 });
  });

  it('keeps a written lower bound as written (WHERE time > 0 counts from 1970, as influxd counts it)', () => {
    expect(checkStatements(parseQuery(KILLER), DEFAULT_GUARD_SETTINGS, NOW, () => NOW - M)).toMatchObject({ count: 28_333_334 });
  });

  it('bounds an open subquery by the data start too, and asks only for statements that need it', () => {
    const q = `SHOW DATABASES; SELECT mean(v) FROM m WHERE time > now() - 1h GROUP BY time(1m); SELECT max(m) FROM (SELECT mean(v) AS m FROM heavy GROUP BY time(1m))`;
    const asked: number[] = [];
    const start = (i: number) => {
      asked.push(i);
      return NOW - 10n * M;
    };
    expect(checkStatements(parseQuery(q), DEFAULT_GUARD_SETTINGS, NOW, start)).toBeNull();
    expect(asked).toEqual([2]);
  });

  it('makes no bucket when no data exists (data start past the upper bound)', () => {
    expect(checkStatements(parseQuery(OPEN), { maxSelectBuckets: 1 }, NOW, () => NOW + M)).toBeNull();
  });

  it('takes a throwing lookup for unknown', () => {
    const boom = () => {
      throw new Error('x');
    };
    expect(checkStatements(parseQuery(OPEN), DEFAULT_GUARD_SETTINGS, NOW, boom)).toMatchObject({ reason: 'max-select-buckets' });
  });
});

describe('checkStatements: maxUnboundedRawSelect', () => {
  it('is off by default', () => {
    expect(check('SELECT * FROM m')).toBeNull();
  });

  it('refuses a raw SELECT with neither LIMIT nor a time bound, naming the setting', () => {
    const refusal = check('SELECT * FROM m', RAW_CAP);
    expect(refusal).toEqual({
      statementIndex: 0,
      message: UNBOUNDED_RAW_SELECT_MESSAGE,
      count: 0,
      limit: 0,
      reason: 'unbounded-raw-select',
    });
    expect(refusal?.message).toContain('maxUnboundedRawSelect');
    expect(check(`SELECT v, host FROM m WHERE host = 'a'`, RAW_CAP)).not.toBeNull();
    expect(check('SELECT abs(v), derivative(v) FROM m', RAW_CAP)).not.toBeNull();
    expect(check('SELECT * INTO m2 FROM m', RAW_CAP)).not.toBeNull();
  });

  it('allows a raw SELECT with a LIMIT (LIMIT 0 is no limit)', () => {
    expect(check('SELECT * FROM m LIMIT 10', RAW_CAP)).toBeNull();
    expect(check('SELECT * FROM m LIMIT 0', RAW_CAP)).not.toBeNull();
  });

  it('allows a raw SELECT with any time bound, lower or upper', () => {
    expect(check('SELECT * FROM m WHERE time > now() - 1h', RAW_CAP)).toBeNull();
    expect(check(`SELECT * FROM m WHERE time < '2023-01-01'`, RAW_CAP)).toBeNull();
  });

  it('counts a time condition under OR as no bound', () => {
    expect(check(`SELECT * FROM m WHERE time > now() - 1h OR host = 'a'`, RAW_CAP)).not.toBeNull();
  });

  it('allows aggregates and selectors', () => {
    expect(check('SELECT count(v) FROM m', RAW_CAP)).toBeNull();
    expect(check('SELECT top(v, 3) FROM m', RAW_CAP)).toBeNull();
    expect(check('SELECT DISTINCT v FROM m', RAW_CAP)).toBeNull();
  });

  it('looks at what the top SELECT streams when it reads subqueries', () => {
    expect(check('SELECT * FROM (SELECT v FROM m)', RAW_CAP)).not.toBeNull();
    expect(check('SELECT * FROM (SELECT v FROM m) WHERE time > now() - 1h', RAW_CAP)).toBeNull(); // inherited bound
    expect(check('SELECT * FROM (SELECT v FROM m WHERE time > now() - 1h)', RAW_CAP)).toBeNull();
    expect(check('SELECT * FROM (SELECT v FROM m LIMIT 5)', RAW_CAP)).toBeNull();
    expect(check('SELECT max(v) FROM (SELECT v FROM m)', RAW_CAP)).toBeNull();
    expect(check('SELECT * FROM (SELECT max(v) AS v FROM m GROUP BY host)', RAW_CAP)).toBeNull();
  });

  it('leaves EXPLAIN to the bucket check', () => {
    expect(check('EXPLAIN SELECT * FROM m', RAW_CAP)).toBeNull();
  });

  it('reports the bucket limit first when both apply, and the raw cap for a later statement', () => {
    expect(check(KILLER, RAW_CAP)).toMatchObject({ reason: 'max-select-buckets' });
    expect(check('SELECT * FROM m WHERE time > now() - 1h; SELECT * FROM m', RAW_CAP)).toMatchObject({
      statementIndex: 1,
      reason: 'unbounded-raw-select',
    });
  });
});

describe('checkStatements: maxRequestBuckets', () => {
  const DAY_BY_SECOND = 'SELECT mean(v) FROM only_a, only_b WHERE time > now() - 1d GROUP BY time(1s)';

  it("refuses the statement at which a request's buckets, summed, pass the limit", () => {
    const q = Array.from({ length: 50 }, () => DAY_BY_SECOND).join('; ');
    const refusal = check(q);
    expect(refusal).toMatchObject({ statementIndex: 11, reason: 'max-request-buckets', limit: 1_000_000 });
    expect(refusal!.message).toMatch(
      /^max-select-buckets limit exceeded for the request: \(103680\d\/1000000\) over statements 1 to 12 \(maxRequestBuckets\)$/,
    );
  });

  it('lets each statement pass alone, and is off at 0', () => {
    expect(check(DAY_BY_SECOND)).toBeNull();
    const q = Array.from({ length: 50 }, () => DAY_BY_SECOND).join('; ');
    expect(check(q, { ...DEFAULT_GUARD_SETTINGS, maxRequestBuckets: 0 })).toBeNull();
  });
});
