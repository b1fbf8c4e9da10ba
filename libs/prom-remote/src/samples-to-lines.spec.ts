import fc from 'fast-check';
import { decodeWriteRequest, protobufErrorText } from './decode-write-request';
import { type PromLabel, type PromWriteRequest, WriteRequestCodec } from './remote-messages';
import { INF_VALUE_ERROR, planLines, SampleValueError, samplesToLines, seriesKey, UNNAMED_MEASUREMENT } from './samples-to-lines';
import { snappyCompress } from './snappy-block';
import { SNAPPY_CORRUPT, snappyDecodedLength } from './snappy-length';

const labels = (o: Record<string, string>): PromLabel[] => Object.entries(o).map(([name, value]) => ({ name, value }));

function toText(request: PromWriteRequest): string {
  return samplesToLines(request, planLines(request), (n) => Buffer.alloc(n)).body.toString('utf8');
}

describe('samplesToLines: a remote write as influxd 1.6 stores it', () => {
  it('makes one line per sample: measurement = __name__, every label a tag (__name__ too), sorted, field value, ms time', () => {
    const request = {
      timeseries: [
        {
          labels: labels({ __name__: 'http_requests_total', zeta: 'z', job: 'api', instance: 'h:9090' }),
          samples: [
            { value: 1, timestamp: 1_700_000_000_123 },
            { value: 2.5, timestamp: 1_700_000_001_123 },
          ],
        },
        { labels: labels({ __name__: 'up' }), samples: [{ value: 0, timestamp: 5 }] },
      ],
    };
    expect(toText(request)).toBe(
      'http_requests_total,__name__=http_requests_total,instance=h:9090,job=api,zeta=z value=1 1700000000123\n' +
        'http_requests_total,__name__=http_requests_total,instance=h:9090,job=api,zeta=z value=2.5 1700000001123\n' +
        'up,__name__=up value=0 5\n',
    );
  });

  it('leaves NaN samples out (the staleness marker among them) and counts them', () => {
    const request = {
      timeseries: [
        {
          labels: labels({ __name__: 'm' }),
          samples: [
            { value: NaN, timestamp: 1 },
            { value: 3, timestamp: 2 },
          ],
        },
      ],
    };
    const out = samplesToLines(request, planLines(request), (n) => Buffer.alloc(n));
    expect(out.body.toString()).toBe('m,__name__=m value=3 2\n');
    expect(out.lines).toBe(1);
    expect(out.nanDropped).toBe(1);
  });

  it.each([Infinity, -Infinity])('refuses the whole request on %p with influxd’s text, before taking a buffer', (v) => {
    const request = {
      timeseries: [
        {
          labels: labels({ __name__: 'm' }),
          samples: [
            { value: 1, timestamp: 1 },
            { value: v, timestamp: 2 },
          ],
        },
      ],
    };
    expect(() => planLines(request)).toThrow(new SampleValueError(INF_VALUE_ERROR));
  });

  it('puts a series without a (non-empty) __name__ in prom_metric_not_specified', () => {
    expect(seriesKey(labels({ job: 'j' }))).toBe(`${UNNAMED_MEASUREMENT},job=j`);
    expect(seriesKey(labels({ __name__: '', job: 'j' }))).toBe(`${UNNAMED_MEASUREMENT},job=j`);
    expect(seriesKey([])).toBe(UNNAMED_MEASUREMENT);
  });

  it('drops empty values and empty names; the last of two labels with one name wins', () => {
    expect(seriesKey(labels({ __name__: 'm', empty: '', '': 'v', a: 'x' }))).toBe('m,__name__=m,a=x');
    expect(
      seriesKey([
        { name: '__name__', value: 'first' },
        { name: 'k', value: '1' },
        { name: '__name__', value: 'second' },
        { name: 'k', value: '2' },
      ]),
    ).toBe('second,__name__=second,k=2');
  });

  it('escapes names and values as line protocol needs, a line break becoming an escaped space', () => {
    expect(seriesKey(labels({ __name__: 'm 3,x=y', 'k ey=,': 'v a=l,ue', q: '"quo\\te"', n: 'a\nb' }))).toBe(
      'm\\ 3\\,x=y,__name__=m\\ 3\\,x\\=y,k\\ ey\\=\\,=v\\ a\\=l\\,ue,n=a\\ b,q="quo\\te"',
    );
  });

  it('prints floats so that influxd reads back the same float64, -0 included', () => {
    const values = [1e21, 1e-300, 5e-324, -1.7976931348623157e308, 123456789012345680000, -0.0000012345678901234567, -0, 42];
    const request = { timeseries: [{ labels: labels({ __name__: 'f' }), samples: values.map((value, i) => ({ value, timestamp: i })) }] };
    const text = toText(request);
    const back = text
      .trim()
      .split('\n')
      .map((line) => Number(/ value=(\S+) /.exec(line)![1]));
    expect(back).toEqual(values);
    expect(text).toContain(' value=-0 6\n');
  });

  it('prints each value and time as String does (-0 as -0), digit for digit', () => {
    const integral = fc.oneof(
      fc.maxSafeInteger(),
      fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 53 - 1, 1e16, 9e15, 1e21, 2 ** 63, -(2 ** 63)),
    );
    const value = fc.oneof(fc.double({ noDefaultInfinity: true, noNaN: true }), integral, fc.constantFrom(0, -0, 5e-324, 1e-7, 0.1));
    const timestamp = fc.oneof(
      fc.integer({ min: -(2 ** 40), max: 2 ** 45 }),
      integral.filter((t) => !Object.is(t, -0)),
    );
    fc.assert(
      fc.property(fc.array(fc.record({ value, timestamp }), { minLength: 1, maxLength: 6 }), (samples) => {
        const text = toText({ timeseries: [{ labels: labels({ __name__: 'm' }), samples }] });
        const expected = samples.map(
          (p) => `m,__name__=m value=${Object.is(p.value, -0) ? '-0' : String(p.value)} ${String(p.timestamp)}\n`,
        );
        expect(text).toBe(expected.join(''));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes within the planned bound, in one buffer from acquire', () => {
    fc.assert(
      fc.property(writeRequestArb(fc.string({ maxLength: 12 })), (request) => {
        const plan = planLines(request);
        const acquired: number[] = [];
        const out = samplesToLines(request, plan, (n) => {
          acquired.push(n);
          return Buffer.alloc(n);
        });
        expect(acquired).toEqual([plan.bytes]);
        expect(out.body.length).toBeLessThanOrEqual(plan.bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips: each finite sample is one line that reads back to its series, value and time', () => {
    // names and values without a backslash or line break, which line protocol cannot carry back exactly
    const text = fc.string({ maxLength: 10 }).filter((s) => !/[\\\n]/.test(s));
    fc.assert(
      fc.property(writeRequestArb(text), (request) => {
        const expected: string[] = [];
        for (const series of request.timeseries) {
          const tags = new Map<string, string>();
          for (const l of series.labels) tags.set(l.name, l.value);
          const name = tags.get('__name__') || UNNAMED_MEASUREMENT;
          const kept = [...tags].filter(([k, v]) => k !== '' && v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          for (const s of series.samples) {
            if (Number.isNaN(s.value)) continue;
            expected.push(JSON.stringify([name, kept, s.value, s.timestamp]));
          }
        }
        const lines = toText(request).split('\n');
        expect(lines.pop()).toBe('');
        expect(lines.map((line) => JSON.stringify(parseLine(line)))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('decoding a remote-write body', () => {
  it('answers influxd’s texts for bodies that are not a WriteRequest', () => {
    expect(decodeWriteRequest(Buffer.alloc(0))).toEqual({ error: SNAPPY_CORRUPT });
    expect(decodeWriteRequest(Buffer.from('hello world'))).toEqual({ error: SNAPPY_CORRUPT });
    expect(decodeWriteRequest(snappyCompress(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])))).toEqual({ error: 'unexpected EOF' });
    expect(decodeWriteRequest(snappyCompress(Buffer.from([0x0a, 0x05, 0x0a, 0x02])))).toEqual({ error: 'unexpected EOF' });
    // the texts influxd 1.6.7 answered for these bodies (measured)
    const measured: [number[], string][] = [
      [[0x0e], 'proto: wrong wireType = 6 for field Timeseries'],
      [[0x0e, 0, 0, 0], 'proto: wrong wireType = 6 for field Timeseries'],
      [[0x0b], 'proto: wrong wireType = 3 for field Timeseries'],
      [[0x0f, 1, 2], 'proto: wrong wireType = 7 for field Timeseries'],
      [[0x00], 'proto: WriteRequest: illegal tag 0 (wire type 0)'],
      [[0x0a, 0x02, 0x0a, 0x00, 0x08, 0x01], 'proto: wrong wireType = 0 for field Timeseries'],
      [[0x0a, 0x03, 0x12, 0x01, 0x09], 'unexpected EOF'],
    ];
    for (const [bytes, text] of measured)
      expect([bytes, decodeWriteRequest(snappyCompress(Buffer.from(bytes)))]).toEqual([bytes, { error: text }]);
    expect(decodeWriteRequest(snappyCompress(Buffer.from([0x12, 0x00])))).toEqual({ request: { timeseries: [] } });
    expect(protobufErrorText(new Error('invalid wire type 6 at offset 1'))).toBe('proto: illegal wireType 6');
    // an unknown field opening nested groups: counted by the wire walk, not recursed into
    const groups = (n: number) => Buffer.concat([Buffer.alloc(n, 0x13), Buffer.alloc(n, 0x14)]);
    expect(decodeWriteRequest(snappyCompress(groups(50)))).toEqual({ request: { timeseries: [] } });
    expect(decodeWriteRequest(snappyCompress(groups(100_000).subarray(0, 100_000)))).toEqual({ error: 'unexpected EOF' });
    // balanced 100,000 deep: influxd skips it; protobufjs stops at its nesting limit (an error, not a crash)
    expect(decodeWriteRequest(snappyCompress(groups(100_000)))).toEqual({ error: 'proto: maximum nesting depth exceeded' });
    expect(protobufErrorText(new Error('something else'))).toBe('proto: something else');
  });

  it('reads the decoded length a snappy block declares, without decoding it', () => {
    const data = Buffer.alloc(300_000, 7);
    expect(snappyDecodedLength(snappyCompress(data))).toBe(300_000);
    expect(snappyDecodedLength(Buffer.alloc(0))).toBeUndefined();
    expect(snappyDecodedLength(Buffer.from([0x80, 0x80]))).toBeUndefined(); // the varint never ends
    expect(snappyDecodedLength(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]))).toBeUndefined(); // past 32 bits
    expect(snappyDecodedLength(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))).toBe(0xffffffff);
  });

  it('never throws on random bytes, snappy-wrapped or not, and decodes every valid request', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, wrap) => {
        const body = wrap ? snappyCompress(bytes) : Buffer.from(bytes);
        const decoded = decodeWriteRequest(body);
        if (decoded.error === undefined) {
          // whatever decodes must also convert (or be refused as influxd refuses it), never crash
          try {
            const plan = planLines(decoded.request);
            samplesToLines(decoded.request, plan, (n) => Buffer.alloc(n));
          } catch (err) {
            expect(err).toBeInstanceOf(SampleValueError);
          }
        } else {
          expect(typeof decoded.error).toBe('string');
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(writeRequestArb(fc.string({ maxLength: 8 })), (request) => {
        const decoded = decodeWriteRequest(snappyCompress(WriteRequestCodec.encode(request)));
        expect(decoded.error).toBeUndefined();
        expect(toText((decoded as { request: PromWriteRequest }).request)).toBe(toText(request));
      }),
      { numRuns: 300 },
    );
  });
});

function writeRequestArb(text: fc.Arbitrary<string>): fc.Arbitrary<PromWriteRequest> {
  const name = fc.oneof(fc.constant('__name__'), fc.constant('job'), text);
  const label = fc.record({ name, value: text });
  const value = fc.oneof(
    fc.double({ noDefaultInfinity: true }),
    fc.constant(NaN),
    fc.integer().map((i) => i),
  );
  const sample = fc.record({ value, timestamp: fc.integer({ min: -(2 ** 40), max: 2 ** 45 }) });
  return fc.record({
    timeseries: fc.array(fc.record({ labels: fc.array(label, { maxLength: 5 }), samples: fc.array(sample, { maxLength: 4 }) }), {
      maxLength: 4,
    }),
  });
}

/** Escaped separators while a line is split (fast-check's strings here are ASCII, so these never occur in them). */
const ESCAPED: Record<string, string> = { ',': '\uE000', ' ': '\uE001', '=': '\uE002' };

/** A line parsed back the way influxd reads it: [measurement, [[tag, value]…], value, time]. */
function parseLine(line: string): [string, [string, string][], number, number] {
  let current = '';
  const sections: string[][] = [[]]; // split by unescaped spaces, each split by unescaped commas
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length && ESCAPED[line[i + 1]]) {
      current += ESCAPED[line[++i]];
      continue;
    }
    if (c === ',' || c === ' ') {
      sections[sections.length - 1].push(current);
      current = '';
      if (c === ' ') sections.push([]);
      continue;
    }
    current += c;
  }
  sections[sections.length - 1].push(current);
  const unescape = (s: string) => s.replace(/[\uE000-\uE002]/g, (c) => ', ='[c.charCodeAt(0) - 0xe000]);
  const [measurement, ...tagPairs] = sections[0];
  const tags = tagPairs.map((pair) => {
    const at = pair.indexOf('=');
    return [unescape(pair.slice(0, at)), unescape(pair.slice(at + 1))] as [string, string];
  });
  const field = sections[1][0];
  expect(field.startsWith('value=')).toBe(true);
  return [unescape(measurement), tags, Number(field.slice('value='.length)), Number(sections[2][0])];
}
