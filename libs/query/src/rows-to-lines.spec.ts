import fc from 'fast-check';
import type { MsgpackValue } from './influx-msgpack';
import { fieldText, seriesKey, seriesOf, seriesToLines, timeText } from './rows-to-lines';

function linesOf(series: MsgpackValue): string[] {
  const out: string[] = [];
  seriesToLines(series, { line: (l) => out.push(l) });
  return out;
}

describe('rows → line protocol', () => {
  it('keeps each field type: integer i, float, quoted string, boolean; an int64 above 2^53 exactly', () => {
    const series = {
      name: 'cpu',
      tags: { host: 'a' },
      columns: ['time', 'b', 'big', 'f', 'n', 's'],
      values: [[1700000000000000000n, true, 9007199254740993n, 1.5, 3n, 'x']],
    };
    expect(linesOf(series)).toEqual(['cpu,host=a b=true,big=9007199254740993i,f=1.5,n=3i,s="x" 1700000000000000000\n']);
  });

  it('writes a float that happens to be whole as a float (no i), and -0 with its sign', () => {
    expect(fieldText(2)).toBe('2');
    expect(fieldText(-0)).toBe('-0');
    expect(fieldText(1e21)).toBe('1e+21');
    expect(fieldText(2n)).toBe('2i');
    expect(fieldText(18446744073709551615n)).toBe('18446744073709551615u');
  });

  it('escapes measurement, tag keys and values, field keys and string values as influxd reads them', () => {
    const series = {
      name: 'we ird,m',
      tags: { 're gion': 'eu,west=1', 'k=': 'v v' },
      columns: ['time', 'fie ld,=x"', 's'],
      values: [[1n, 1.5, 'say "hi" \\ there']],
    };
    expect(linesOf(series)).toEqual([
      'we\\ ird\\,m,k\\==v\\ v,re\\ gion=eu\\,west\\=1 fie\\ ld\\,\\=x\\"=1.5,s="say \\"hi\\" \\\\ there" 1\n',
    ]);
  });

  it('leaves out null fields and empty tags, and skips a row with no field left', () => {
    const series = {
      name: 'm',
      tags: { empty: '', t: 'v' },
      columns: ['time', 'a', 'b'],
      values: [
        [1n, null, 2n],
        [2n, null, null],
        [3n, NaN, Infinity],
        [4n, 1.25, null],
      ],
    };
    expect(linesOf(series)).toEqual(['m,t=v b=2i 1\n', 'm,t=v a=1.25 4\n']);
  });

  it('reads msgp time ext values and integer times as ns', () => {
    const data = Buffer.alloc(12);
    data.writeBigInt64BE(1700000000n, 0);
    data.writeInt32BE(5, 8);
    expect(timeText({ ext: 5, data })).toBe('1700000000000000005');
    expect(timeText(-5n)).toBe('-5');
  });

  it('finds the series of a response, or its error', () => {
    expect(seriesOf({ results: [{ statement_id: 0n, series: [{ name: 'm' }] }] }).series).toHaveLength(1);
    expect(seriesOf({ results: [{ statement_id: 0n, error: 'database not found: x' }] }).error).toBe('database not found: x');
    expect(seriesOf({ error: 'boom' }).error).toBe('boom');
  });

  it('sorts tags by key (influxd’s series key order)', () => {
    expect(seriesKey('m', { z: '1', a: '2' })).toBe('m,a=2,z=1');
  });
});

// ---------------------------------------------------------------------------------------------
// round trip: a random point → the row influxd would answer for it → line → read back as influxd reads it

interface Point {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, bigint | number | string | boolean>;
  time: bigint;
}

/** A test-side reader of one line, unescaping as influxd 1.x does (models/points.go, pkg/escape). */
function parseLine(line: string): Point {
  let i = 0;
  // one token up to an unescaped stop character; `\x` kept raw for the unescape below
  const token = (stops: string): string => {
    let out = '';
    while (i < line.length && !stops.includes(line[i])) {
      if (line[i] === '\\' && i + 1 < line.length) {
        out += line[i] + line[i + 1];
        i += 2;
      } else out += line[i++];
    }
    return out;
  };
  const unescape = (s: string, specials: string) => s.replace(/\\(.)/g, (all, c: string) => (specials.includes(c) ? c : all));
  const measurement = unescape(token(', '), ', ');
  const tags: Record<string, string> = {};
  while (line[i] === ',') {
    i++;
    const k = unescape(token('='), ',= ');
    i++;
    tags[k] = unescape(token(', '), ',= ');
  }
  i++; // space
  const fields: Point['fields'] = {};
  for (;;) {
    const k = unescape(token('='), ',= "');
    i++;
    if (line[i] === '"') {
      i++;
      let s = '';
      while (line[i] !== '"') {
        if (line[i] === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) i++;
        s += line[i++];
      }
      i++;
      fields[k] = s;
    } else {
      const v = token(', ');
      if (v === 'true' || v === 'false') fields[k] = v === 'true';
      else if (v.endsWith('i')) fields[k] = BigInt(v.slice(0, -1));
      else fields[k] = Number(v);
    }
    if (line[i] !== ',') break;
    i++;
  }
  i++;
  return { measurement, tags, fields, time: BigInt(line.slice(i).trim()) };
}

/** The msgpack-shaped series influxd answers for one point (`SELECT * … GROUP BY *`, epoch=ns). */
function rowOf(p: Point): MsgpackValue {
  const keys = Object.keys(p.fields).sort();
  return { name: p.measurement, tags: p.tags, columns: ['time', ...keys], values: [[p.time, ...keys.map((k) => p.fields[k])]] };
}

// names without a backslash (influxd cannot read one before an escaped byte back), a line break
// (it cannot be escaped) or a leading '#' (a comment line)
const nameChar = fc.constantFrom('a', 'b', 'z', '0', ' ', ',', '=', '"', 'é', '_', '-', '.');
const name = fc.string({ unit: nameChar, minLength: 1, maxLength: 8 });
const fieldValue = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', ',', '=', '\n', 'ü'), maxLength: 10 }),
  fc.boolean(),
);
const point: fc.Arbitrary<Point> = fc.record({
  measurement: name,
  tags: fc.dictionary(name, name, { maxKeys: 3 }),
  fields: fc.dictionary(
    name.filter((k) => k !== 'time'),
    fieldValue,
    { minKeys: 1, maxKeys: 4 },
  ),
  time: fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }),
});

describe('rows → lines round trip (property)', () => {
  it('a point read back from its line equals the point, and its row gives the same line again', () => {
    fc.assert(
      fc.property(point, (p) => {
        const [line] = linesOf(rowOf(p));
        const back = parseLine(line.slice(0, -1));
        const norm = (x: Point) => ({
          ...x,
          fields: Object.fromEntries(Object.entries(x.fields).map(([k, v]) => [k, Object.is(v, -0) ? '-0' : v])),
        });
        expect(norm(back)).toEqual(norm(p));
        expect(linesOf(rowOf(back))).toEqual([line]);
      }),
      { numRuns: 500 },
    );
  });
});
