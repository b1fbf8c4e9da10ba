import fc from 'fast-check';
import { InfluxQLParseError, parseQuery, type ParsedStatement } from '@app/influxql';
import { bucketCount, checkStatements, timeRange, type GuardSettings } from '@app/query-guard';

/**
 * The guard must never throw, whatever a client sends, and its count must match a direct computation
 * for simple ranges. Queries that do not parse are filtered out (the proxy answers those with a parse error).
 */

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function parseOrNull(q: string, params?: Record<string, unknown>): ParsedStatement[] | null {
  try {
    return parseQuery(q, { params });
  } catch (err) {
    if (err instanceof InfluxQLParseError) return null;
    throw err;
  }
}

const settingsArb: fc.Arbitrary<Partial<GuardSettings>> = fc.record(
  {
    maxSelectBuckets: fc.oneof(
      fc.constantFrom(0, 1, 100_000, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60),
      fc.integer({ min: 0, max: 10_000_000 }),
    ),
    maxUnboundedRawSelect: fc.boolean(),
  },
  { requiredKeys: [] },
);

const nowArb = fc.oneof(fc.constant(1_700_000_000_000_000_000n), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }));

function expectGuardHolds(stmts: ParsedStatement[], settings: Partial<GuardSettings>, now: bigint): void {
  const refusal = checkStatements(stmts, settings, now);
  if (refusal !== null) {
    expect(refusal.statementIndex).toBeGreaterThanOrEqual(0);
    expect(refusal.statementIndex).toBeLessThan(stmts.length);
    expect(typeof refusal.message).toBe('string');
    if (refusal.reason === 'max-select-buckets') {
      expect(refusal.message).toMatch(/^max-select-buckets limit exceeded: \(\d+\/\d+\)$/);
      expect(refusal.count).toBeGreaterThan(refusal.limit);
    }
  }
  for (const s of stmts) {
    const r = timeRange(s, now);
    expect(typeof r.min).toBe('bigint');
    expect(typeof r.max).toBe('bigint');
    expect(bucketCount(s, now)).toBeGreaterThanOrEqual(0);
  }
}

// ------------------------------------------------------------------------------------------------
// Fragment-built SELECTs

const unitArb = fc.constantFrom('ns', 'u', 'µ', 'ms', 's', 'm', 'h', 'd', 'w');
const durationArb = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 100_000 }), unitArb).map(([n, u]) => `${n}${u}`),
  fc.constantFrom('1h30m', '9223372036854775807ns', '106751d', '15250w', '0s'),
);
const dateStringArb = fc.oneof(
  fc.date({ min: new Date(-10_000_000_000_000), max: new Date(10_000_000_000_000), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '2023-11-14',
    '2023-11-14 22:13:20',
    '2023-11-14 22:13:20.123',
    '2023-02-30',
    '2023-11-14x',
    'not a date',
    '',
    '1677-09-21T00:12:43.145224194Z',
  ),
);
const integerArb = fc
  .oneof(fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }), fc.constantFrom(0n, 1n, -1n, INT64_MAX, INT64_MIN, 1_700_000_000_000_000_000n))
  .map((n) => n.toString());

const valueArb: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant('now()'),
    durationArb,
    integerArb,
    fc.double({ noNaN: true }).map((x) => String(x)),
    dateStringArb.map((s) => `'${s}'`),
    fc.constantFrom('$p', '$q', 'other', 'mean(v)', 'true', 'now(1)'),
    fc.tuple(tie('value'), fc.constantFrom('+', '-', '*', '/', '%'), tie('value')).map(([a, op, b]) => `${a} ${op} ${b}`),
    tie('value').map((v) => `(${v})`),
  ),
})).value;

const comparisonArb = fc.constantFrom('>', '>=', '<', '<=', '=', '!=');
const conditionArb: fc.Arbitrary<string> = fc.letrec<{ cond: string }>((tie) => ({
  cond: fc.oneof(
    { depthSize: 'small' },
    fc.tuple(comparisonArb, valueArb).map(([op, v]) => `time ${op} ${v}`),
    fc.tuple(comparisonArb, valueArb).map(([op, v]) => `${v} ${op} time`),
    fc.constantFrom(`host = 'a'`, 'v > 3', `region =~ /eu.*/`, 'true', '"time" >= now() - 1h'),
    fc.tuple(tie('cond'), fc.constantFrom('AND', 'OR', 'and'), tie('cond')).map(([a, op, b]) => `${a} ${op} ${b}`),
    tie('cond').map((c) => `(${c})`),
  ),
})).cond;

const fieldsArb = fc.constantFrom(
  'mean(v)',
  '*',
  'v',
  'count(v)',
  'abs(v)',
  'DISTINCT v',
  'top(v, 3)',
  'derivative(mean(v), 1s)',
  'v, host',
);
const groupByArb = fc.oneof(
  fc.constant(''),
  durationArb.map((d) => ` GROUP BY time(${d})`),
  fc
    .tuple(
      durationArb,
      fc.oneof(
        durationArb,
        durationArb.map((d) => `-${d}`),
        fc.constant('now()'),
        dateStringArb.map((s) => `'${s}'`),
      ),
    )
    .map(([d, o]) => ` GROUP BY time(${d}, ${o})`),
  durationArb.map((d) => ` GROUP BY time(${d}), host`),
  fc.constantFrom(' GROUP BY host', ' GROUP BY time($p)', ' GROUP BY *'),
);
const tailArb = fc
  .tuple(
    fc.constantFrom('', ' fill(null)', ' fill(0)'),
    fc.constantFrom('', ' LIMIT 0', ' LIMIT 10'),
    fc.constantFrom('', ` tz('America/Chicago')`, ` tz('UTC')`, ` tz('Nowhere/Else')`, ` tz('Asia/Kolkata')`),
  )
  .map((parts) => parts.join(''));

const selectArb: fc.Arbitrary<string> = fc.letrec<{ select: string }>((tie) => ({
  select: fc
    .tuple(
      fieldsArb,
      fc.oneof(
        { depthSize: 'small' },
        fc.constant('m'),
        tie('select').map((s) => `(${s})`),
      ),
      fc.option(conditionArb, { nil: undefined }),
      groupByArb,
      tailArb,
    )
    .map(([fields, from, where, group, tail]) => `SELECT ${fields} FROM ${from}${where ? ` WHERE ${where}` : ''}${group}${tail}`),
})).select;

const statementArb = fc.tuple(fc.constantFrom('', 'EXPLAIN ', 'EXPLAIN ANALYZE '), selectArb).map(([p, s]) => p + s);
const queryArb = fc
  .array(fc.oneof(statementArb, fc.constantFrom('SHOW DATABASES', 'DELETE FROM m WHERE time > 0')), { minLength: 1, maxLength: 3 })
  .map((a) => a.join('; '));

const paramsArb = fc.option(
  fc.record(
    {
      p: fc.oneof(
        fc.string(),
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant({ duration: '1m' }),
        fc.constant({ identifier: 'time' }),
        fc.constant({ nonsense: 1 }),
      ),
      q: fc.oneof(dateStringArb, fc.constant({ duration: '1h' })),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

describe('query guard properties', () => {
  it('never throws on fragment-built SELECTs (random WHERE / GROUP BY pieces, subqueries, EXPLAIN)', () => {
    let parsed = 0;
    fc.assert(
      fc.property(queryArb, paramsArb, settingsArb, nowArb, (q, params, settings, now) => {
        const stmts = parseOrNull(q, params);
        if (stmts === null) return;
        parsed++;
        expectGuardHolds(stmts, settings, now);
      }),
      { numRuns: 400 },
    );
    // The generators must mostly produce queries that parse, or this test proves little.
    expect(parsed).toBeGreaterThan(100);
  });

  it('never throws on arbitrary strings that parse', () => {
    // prettier-ignore
    const words = fc.constantFrom(
      'SELECT', 'mean(v)', '*', 'FROM', 'm', '(', ')', 'WHERE', 'time', '>', '>=', '<', '=', '-', '+', 'now()', '1h', '1m',
      '0', '1700000000000ms', "'2023-11-14T22:13:20Z'", 'AND', 'OR', 'GROUP', 'BY', 'time(1m)', 'time(10s, 5s)', ',', 'host',
      'LIMIT', '1', 'EXPLAIN', 'ANALYZE', ';', "tz('UTC')", 'fill(null)',
    );
    const textArb = fc.oneof(
      fc.array(words, { maxLength: 25 }).map((w) => w.join(' ')),
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `SELECT v FROM m WHERE time > ${s}`),
    );
    fc.assert(
      fc.property(textArb, settingsArb, nowArb, (q, settings, now) => {
        const stmts = parseOrNull(q);
        if (stmts === null) return;
        expectGuardHolds(stmts, settings, now);
      }),
      { numRuns: 400 },
    );
  });

  it('counts exactly the buckets [min, max - 1ns] touches (influxd Window arithmetic) for simple ranges', () => {
    const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n ? a / b - 1n : a / b);
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
        fc.bigInt({ min: 0n, max: 10n ** 13n }),
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (min, span, interval, rawOffset) => {
          const max = min + span;
          const offset = rawOffset % interval;
          const [stmt] = parseQuery(
            `SELECT mean(v) FROM m WHERE time >= ${min < 0n ? `0 - ${-min}` : min} AND time <= ${max} GROUP BY time(${interval}ns, ${offset}ns)`,
          );
          const expected = floorDiv(max - 1n - offset, interval) - floorDiv(min - offset, interval) + 1n;
          expect(bucketCount(stmt, 0n)).toBe(Number(expected > 0n ? expected : 0n));
        },
      ),
      { numRuns: 300 },
    );
  });
});
