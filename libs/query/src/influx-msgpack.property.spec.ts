import fc from 'fast-check';
import { NEED_MORE, readOne } from './influx-msgpack';

/** A small msgpack writer for the property below (the proxy itself only reads msgpack). */
function encode(v: unknown): Buffer {
  if (v === null) return Buffer.from([0xc0]);
  if (v === true || v === false) return Buffer.from([v ? 0xc3 : 0xc2]);
  if (typeof v === 'bigint') {
    const b = Buffer.alloc(9);
    if (v < 0n) {
      b[0] = 0xd3;
      b.writeBigInt64BE(v, 1);
    } else {
      b[0] = 0xcf;
      b.writeBigUInt64BE(v, 1);
    }
    return b;
  }
  if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v, 1);
    return b;
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = 0xdb;
    head.writeUInt32BE(s.length, 1);
    return Buffer.concat([head, s]);
  }
  if (Array.isArray(v)) {
    const head = Buffer.alloc(5);
    head[0] = 0xdd;
    head.writeUInt32BE(v.length, 1);
    return Buffer.concat([head, ...v.map(encode)]);
  }
  const entries = Object.entries(v as Record<string, unknown>);
  const head = Buffer.alloc(5);
  head[0] = 0xdf;
  head.writeUInt32BE(entries.length, 1);
  return Buffer.concat([head, ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
  fc.double({ noNaN: true }),
  fc.string(),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 4 }),
  ),
})).v;

describe('readOne (influxd msgpack), fuzzed', () => {
  it('reads back what was written, types kept, and says NEED_MORE for every cut', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encode(v);
        const one = readOne(bytes, 0);
        if (one === NEED_MORE) return false;
        expect(one.end).toBe(bytes.length);
        expect(one.value).toEqual(v);
        for (const cut of [0, 1, bytes.length >> 1, bytes.length - 1]) {
          if (cut < bytes.length) expect(readOne(bytes.subarray(0, cut), 0)).toBe(NEED_MORE);
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('never hangs or crashes on arbitrary bytes: a value, NEED_MORE or an Error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (raw) => {
        const buf = Buffer.from(raw);
        try {
          const r = readOne(buf, 0);
          if (r !== NEED_MORE) expect(r.end).toBeLessThanOrEqual(buf.length);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
