import fc from 'fast-check';
import * as protobuf from 'protobufjs';
import { readWriteRequest } from './read-write-request';
import { WriteRequestCodec } from './remote-messages';
import { writeRequestWireError } from './write-request-wire';

/** bytes of one field: its key and the value's bytes as given */
function field(num: number, wireType: number, value: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((num << 3) | wireType);
  return Buffer.concat([w.finish(), Buffer.from(value)]);
}
function lengthDelimited(num: number, inner: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(inner.length);
  return field(num, 2, Buffer.concat([w.finish(), Buffer.from(inner)]));
}
function int64Field(num: number, value: string | number): Buffer {
  const w = protobuf.Writer.create();
  w.int64(value);
  return field(num, 0, w.finish());
}

/** The reader gives what protobufjs's decode (with toObject) gives, for bytes the wire walk accepts. */
function expectSameAsProtobufjs(bytes: Buffer): void {
  expect(writeRequestWireError(bytes)).toBeUndefined();
  expect(readWriteRequest(bytes)).toEqual(WriteRequestCodec.decode(bytes));
}

describe('readWriteRequest', () => {
  it('reads what WriteRequestCodec encodes as WriteRequestCodec decodes it', () => {
    const label = fc.record({
      name: fc.string({ unit: 'grapheme', maxLength: 12 }),
      value: fc.string({ unit: 'grapheme', maxLength: 12 }),
    });
    const sample = fc.record({
      value: fc.double(),
      timestamp: fc.oneof(
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
        fc.maxSafeInteger(),
        fc.constant(-1),
      ),
    });
    const request = fc.record({
      timeseries: fc.array(fc.record({ labels: fc.array(label, { maxLength: 6 }), samples: fc.array(sample, { maxLength: 6 }) }), {
        maxLength: 8,
      }),
    });
    fc.assert(
      fc.property(request, (req) => expectSameAsProtobufjs(Buffer.from(WriteRequestCodec.encode(req)))),
      { numRuns: 300 },
    );
  });

  it('reads int64 timestamps past 2^53 and negative ones as protobufjs makes numbers of them', () => {
    for (const t of [
      '9223372036854775807',
      '-9223372036854775808',
      '-1',
      '9007199254740993',
      '-9007199254740993',
      '1700000000000',
      '562949953421311',
      '562949953421312',
    ]) {
      const sample = Buffer.concat([field(1, 1, Buffer.alloc(8)), int64Field(2, t)]);
      expectSameAsProtobufjs(lengthDelimited(1, lengthDelimited(2, sample)));
    }
  });

  it('skips unknown fields of every wire type, groups too, and keeps the last of a repeated scalar', () => {
    const label = Buffer.concat([
      lengthDelimited(1, Buffer.from('job')),
      field(9, 0, Buffer.from([0xff, 0xff, 0x01])),
      lengthDelimited(2, Buffer.from('first')),
      field(10, 5, Buffer.alloc(4)),
      lengthDelimited(2, Buffer.from('prométhée')),
    ]);
    const group = Buffer.concat([
      field(7, 3, Buffer.alloc(0)),
      field(8, 3, Buffer.alloc(0)),
      field(1, 1, Buffer.alloc(8, 1)),
      field(8, 4, Buffer.alloc(0)),
      field(7, 4, Buffer.alloc(0)),
    ]);
    const sample = Buffer.concat([
      int64Field(2, 5),
      field(1, 1, Buffer.from([0, 0, 0, 0, 0, 0, 0xf8, 0x7f])),
      field(3, 1, Buffer.alloc(8)),
      group,
    ]);
    const series = Buffer.concat([
      lengthDelimited(1, label),
      lengthDelimited(3, Buffer.from('x')),
      lengthDelimited(2, sample),
      lengthDelimited(2, Buffer.alloc(0)),
    ]);
    const bytes = Buffer.concat([
      lengthDelimited(1, series),
      lengthDelimited(2, Buffer.from('other')),
      field(5, 1, Buffer.alloc(8)),
      lengthDelimited(1, Buffer.alloc(0)),
    ]);
    expectSameAsProtobufjs(bytes);
    expect(readWriteRequest(bytes).timeseries[0].labels).toEqual([{ name: 'job', value: 'prométhée' }]);
  });

  it("stops at protobufjs's nesting limit for groups, in every message, as protobufjs does", () => {
    const outcome = (decode: () => unknown) => {
      try {
        return decode();
      } catch (err) {
        return (err as Error).message;
      }
    };
    // k groups nested in field 7, the innermost holding one varint (or nothing)
    const nest = (k: number, filled: boolean) =>
      Buffer.concat([Buffer.alloc(k, 0x3b), filled ? Buffer.from([0x08, 0x01]) : Buffer.alloc(0), Buffer.alloc(k, 0x3c)]);
    const inMessages = (inner: Buffer) => [
      inner,
      lengthDelimited(1, inner),
      lengthDelimited(1, lengthDelimited(1, inner)),
      lengthDelimited(1, lengthDelimited(2, inner)),
    ];
    let refused = 0;
    for (let k = 97; k <= 103; k++) {
      for (const filled of [false, true]) {
        for (const bytes of inMessages(nest(k, filled))) {
          expect(writeRequestWireError(bytes)).toBeUndefined();
          const expected = outcome(() => WriteRequestCodec.decode(bytes));
          if (typeof expected === 'string') refused++;
          expect([k, filled, outcome(() => readWriteRequest(bytes))]).toEqual([k, filled, expected]);
        }
      }
    }
    expect(refused).toBeGreaterThan(0);
  });
});
