import fc from 'fast-check';
import { MAX_DECODED_BYTES, NO_QUERY, SNAPPY_CORRUPT, decodeReadRequest, singleQueryRequest, snappyDecodedLength } from './read-request';
import { ReadRequestCodec } from './remote-messages';
import { snappyCompress } from './snappy-block';

describe('decodeReadRequest', () => {
  const request = {
    queries: [
      { startTimestampMs: 1, endTimestampMs: 2, matchers: [{ type: 'EQ' as const, name: '__name__', value: 'up' }] },
      { startTimestampMs: 3, endTimestampMs: 4, matchers: [{ type: 'RE' as const, name: 'job', value: 'a.*' }] },
    ],
    acceptedResponseTypes: ['SAMPLES' as const],
  };

  it('decodes a snappy ReadRequest, every query kept', () => {
    const decoded = decodeReadRequest(snappyCompress(ReadRequestCodec.encode(request)));
    expect(decoded.ok).toBe(true);
    expect(decoded.ok && decoded.request).toMatchObject(request);
  });

  it('gives influxd 1.6.7 texts for the bodies it refuses', () => {
    expect(decodeReadRequest(Buffer.alloc(0))).toEqual({ ok: false, status: 400, error: SNAPPY_CORRUPT });
    expect(decodeReadRequest(Buffer.from('not snappy'))).toEqual({ ok: false, status: 400, error: 'snappy: corrupt input' });
    expect(decodeReadRequest(snappyCompress(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])))).toEqual({
      ok: false,
      status: 400,
      error: 'unexpected EOF',
    });
    expect(decodeReadRequest(snappyCompress(Buffer.alloc(0)))).toEqual({ ok: false, status: 400, error: NO_QUERY });
    // field 5, wire type 7: Go's proto package words it its own way; the proxy gives protobufjs's words with Go's prefix
    expect(decodeReadRequest(snappyCompress(Buffer.from([0x2f, 0, 0])))).toEqual({
      ok: false,
      status: 400,
      error: 'proto: ReadRequest: invalid wire type 7 at offset 1',
    });
  });

  it('refuses a block declaring more than 25,000,000 decoded bytes from its header, before decoding it', () => {
    const bomb = snappyCompress(Buffer.alloc(MAX_DECODED_BYTES + 1));
    expect(bomb.length).toBeLessThan(1_300_000);
    expect(snappyDecodedLength(bomb)).toBe(MAX_DECODED_BYTES + 1);
    expect(decodeReadRequest(bomb)).toEqual({ ok: false, status: 413, error: 'Request Entity Too Large' });
    expect(snappyDecodedLength(Buffer.from([0x80, 0x80]))).toBeUndefined();
    expect(snappyDecodedLength(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]))).toBeUndefined();
    expect(snappyDecodedLength(Buffer.from([0xac, 0x02]))).toBe(300);
  });

  it('never throws on random bytes, snappy-wrapped or not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, wrap) => {
        const decoded = decodeReadRequest(wrap ? snappyCompress(bytes) : bytes);
        if (!decoded.ok) expect(typeof decoded.error).toBe('string');
        else expect(decoded.request.queries.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('makes one query a request of its own for the backend', () => {
    expect(singleQueryRequest(request, request.queries[1])).toEqual({ queries: [request.queries[1]], acceptedResponseTypes: ['SAMPLES'] });
  });
});
