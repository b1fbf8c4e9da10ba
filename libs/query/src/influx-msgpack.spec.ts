import { NEED_MORE, extTimeNs, readOne } from './influx-msgpack';

// Bytes influxd 1.6.7 answered to `SELECT count(usage), mean(usage), last(n), last(s), last(b) … LIMIT 1`
// with epoch=ns (Accept: application/x-msgpack), trimmed to one series with one row.
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ROW = hex(`
  81 a7 726573756c7473 91 82 ac 73746174656d656e745f6964 00 a6 736572696573 91
  83 a4 6e616d65 a4 67637075 a7 636f6c756d6e73 95 a4 74696d65 a5 636f756e74 a4 6d65616e a4 6c617374 a6 6c6173745f31
  a6 76616c756573 91 95 d3 18eec5d058bc2000 01 cb 405e000000000000 78 a4 78313230`);

describe('readOne (influxd msgpack)', () => {
  it('keeps integers apart from floats: count 1 is a bigint, mean 120.0 a number', () => {
    const one = readOne(ROW, 0);
    if (one === NEED_MORE) throw new Error('need more');
    expect(one.end).toBe(ROW.length);
    const series = (one.value as any).results[0].series[0];
    expect(series.columns).toEqual(['time', 'count', 'mean', 'last', 'last_1']);
    expect(series.values[0]).toEqual([0x18eec5d058bc2000n, 1n, 120, 120n, 'x120']);
    expect(typeof series.values[0][2]).toBe('number');
  });

  it('says NEED_MORE for every cut of a value, and reads values back to back', () => {
    for (let cut = 0; cut < ROW.length; cut++) expect(readOne(ROW.subarray(0, cut), 0)).toBe(NEED_MORE);
    const two = Buffer.concat([ROW, ROW]);
    const first = readOne(two, 0);
    if (first === NEED_MORE) throw new Error('need more');
    const second = readOne(two, first.end);
    expect(second).not.toBe(NEED_MORE);
  });

  it('reads every integer width exactly, signed and unsigned, and the other scalars', () => {
    const cases: [string, unknown][] = [
      ['7f', 127n],
      ['e0', -32n],
      ['cc ff', 255n],
      ['cd ffff', 65535n],
      ['ce ffffffff', 4294967295n],
      ['cf ffffffffffffffff', 18446744073709551615n],
      ['d0 80', -128n],
      ['d1 8000', -32768n],
      ['d2 80000000', -2147483648n],
      ['d3 8000000000000000', -9223372036854775808n],
      ['cb 3ff0000000000000', 1],
      ['ca 3fc00000', 1.5],
      ['c0', null],
      ['c2', false],
      ['c3', true],
      ['d9 03 616263', 'abc'],
    ];
    for (const [bytes, value] of cases) {
      const one = readOne(hex(bytes), 0);
      if (one === NEED_MORE) throw new Error(bytes);
      expect(one.value).toEqual(value);
    }
  });

  it('decodes msgp time ext values and keeps __proto__ an ordinary key', () => {
    const one = readOne(hex('c7 0c 05 0000000000000001 00000002'), 0);
    if (one === NEED_MORE) throw new Error('need more');
    expect(extTimeNs(one.value as any)).toBe(1_000_000_002n);
    const map = readOne(hex('81 a9 5f5f70726f746f5f5f 01'), 0);
    if (map === NEED_MORE) throw new Error('need more');
    expect(Object.keys(map.value as object)).toEqual(['__proto__']);
  });

  it('throws on bytes that are not msgpack', () => {
    expect(() => readOne(hex('c1'), 0)).toThrow(/unknown type byte/);
  });
});
