import { BigNumber, parseLossless } from './lossless-json';
import type { Series, StatementOutcome } from './query-result';
import { mergeOutcomes } from './result-merge';

const measurements = (...names: string[]): StatementOutcome => ({
  series: [{ name: 'measurements', columns: ['name'], values: names.map((n) => [n]) }],
});

const values = (o: StatementOutcome, i = 0) => o.series?.[i]?.values;

describe('mergeOutcomes: rows (SHOW MEASUREMENTS, TAG KEYS, TAG VALUES, FIELD KEYS, SERIES)', () => {
  it('unions the rows of each series and sorts them in byte order, as influxd does', () => {
    const merged = mergeOutcomes({ kind: 'rows' }, [measurements('cpu', 'mem', 'Zed'), measurements('disk', 'mem', 'été')]);
    expect(values(merged)).toEqual([['Zed'], ['cpu'], ['disk'], ['mem'], ['été']]);
  });

  it('orders by code point like Go, not by UTF-16 unit (astral after U+E000..U+FFFF)', () => {
    const merged = mergeOutcomes({ kind: 'rows' }, [measurements('\u{1F600}x', 'b'), measurements('\uE000', 'a')]);
    expect(values(merged)).toEqual([['a'], ['b'], ['\uE000'], ['\u{1F600}x']]);
  });

  it('re-applies OFFSET then LIMIT after the merge', () => {
    const a = measurements('a1', 'a2', 'a3', 'a4');
    const b = measurements('b1', 'b2', 'b3');
    expect(values(mergeOutcomes({ kind: 'rows', limit: 3, offset: 2 }, [a, b]))).toEqual([['a3'], ['a4'], ['b1']]);
    expect(values(mergeOutcomes({ kind: 'rows', offset: 5 }, [a, b]))).toEqual([['b2'], ['b3']]);
    expect(values(mergeOutcomes({ kind: 'rows', limit: 0 }, [a, b]))).toHaveLength(7);
  });

  it('drops series the window leaves empty and omits series entirely when none is left', () => {
    const tagKeys = (m: string, ...keys: string[]): Series => ({ name: m, columns: ['tagKey'], values: keys.map((k) => [k]) });
    const merged = mergeOutcomes({ kind: 'rows', limit: 1, offset: 1 }, [
      { series: [tagKeys('cpu', 'host', 'region'), tagKeys('mem', 'host')] },
      { series: [tagKeys('disk', 'host', 'path'), tagKeys('cpu', 'az')] },
    ]);
    expect(merged.series).toEqual([
      { name: 'cpu', columns: ['tagKey'], values: [['host']] },
      { name: 'disk', columns: ['tagKey'], values: [['path']] },
    ]);
    expect(mergeOutcomes({ kind: 'rows', offset: 10 }, [measurements('a')])).toEqual({});
  });

  it('sorts TAG VALUES by key then value and series by name', () => {
    const tv = (m: string, rows: string[][]): Series => ({ name: m, columns: ['key', 'value'], values: rows });
    const merged = mergeOutcomes({ kind: 'rows' }, [
      {
        series: [
          tv('mem', [['host', 'b']]),
          tv('cpu', [
            ['region', 'x'],
            ['host', 'b'],
          ]),
        ],
      },
      {
        series: [
          tv('cpu', [
            ['host', 'a'],
            ['host', 'b'],
          ]),
        ],
      },
    ]);
    expect(merged.series!.map((s) => s.name)).toEqual(['cpu', 'mem']);
    expect(values(merged)).toEqual([
      ['host', 'a'],
      ['host', 'b'],
      ['region', 'x'],
    ]);
  });

  it('returns the first error (in backend order) and keeps messages', () => {
    const merged = mergeOutcomes({ kind: 'rows' }, [
      measurements('a'),
      { error: 'database not found: x', messages: [{ level: 'warning', text: 'w' }] },
      { error: 'second' },
    ]);
    expect(merged).toEqual({ error: 'database not found: x', messages: [{ level: 'warning', text: 'w' }] });
  });

  it('keeps an empty answer empty', () => {
    expect(mergeOutcomes({ kind: 'rows' }, [{}, {}])).toEqual({});
  });
});

describe('mergeOutcomes: retention policies and cardinality', () => {
  const rp = (...rows: (string | number | boolean)[][]): StatementOutcome => ({
    series: [{ columns: ['name', 'duration', 'shardGroupDuration', 'replicaN', 'default'], values: rows }],
  });

  it('unions retention policies by name, first seen first', () => {
    const merged = mergeOutcomes({ kind: 'retention-policies' }, [
      rp(['autogen', '0s', '168h0m0s', 1, true], ['rp2', '0s', '168h0m0s', 1, false]),
      rp(['autogen', '0s', '168h0m0s', 1, true], ['abc', '24h0m0s', '1h0m0s', 1, false]),
    ]);
    expect(values(merged)!.map((r) => r[0])).toEqual(['autogen', 'rp2', 'abc']);
  });

  it('takes the largest cardinality per series (replicas hold the same series)', () => {
    const card = (n: number): StatementOutcome => ({ series: [{ columns: ['cardinality estimation'], values: [[n]] }] });
    expect(values(mergeOutcomes({ kind: 'cardinality' }, [card(3), card(5), card(4)]))).toEqual([[5]]);
  });
});

describe('mergeOutcomes: select', () => {
  const s = (name: string, rows: unknown[][], tags?: Record<string, string>, columns = ['time', 'v']): Series => ({
    name,
    ...(tags ? { tags } : {}),
    columns,
    values: rows as Series['values'],
  });

  it('orders series by name then tags and takes a series both backends return from the first', () => {
    const merged = mergeOutcomes({ kind: 'select' }, [
      { series: [s('mem', [[1, 10]], { host: 'b' }), s('cpu', [[1, 1]], { host: 'a' })] },
      { series: [s('mem', [[1, 99]], { host: 'b' }), s('disk', [[1, 5]], { host: 'a' }), s('mem', [[1, 7]], { host: 'a' })] },
    ]);
    expect(merged.series!.map((x) => [x.name, x.tags!.host, x.values![0][1]])).toEqual([
      ['cpu', 'a', 1],
      ['disk', 'a', 5],
      ['mem', 'a', 7],
      ['mem', 'b', 10],
    ]);
  });

  it('unifies columns like a wildcard over several measurements on one influxd', () => {
    const merged = mergeOutcomes({ kind: 'select' }, [
      { series: [s('cpu', [['t1', 'a', 1]], undefined, ['time', 'host', 'v'])] },
      { series: [s('disk', [['t1', 5]], undefined, ['time', 'free'])] },
    ]);
    expect(merged.series).toEqual([
      { name: 'cpu', columns: ['time', 'free', 'host', 'v'], values: [['t1', null, 'a', 1]] },
      { name: 'disk', columns: ['time', 'free', 'host', 'v'], values: [['t1', 5, null, null]] },
    ]);
  });

  it('keeps every series the backends windowed (SLIMIT/SOFFSET are per measurement in influxd)', () => {
    const merged = mergeOutcomes({ kind: 'select' }, [{ series: [s('a', [[1, 1]]), s('c', [[1, 3]])] }, { series: [s('b', [[1, 2]])] }]);
    expect(merged.series!.map((x) => x.name)).toEqual(['a', 'b', 'c']);
  });

  it('keeps integers beyond 2^53 exact through parse and sort', () => {
    const parsed = parseLossless('{"a":[1700000000123456789,1700000000123456788,5]}') as { a: unknown[] };
    expect(parsed.a[0]).toEqual(new BigNumber('1700000000123456789'));
    const merged = mergeOutcomes({ kind: 'rows' }, [
      { series: [{ name: 'm', columns: ['v'], values: [[parsed.a[0] as BigNumber], [parsed.a[1] as BigNumber]] }] },
      { series: [{ name: 'm', columns: ['v'], values: [[5], [parsed.a[0] as BigNumber]] }] },
    ]);
    expect(values(merged)!.map((r) => String(r[0] instanceof BigNumber ? r[0].text : r[0]))).toEqual([
      '5',
      '1700000000123456788',
      '1700000000123456789',
    ]);
  });
});
