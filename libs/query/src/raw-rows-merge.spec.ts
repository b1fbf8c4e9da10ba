import fc from 'fast-check';
import { mergeRowsRaw } from './raw-rows-merge';
import { renderCsv } from './csv-render';
import { renderJson } from './go-json-render';
import { type Series, type StatementOutcome, withParsedValues } from './query-result';
import { type MergeSpec, mergeOutcomes } from './result-merge';

/** An answer body as influxd writes it (renderJson writes Go's encoding/json). */
const body = (o: StatementOutcome): Buffer => Buffer.from(renderJson([{ statement_id: 0, ...o }]), 'utf8');
const render = (o: StatementOutcome): string => renderJson([{ statement_id: 0, ...o }]);

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const rowOrder = (a: string[], b: string[]) => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = byteOrder(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
};

/** A backend's answer: series sorted by name, rows sorted and unique, as influxd answers a SHOW. */
function answer(series: { name?: string; columns: string[]; rows: string[][] }[]): StatementOutcome {
  const byName = new Map<string, Series>();
  for (const s of series) {
    const key = s.name ?? '';
    if (byName.has(key)) continue;
    const unique = [...new Map(s.rows.map((r) => [JSON.stringify(r), r])).values()].sort(rowOrder);
    byName.set(key, { ...(s.name !== undefined ? { name: s.name } : {}), columns: s.columns, values: unique });
  }
  const list = [...byName.values()].sort((a, b) => byteOrder(a.name ?? '', b.name ?? ''));
  return list.length > 0 ? { series: list } : {};
}

const measurements = (...names: string[]) => answer([{ name: 'measurements', columns: ['name'], rows: names.map((n) => [n]) }]);

describe('mergeRowsRaw: the rows merge on the backends’ bytes', () => {
  it('merges SHOW MEASUREMENTS answers into exactly what the general merge writes', () => {
    const a = measurements('cpu', 'mem', 'Zed', 'été', '\u{1F600}');
    const b = measurements('disk', 'mem', '\uE000', 'a b');
    const fast = mergeRowsRaw([body(a), body(b)], { kind: 'rows' });
    expect(fast).toBeDefined();
    expect(render(fast!)).toBe(render(mergeOutcomes({ kind: 'rows' }, [a, b])));
    expect(render(fast!)).toContain('"values":[["Zed"],["a b"],["cpu"],["disk"],["mem"],["été"],["\uE000"],["\u{1F600}"]]');
  });

  it('keeps series without a name (SHOW SERIES) and several columns (SHOW TAG VALUES)', () => {
    const series = (...keys: string[]) => answer([{ columns: ['key'], rows: keys.map((k) => [k]) }]);
    const a = series('cpu,host=a', 'mem,host=a');
    const b = series('cpu,host=b');
    expect(render(mergeRowsRaw([body(a), body(b)], { kind: 'rows' })!)).toBe(render(mergeOutcomes({ kind: 'rows' }, [a, b])));
    const tv = (m: string, ...v: string[]) => ({ name: m, columns: ['key', 'value'], rows: v.map((x) => ['host', x]) });
    const c = answer([tv('cpu', 'h1', 'h3'), tv('mem', 'h1')]);
    const d = answer([tv('cpu', 'h2', 'h3'), tv('disk', 'h9')]);
    const fast = mergeRowsRaw([body(c), body(d)], { kind: 'rows' });
    expect(render(fast!)).toBe(render(mergeOutcomes({ kind: 'rows' }, [c, d])));
  });

  it('re-applies OFFSET and LIMIT after the merge, dropping series left empty', () => {
    const a = measurements('a1', 'a2', 'a3', 'a4');
    const b = measurements('b1', 'b2', 'b3');
    for (const spec of [
      { kind: 'rows', limit: 3, offset: 2 },
      { kind: 'rows', offset: 5 },
      { kind: 'rows', offset: 50 },
      { kind: 'rows', limit: 0 },
    ] as MergeSpec[]) {
      expect(render(mergeRowsRaw([body(a), body(b)], spec)!)).toBe(render(mergeOutcomes(spec, [a, b])));
    }
  });

  it('leaves to the general merge what is off influxd’s plain shape', () => {
    const plain = body(measurements('cpu'));
    const off = [
      body(measurements('a"b')), // an escape
      body(measurements('<tag>')), // Go escapes < and >
      body({ series: [{ name: 'm', tags: { host: 'a' }, columns: ['name'], values: [['x']] }] }),
      body({ series: [{ name: 'm', columns: ['count'], values: [[3]] }] }),
      body({ ...measurements('cpu'), messages: [{ level: 'warning', text: 'w' }] }),
      body({ error: 'boom' }),
      Buffer.from(renderJson([{ statement_id: 0, ...measurements('cpu') }], true)), // pretty
      body(answer([{ name: 'measurements', columns: ['other'], rows: [['x']] }])), // other columns
      Buffer.from('{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["b"],["a"]]}]}]}\n'), // unsorted
      Buffer.from('not json'),
      Buffer.alloc(0),
    ];
    for (const b of off) expect(mergeRowsRaw([plain, b], { kind: 'rows' })).toBeUndefined();
    expect(mergeRowsRaw([plain, plain], { kind: 'select' })).toBeUndefined();
  });

  it('answers what the general merge answers, for any backends’ answers (fast-check)', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', 'b', 'z', 'A', ' ', ',', '=', 'é', '\uE000', '\u{1F600}', '"', '<', '\\', '\n'),
      maxLength: 4,
    });
    const seriesArb = fc.record({
      name: fc.option(fc.constantFrom('cpu', 'mem', 'measurements', 'é'), { nil: undefined }),
      columns: fc.constantFrom(['name'], ['key', 'value']),
      rows: fc.array(fc.array(text, { minLength: 2, maxLength: 2 }), { maxLength: 8 }),
    });
    const backendArb = fc
      .array(seriesArb, { maxLength: 3 })
      .map((list) => answer(list.map((s) => ({ ...s, columns: [...s.columns], rows: s.rows.map((r) => r.slice(0, s.columns.length)) }))));
    const specArb = fc.record({ kind: fc.constant('rows' as const), limit: fc.nat(5), offset: fc.nat(5) }, { requiredKeys: ['kind'] });
    let fastTaken = 0;
    fc.assert(
      fc.property(fc.array(backendArb, { minLength: 1, maxLength: 3 }), specArb, (backends, spec) => {
        // series of one name share their columns within a run (influxd's SHOW of one kind)
        const columnsOf = new Map<string, string>();
        for (const b of backends) {
          for (const s of b.series ?? []) {
            const have = columnsOf.get(s.name ?? '');
            if (have !== undefined && have !== JSON.stringify(s.columns)) return;
            columnsOf.set(s.name ?? '', JSON.stringify(s.columns));
          }
        }
        const expected = render(mergeOutcomes(spec, backends));
        const fast = mergeRowsRaw(backends.map(body), spec);
        const escaped = backends.some((b) => body(b).includes('\\'));
        if (!escaped) expect(fast).toBeDefined();
        if (fast === undefined) return;
        fastTaken++;
        expect(render(fast)).toBe(expected);
        expect(renderCsv(withParsedValues([{ statement_id: 0, ...fast }]))).toBe(
          renderCsv([{ statement_id: 0, ...mergeOutcomes(spec, backends) }]),
        );
      }),
      { numRuns: 1500 },
    );
    expect(fastTaken).toBeGreaterThan(100); // the byte path was taken, not only the fallback
  });
});
