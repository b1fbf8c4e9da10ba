import fc from 'fast-check';
import { ReadRequestCodec, ReadResponseCodec, WriteRequestCodec } from './remote-messages';
import { snappyCompress, snappyUncompress } from './snappy-block';

describe('Prometheus remote storage messages', () => {
  it('round-trips a WriteRequest through protobuf and snappy', () => {
    const request = {
      timeseries: [
        {
          labels: [
            { name: '__name__', value: 'up' },
            { name: 'job', value: 'prometheus' },
          ],
          samples: [{ value: 1, timestamp: 1_700_000_000_123 }],
        },
      ],
    };
    const body = snappyCompress(WriteRequestCodec.encode(request));
    expect(WriteRequestCodec.decode(snappyUncompress(body))).toEqual(request);
  });

  it('reads matcher types by name and fills absent repeated fields', () => {
    const bytes = ReadRequestCodec.encode({
      queries: [{ startTimestampMs: 1, endTimestampMs: 2, matchers: [{ type: 'RE', name: '__name__', value: 'cpu.*' }] }],
      acceptedResponseTypes: [],
    });
    const decoded = ReadRequestCodec.decode(bytes);
    expect(decoded.queries[0].matchers).toEqual([{ type: 'RE', name: '__name__', value: 'cpu.*' }]);
    expect(decoded.acceptedResponseTypes).toEqual([]);
  });

  it('keeps sample values and millisecond timestamps exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ value: fc.double(), timestamp: fc.integer({ min: 0, max: 2 ** 52 }) }), { maxLength: 20 }),
        (samples) => {
          const response = { results: [{ timeseries: [{ labels: [{ name: '__name__', value: 'm' }], samples }] }] };
          const back = ReadResponseCodec.decode(ReadResponseCodec.encode(response));
          expect(back.results[0].timeseries[0].samples.map((s) => s.timestamp)).toEqual(samples.map((s) => s.timestamp));
          expect(back.results[0].timeseries[0].samples.map((s) => s.value)).toEqual(samples.map((s) => s.value)); // NaN equals NaN, -0 is kept
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses bytes that are not snappy or not the message, with an error', () => {
    expect(() => snappyUncompress(Buffer.from('not snappy at all'))).toThrow();
    expect(() => WriteRequestCodec.decode(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]))).toThrow();
  });
});
