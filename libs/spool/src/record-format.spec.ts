import { crc32 } from 'node:zlib';
import {
  COMMITTED_BYTES,
  decodeCommitted,
  encodeCommitted,
  encodeRecord,
  HEADER_BYTES,
  MAX_RECORD_BYTES,
  parseHeader,
  parseMeta,
  parseSegmentFileName,
  RECORD_MAGIC,
  segmentFileName,
} from './record-format';

function wholeRecord(rp: string, precision: string, lines: number, appendedAt: number, body: Buffer): Buffer {
  const enc = encodeRecord({ rp, precision, lines, appendedAt }, body);
  return Buffer.concat([enc.head, enc.body]);
}

describe('spool record format', () => {
  it('lays a record out as header [magic, length, crc] then rp, precision, lines, appendedAt, body (little-endian)', () => {
    const body = Buffer.from('cpu v=1 1\n');
    const rec = wholeRecord('autogen', 'ms', 1, 1700000000123.5, body);

    expect(rec.readUInt16LE(0)).toBe(RECORD_MAGIC);
    expect(rec.subarray(0, 2).toString('latin1')).toBe('SP');
    expect(rec.readUInt32LE(2)).toBe(rec.length);
    expect(rec.readUInt32LE(6)).toBe(crc32(rec.subarray(HEADER_BYTES)));
    expect(rec.readUInt16LE(10)).toBe(7);
    expect(rec.toString('utf8', 12, 19)).toBe('autogen');
    expect(rec.readUInt8(19)).toBe(2);
    expect(rec.toString('utf8', 20, 22)).toBe('ms');
    expect(rec.readUInt32LE(22)).toBe(1);
    expect(rec.readDoubleLE(26)).toBe(1700000000123.5);
    expect(rec.subarray(34).equals(body)).toBe(true);
    expect(rec.length).toBe(34 + body.length);
  });

  it('parses back what it encodes, unicode rp and empty fields included', () => {
    for (const [rp, precision] of [
      ['', ''],
      ['rétention-☃-保持', 'ns'],
      ['a'.repeat(0xffff), 'h'],
    ]) {
      const body = Buffer.from('m f=1\n'.repeat(3));
      const rec = wholeRecord(rp, precision, 3, 42, body);
      const header = parseHeader(rec)!;
      expect(header.totalLength).toBe(rec.length);
      const payload = rec.subarray(HEADER_BYTES);
      const meta = parseMeta(payload, payload.length)!;
      expect(meta).toMatchObject({ rp, precision, lines: 3, appendedAt: 42 });
      expect(payload.subarray(meta.bodyOffset).equals(body)).toBe(true);
    }
  });

  it('refuses records it could not store or read back', () => {
    const body = Buffer.alloc(0);
    expect(() => encodeRecord({ rp: 'x'.repeat(0x10000), precision: '', lines: 0, appendedAt: 0 }, body)).toThrow(RangeError);
    expect(() => encodeRecord({ rp: '', precision: 'p'.repeat(256), lines: 0, appendedAt: 0 }, body)).toThrow(RangeError);
    expect(() => encodeRecord({ rp: '', precision: '', lines: -1, appendedAt: 0 }, body)).toThrow(RangeError);
    expect(() => encodeRecord({ rp: '', precision: '', lines: 1.5, appendedAt: 0 }, body)).toThrow(RangeError);
    expect(() => encodeRecord({ rp: '', precision: '', lines: 0, appendedAt: 0 }, Buffer.alloc(MAX_RECORD_BYTES))).toThrow(
      RangeError,
    );
    expect(() => encodeRecord({ rp: '', precision: '', lines: 0, appendedAt: 0 }, 'text' as unknown as Buffer)).toThrow(
      TypeError,
    );
  });

  it('reads a bad magic, a too-short or an absurd (> 64 MiB) length as no record', () => {
    const rec = wholeRecord('rp', 's', 1, 1, Buffer.from('x'));
    expect(parseHeader(rec)).not.toBeNull();
    const badMagic = Buffer.from(rec);
    badMagic[0] ^= 0xff;
    expect(parseHeader(badMagic)).toBeNull();
    const absurd = Buffer.from(rec);
    absurd.writeUInt32LE(MAX_RECORD_BYTES + 1, 2);
    expect(parseHeader(absurd)).toBeNull();
    const tiny = Buffer.from(rec);
    tiny.writeUInt32LE(HEADER_BYTES, 2);
    expect(parseHeader(tiny)).toBeNull();
    expect(parseHeader(rec.subarray(0, HEADER_BYTES - 1))).toBeNull();
  });

  it('reads metadata that overruns the payload as no record', () => {
    const rec = wholeRecord('retention', 'ms', 1, 1, Buffer.alloc(0));
    const payload = rec.subarray(HEADER_BYTES);
    expect(parseMeta(payload, payload.length)).not.toBeNull();
    expect(parseMeta(payload.subarray(0, payload.length - 1), payload.length - 1)).toBeNull();
    const longRp = Buffer.from(payload);
    longRp.writeUInt16LE(1000, 0);
    expect(parseMeta(longRp, longRp.length)).toBeNull();
  });

  it('names segments so that they sort by id', () => {
    expect(segmentFileName(1)).toBe('00000000000000000001.seg');
    const names = [10, 2, 300, 1].map(segmentFileName).sort();
    expect(names.map(parseSegmentFileName)).toEqual([1, 2, 10, 300]);
    expect(parseSegmentFileName('committed')).toBeNull();
    expect(parseSegmentFileName('1.seg')).toBeNull();
    expect(parseSegmentFileName('00000000000000000001.seg.tmp')).toBeNull();
  });

  it('round-trips the committed position and rejects a torn or altered one', () => {
    const buf = encodeCommitted({ segmentId: 12, offset: 2 ** 40 + 3 });
    expect(buf.length).toBe(COMMITTED_BYTES);
    expect(decodeCommitted(buf)).toEqual({ segmentId: 12, offset: 2 ** 40 + 3 });
    expect(decodeCommitted(buf.subarray(0, COMMITTED_BYTES - 1))).toBeNull();
    for (let i = 0; i < COMMITTED_BYTES; i++) {
      const bad = Buffer.from(buf);
      bad[i] ^= 0x01;
      expect(decodeCommitted(bad)).toBeNull();
    }
    expect(decodeCommitted(Buffer.alloc(COMMITTED_BYTES))).toBeNull();
  });
});
