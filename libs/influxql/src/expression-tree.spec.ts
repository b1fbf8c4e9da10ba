import fc from 'fast-check';
import { BINARY_PRECEDENCE, parseQuery, type Expr, type ParsedStatement, type SelectParts } from '@app/influxql';

/** The only statement of `q` (parsed with `params`). */
function one(q: string, params?: Record<string, unknown>): ParsedStatement {
  const statements = parseQuery(q, { params });
  expect(statements).toHaveLength(1);
  return statements[0];
}

/** The SELECT parts of the only statement of `q`. */
function parts(q: string, params?: Record<string, unknown>): SelectParts {
  const s = one(q, params).select;
  expect(s).toBeDefined();
  return s!;
}

/** The WHERE tree of `SELECT * FROM m WHERE <where>`. */
function where(condition: string, params?: Record<string, unknown>): Expr {
  const c = parts(`SELECT * FROM m WHERE ${condition}`, params).condition;
  expect(c).toBeDefined();
  return c!;
}

const ref = (name: string, quoted = false): Expr => ({ type: 'ref', name, quoted });
const int = (value: bigint): Expr => ({ type: 'integer', value });
const bin = (op: string, lhs: Expr, rhs: Expr): Expr => ({ type: 'binary', op, lhs, rhs });

describe('parseQuery: the expression tree keeps literal values', () => {
  it('reads integers, unsigned integers, floats, durations, strings, booleans and regexes with their values', () => {
    expect(where('a = 42')).toEqual(bin('=', ref('a'), int(42n)));
    expect(where('a = 9223372036854775807')).toEqual(bin('=', ref('a'), int(9223372036854775807n)));
    expect(where('a = 9223372036854775808')).toEqual(bin('=', ref('a'), { type: 'unsigned', value: 9223372036854775808n }));
    expect(where('a = 18446744073709551615')).toEqual(bin('=', ref('a'), { type: 'unsigned', value: 18446744073709551615n }));
    expect(where('a = 2.5')).toEqual(bin('=', ref('a'), { type: 'number', value: 2.5 }));
    expect(where('a = 90m')).toEqual(bin('=', ref('a'), { type: 'duration', ns: 5_400_000_000_000n }));
    expect(where("a = 'x\\'y'")).toEqual(bin('=', ref('a'), { type: 'string', value: "x'y", timeLiteral: false }));
    expect(where('a = TRUE OR a = false')).toEqual(
      bin('OR', bin('=', ref('a'), { type: 'boolean', value: true }), bin('=', ref('a'), { type: 'boolean', value: false })),
    );
    expect(where('a =~ /x\\/y.*/')).toEqual(bin('=~', ref('a'), { type: 'regex', pattern: 'x/y.*' }));
  });

  it('folds a sign into the literal after it, and makes ±x of a reference, call or parenthesis ±1 * x (as influxd does)', () => {
    expect(where('a = -42')).toEqual(bin('=', ref('a'), int(-42n)));
    expect(where('a = -9223372036854775808')).toEqual(bin('=', ref('a'), int(-9223372036854775808n)));
    expect(where('a = +9223372036854775808')).toEqual(bin('=', ref('a'), { type: 'unsigned', value: 9223372036854775808n }));
    expect(where('a = -1.5')).toEqual(bin('=', ref('a'), { type: 'number', value: -1.5 }));
    expect(where('time > -1h')).toEqual(bin('>', ref('time'), { type: 'duration', ns: -3_600_000_000_000n }));
    expect(where('-a > 0')).toEqual(bin('>', bin('*', int(-1n), ref('a')), int(0n)));
    expect(where('+now() > 0')).toEqual(bin('>', bin('*', int(1n), { type: 'call', name: 'now', args: [] }), int(0n)));
  });

  it('marks the strings influxd reads as times when compared with time', () => {
    const literal = (s: string) => (where(`time > '${s}'`) as { rhs: { timeLiteral: boolean } }).rhs.timeLiteral;
    expect(literal('2023-11-14T22:13:20Z')).toBe(true);
    expect(literal('2023-11-14 22:13:20.5')).toBe(true);
    expect(literal('2023-11-14')).toBe(true);
    expect(literal('2023-11-1')).toBe(false);
    expect(literal('now')).toBe(false);
  });

  it('keeps identifiers decoded with their quoting, dotted segments and casts', () => {
    expect(where('"my host" = \'a\'')).toMatchObject({ lhs: { type: 'ref', name: 'my host', quoted: true } });
    expect(where('"time" > 0')).toMatchObject({ lhs: { type: 'ref', name: 'time', quoted: true } });
    expect(where('m.f = 1')).toMatchObject({ lhs: { type: 'ref', name: 'm.f', quoted: false } });
    expect(where('f::integer = 1')).toMatchObject({ lhs: { type: 'ref', name: 'f', cast: 'integer' } });
    expect(parts('SELECT *::field, t::tag FROM m').fields.map((f) => f.expr)).toEqual([
      { type: 'wildcard', cast: 'field' },
      { type: 'ref', name: 't', quoted: false, cast: 'tag' },
    ]);
  });

  it('keeps calls (names lower-cased, regex arguments kept) and parentheses as written', () => {
    expect(parts('SELECT MEAN(v), Count(/x/), DISTINCT(h), DISTINCT h, (v + 1) FROM m').fields.map((f) => f.expr)).toEqual([
      { type: 'call', name: 'mean', args: [ref('v')] },
      { type: 'call', name: 'count', args: [{ type: 'regex', pattern: 'x' }] },
      { type: 'call', name: 'distinct', args: [ref('h')] },
      { type: 'distinct', name: 'h' },
      { type: 'paren', expr: bin('+', ref('v'), int(1n)) },
    ]);
  });

  it('names the bound parameter a literal stands for', () => {
    const c = where('host = $h AND time > $t AND v > $n AND r =~ $re', {
      h: 'a',
      t: '2023-11-14T00:00:00Z',
      n: { integer: 5 },
      re: { regex: 'x.*' },
    });
    expect(c).toEqual(
      bin(
        'AND',
        bin(
          'AND',
          bin(
            'AND',
            bin('=', ref('host'), { type: 'string', value: 'a', timeLiteral: false, param: 'h' }),
            bin('>', ref('time'), { type: 'string', value: '2023-11-14T00:00:00Z', timeLiteral: true, param: 't' }),
          ),
          bin('>', ref('v'), { type: 'integer', value: 5n, param: 'n' }),
        ),
        bin('=~', ref('r'), { type: 'regex', pattern: 'x.*', param: 're' }),
      ),
    );
    expect(parts('SELECT * FROM m GROUP BY time($d)', { d: { duration: '5m' } }).groupByInterval).toBe(300_000_000_000n);
  });

  it('builds binary operators by influxd’s precedence, left-associative', () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => ref(n));
    expect(where('a + b * c - d > 0')).toEqual(bin('>', bin('-', bin('+', a, bin('*', b, c)), d), int(0n)));
    expect(where('a = 1 OR b = 2 AND c = 3')).toEqual(
      bin('OR', bin('=', a, int(1n)), bin('AND', bin('=', b, int(2n)), bin('=', c, int(3n)))),
    );
    expect(where('(a = 1 OR b = 2) AND c = 3')).toEqual(
      bin('AND', { type: 'paren', expr: bin('OR', bin('=', a, int(1n)), bin('=', b, int(2n))) }, bin('=', c, int(3n))),
    );
    expect(where('a - b - c > 0')).toEqual(bin('>', bin('-', bin('-', a, b), c), int(0n)));
  });
});

describe('parseQuery: a SELECT carries its trees and facts', () => {
  it('attaches fields with aliases, the WHERE tree, GROUP BY dimensions, interval, offset, fill and tz', () => {
    const s = one(
      "SELECT mean(v) AS m, max(v) FROM cpu WHERE time > now() - 1h GROUP BY time(10m, 5m), host, /^r/, * fill(previous) tz('Europe/Paris')",
    );
    const p = s.select!;
    expect(p.fields).toEqual([
      { expr: { type: 'call', name: 'mean', args: [ref('v')] }, alias: 'm' },
      { expr: { type: 'call', name: 'max', args: [ref('v')] } },
    ]);
    expect(p.condition).toEqual(
      bin('>', ref('time'), bin('-', { type: 'call', name: 'now', args: [] }, { type: 'duration', ns: 3_600_000_000_000n })),
    );
    expect(p.dimensions).toEqual([
      {
        type: 'call',
        name: 'time',
        args: [
          { type: 'duration', ns: 600_000_000_000n },
          { type: 'duration', ns: 300_000_000_000n },
        ],
      },
      ref('host'),
      { type: 'regex', pattern: '^r' },
      { type: 'wildcard' },
    ]);
    expect(p.timeDimension).toBe(p.dimensions[0]);
    expect(p.groupByInterval).toBe(600_000_000_000n);
    expect(p.groupByOffset).toEqual({ type: 'duration', ns: 300_000_000_000n });
    expect(p.aggregated).toBe(true);
    expect(p.fill).toEqual({ option: 'previous' });
    expect(p.tz).toBe('Europe/Paris');
  });

  it('says a SELECT without calls is not aggregated and has no interval; reads numeric fill', () => {
    const p = parts('SELECT v, "host" FROM cpu');
    expect(p).toEqual({
      fields: [{ expr: ref('v') }, { expr: ref('host', true) }],
      dimensions: [],
      groupByInterval: 0n,
      aggregated: false,
    });
    expect(parts('SELECT abs(v) FROM cpu').aggregated).toBe(true);
    expect(parts('SELECT count(v) FROM cpu GROUP BY time(1m) fill(-1)').fill).toEqual({ option: 'number', value: -1 });
    expect(parts('SELECT count(v) FROM cpu GROUP BY time(1m) fill(0.5)').fill).toEqual({ option: 'number', value: 0.5 });
  });

  it('keeps a time dimension whose interval is not a duration literal, with interval 0 as influxd’s GroupByInterval says', () => {
    const p = parts("SELECT count(v) FROM cpu GROUP BY time(1h + 1m, '2023-01-01T00:00:00Z')");
    expect(p.timeDimension).toMatchObject({
      name: 'time',
      args: [
        { type: 'binary', op: '+' },
        { type: 'string', timeLiteral: true },
      ],
    });
    expect(p.groupByInterval).toBe(0n);
    expect(p.groupByOffset).toMatchObject({ type: 'string', value: '2023-01-01T00:00:00Z' });
  });

  it('gives each subquery its own parts, EXPLAIN its SELECT’s, and other statements none', () => {
    const s = one('SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu WHERE time > 0 GROUP BY time(1m)) WHERE time < 10');
    expect(s.select!.condition).toEqual(bin('<', ref('time'), int(10n)));
    const sub = s.sources[0];
    expect(sub.kind).toBe('subquery');
    if (sub.kind !== 'subquery') return;
    expect(sub.statement.select!.condition).toEqual(bin('>', ref('time'), int(0n)));
    expect(sub.statement.select!.groupByInterval).toBe(60_000_000_000n);

    const explain = one('EXPLAIN ANALYZE SELECT count(v) FROM cpu GROUP BY time(1m)');
    expect(explain.select).toBe(explain.inner!.select);
    expect(explain.select!.groupByInterval).toBe(60_000_000_000n);
    const cq = one('CREATE CONTINUOUS QUERY c ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END');
    expect(cq.inner!.select!.aggregated).toBe(true);
    expect(one('SHOW TAG VALUES WITH KEY = host WHERE time > 0').select).toBeUndefined();
    expect(one('DELETE FROM m WHERE time < 0').select).toBeUndefined();
  });

  it('leaves text, offsets and clause ranges as they were', () => {
    const q = '  SELECT  mean(v) FROM m WHERE time > 0 GROUP BY time(1m) ; SELECT 1 + 2 FROM m';
    const [a, b] = parseQuery(q);
    expect(a).toMatchObject({ text: 'SELECT  mean(v) FROM m WHERE time > 0 GROUP BY time(1m)', start: 2 });
    expect(q.slice(a.clauses.where!.start, a.clauses.where!.end)).toBe('WHERE time > 0');
    expect(b.select!.fields[0].expr).toEqual(bin('+', int(1n), int(2n)));
  });
});

/**
 * Property: for any tree of binary operators over references and integers, printed with parentheses only
 * where influxd's precedence and left associativity need them, the parser builds that tree back (with a
 * `paren` node exactly where a parenthesis was printed). A wrong precedence or associativity fails it.
 */
describe('parseQuery: expression trees, property', () => {
  const OPS = ['+', '-', '*', '/', '%', '&', '|', '^', '=', '!=', '<', '<=', '>', '>=', 'AND', 'OR'];

  type Gen = { type: 'leaf'; e: Expr } | { type: 'op'; op: string; lhs: Gen; rhs: Gen };
  const leaf: fc.Arbitrary<Gen> = fc.oneof(
    fc.constantFrom('a', 'b', 'host').map((n): Gen => ({ type: 'leaf', e: ref(n) })),
    fc.bigInt({ min: 0n, max: 1000n }).map((v): Gen => ({ type: 'leaf', e: int(v) })),
  );
  const tree: fc.Arbitrary<Gen> = fc.letrec<{ node: Gen }>((t) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.record({ type: fc.constant('op' as const), op: fc.constantFrom(...OPS), lhs: t('node'), rhs: t('node') }),
    ),
  })).node;

  /** The text of `g` and the tree the parser must build from it. */
  function print(g: Gen): { text: string; expr: Expr } {
    if (g.type === 'leaf') return { text: g.e.type === 'ref' ? g.e.name : String((g.e as { value: bigint }).value), expr: g.e };
    const p = BINARY_PRECEDENCE[g.op];
    const side = (child: Gen, right: boolean) => {
      const printed = print(child);
      // A left operand needs parentheses below the operator's precedence, a right one at or below it (left associative).
      const needs = child.type === 'op' && (right ? BINARY_PRECEDENCE[child.op] <= p : BINARY_PRECEDENCE[child.op] < p);
      return needs ? { text: `(${printed.text})`, expr: { type: 'paren', expr: printed.expr } as Expr } : printed;
    };
    const l = side(g.lhs, false);
    const r = side(g.rhs, true);
    return { text: `${l.text} ${g.op} ${r.text}`, expr: bin(g.op, l.expr, r.expr) };
  }

  it('builds back the tree it was printed from', () => {
    fc.assert(
      fc.property(tree, (g) => {
        const { text, expr } = print(g);
        expect(where(text)).toEqual(expr);
      }),
      { numRuns: 300 },
    );
  });
});
