import { crc32 } from 'node:zlib';

/*
 * On-disk format of a spool.
 *
 * A spool directory holds append-only segment files named `<id>.seg`, the id a 20-digit zero-padded
 * decimal (`00000000000000000001.seg`), so names sort in creation order, and a `committed` file.
 * A segment is a plain sequence of records, no file header. All integers are little-endian.
 *
 * Record = header (10 bytes) + payload:
 *
 *   offset  size  field
 *   0       2     magic        u16  0x5053 ('SP' read as little-endian bytes 0x53 0x50)
 *   2       4     totalLength  u32  bytes of the whole record, header included
 *   6       4     crc          u32  zlib.crc32 (CRC-32/ISO-HDLC) over the payload (bytes 10 .. totalLength)
 *   --- payload ---
 *   10      2     rpLength     u16  bytes of rp (UTF-8)
 *   12      n     rp
 *   12+n    1     precLength   u8   bytes of precision (UTF-8), in the low 7 bits; bit 0x80 set: a db follows
 *   13+n    p     precision
 *   (only with bit 0x80: u16 dbLength, then dbLength bytes of db (UTF-8) — the backend database the
 *    lines go to; records without it, every record written before it existed included, go to the
 *    backend's own `db`. Older readers never see the bit: precision is at most 2 bytes.)
 *   13+n+p  4     lines        u32
 *   17+n+p  8     appendedAt   f64  epoch milliseconds when the record was appended
 *   25+n+p  ...   body              the line-protocol bytes, up to totalLength
 *
 * A record longer than MAX_RECORD_BYTES (64 MiB) is never written; a length field beyond it is read
 * as corruption, which keeps a reader's memory bounded whatever the file holds.
 *
 * `committed` (24 bytes): magic u32 0x31435053 ('SPC1'), segment id u64, offset u64, crc u32 =
 * zlib.crc32 over bytes 0..19. It names the first record not yet delivered (the offset may equal the
 * segment's end). It is replaced atomically (write `committed.tmp`, fdatasync, rename).
 */

export const RECORD_MAGIC = 0x5053;
export const HEADER_BYTES = 10;
/** rpLength + precLength + lines + appendedAt. */
export const FIXED_PAYLOAD_BYTES = 2 + 1 + 4 + 8;
export const MIN_RECORD_BYTES = HEADER_BYTES + FIXED_PAYLOAD_BYTES;
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
/** Largest prefix of a payload that holds its metadata (rp, precision and db at their longest). */
export const MAX_META_BYTES = FIXED_PAYLOAD_BYTES + 0xffff + 0x7f + 2 + 0xffff;
/** precLength's bit saying a db field follows the precision. */
const HAS_DB = 0x80;

export const COMMITTED_MAGIC = 0x31435053;
export const COMMITTED_BYTES = 24;

export const SEGMENT_SUFFIX = '.seg';
const SEGMENT_NAME = /^(\d{20})\.seg$/;

export function segmentFileName(id: number): string {
  return String(id).padStart(20, '0') + SEGMENT_SUFFIX;
}

/** The id of a segment file name, or null for any other name. */
export function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? id : null;
}

export interface RecordFields {
  /** Absent or '': the backend's own db. */
  db?: string;
  rp: string;
  precision: string;
  lines: number;
  appendedAt: number;
}

/** A record ready to write: `head` (header + metadata) followed by the caller's `body`. */
export interface EncodedRecord {
  head: Buffer;
  body: Buffer;
  size: number;
}

/** Encodes a record's header and metadata; the body is written as is after them. Throws on a record that cannot be stored. */
export function encodeRecord(fields: RecordFields, body: Buffer): EncodedRecord {
  if (typeof fields.rp !== 'string' || typeof fields.precision !== 'string') {
    throw new TypeError('spool record: rp and precision must be strings');
  }
  if (!Buffer.isBuffer(body)) throw new TypeError('spool record: body must be a Buffer');
  if (!Number.isInteger(fields.lines) || fields.lines < 0 || fields.lines > 0xffffffff) {
    throw new RangeError(`spool record: lines must be an integer in [0, 2^32): ${fields.lines}`);
  }
  const rpLen = Buffer.byteLength(fields.rp, 'utf8');
  const precLen = Buffer.byteLength(fields.precision, 'utf8');
  const db = fields.db ?? '';
  const dbLen = Buffer.byteLength(db, 'utf8');
  if (rpLen > 0xffff) throw new RangeError(`spool record: rp is ${rpLen} bytes, at most 65535`);
  if (precLen > 0x7f) throw new RangeError(`spool record: precision is ${precLen} bytes, at most 127`);
  if (dbLen > 0xffff) throw new RangeError(`spool record: db is ${dbLen} bytes, at most 65535`);
  const headLen = HEADER_BYTES + FIXED_PAYLOAD_BYTES + rpLen + precLen + (dbLen > 0 ? 2 + dbLen : 0);
  const size = headLen + body.length;
  if (size > MAX_RECORD_BYTES) {
    throw new RangeError(`spool record: ${size} bytes, at most ${MAX_RECORD_BYTES}`);
  }
  const head = Buffer.allocUnsafe(headLen);
  let o = HEADER_BYTES;
  o = head.writeUInt16LE(rpLen, o);
  o += head.write(fields.rp, o, 'utf8');
  o = head.writeUInt8(dbLen > 0 ? precLen | HAS_DB : precLen, o);
  o += head.write(fields.precision, o, 'utf8');
  if (dbLen > 0) {
    o = head.writeUInt16LE(dbLen, o);
    o += head.write(db, o, 'utf8');
  }
  o = head.writeUInt32LE(fields.lines, o);
  head.writeDoubleLE(fields.appendedAt, o);
  const crc = crc32(body, crc32(head.subarray(HEADER_BYTES)));
  head.writeUInt16LE(RECORD_MAGIC, 0);
  head.writeUInt32LE(size, 2);
  head.writeUInt32LE(crc, 6);
  return { head, body, size };
}

export interface RecordHeader {
  totalLength: number;
  crc: number;
}

/** Parses a record header; null when it cannot start a record (bad magic, absurd length). */
export function parseHeader(buf: Buffer, offset = 0): RecordHeader | null {
  if (buf.length - offset < HEADER_BYTES) return null;
  if (buf.readUInt16LE(offset) !== RECORD_MAGIC) return null;
  const totalLength = buf.readUInt32LE(offset + 2);
  if (totalLength < MIN_RECORD_BYTES || totalLength > MAX_RECORD_BYTES) return null;
  return { totalLength, crc: buf.readUInt32LE(offset + 6) };
}

export interface RecordMeta extends RecordFields {
  /** Offset of the body within the payload. */
  bodyOffset: number;
}

/**
 * Parses the metadata at the start of a payload. `payloadLength` is the payload's full length,
 * `buf` may hold only a prefix of it. Null when the fields do not fit the payload.
 */
export function parseMeta(buf: Buffer, payloadLength: number): RecordMeta | null {
  const limit = Math.min(buf.length, payloadLength);
  if (limit < 2) return null;
  const rpLen = buf.readUInt16LE(0);
  let o = 2;
  if (o + rpLen + 1 > limit) return null;
  const rp = buf.toString('utf8', o, o + rpLen);
  o += rpLen;
  const precByte = buf.readUInt8(o);
  const precLen = precByte & ~HAS_DB;
  o += 1;
  if (o + precLen + 12 > limit) return null;
  const precision = buf.toString('utf8', o, o + precLen);
  o += precLen;
  let db: string | undefined;
  if (precByte & HAS_DB) {
    if (o + 2 > limit) return null;
    const dbLen = buf.readUInt16LE(o);
    o += 2;
    if (o + dbLen + 12 > limit) return null;
    db = buf.toString('utf8', o, o + dbLen);
    o += dbLen;
  }
  const lines = buf.readUInt32LE(o);
  o += 4;
  const appendedAt = buf.readDoubleLE(o);
  o += 8;
  return db === undefined ? { rp, precision, lines, appendedAt, bodyOffset: o } : { db, rp, precision, lines, appendedAt, bodyOffset: o };
}

export interface CommittedPosition {
  segmentId: number;
  offset: number;
}

export function encodeCommitted(pos: CommittedPosition): Buffer {
  const buf = Buffer.alloc(COMMITTED_BYTES);
  buf.writeUInt32LE(COMMITTED_MAGIC, 0);
  buf.writeBigUInt64LE(BigInt(pos.segmentId), 4);
  buf.writeBigUInt64LE(BigInt(pos.offset), 12);
  buf.writeUInt32LE(crc32(buf.subarray(0, 20)), 20);
  return buf;
}

/** The position in a `committed` file's contents, or null when they are not a valid one (torn, garbage). */
export function decodeCommitted(buf: Buffer): CommittedPosition | null {
  if (buf.length !== COMMITTED_BYTES) return null;
  if (buf.readUInt32LE(0) !== COMMITTED_MAGIC) return null;
  if (buf.readUInt32LE(20) !== crc32(buf.subarray(0, 20))) return null;
  const segmentId = buf.readBigUInt64LE(4);
  const offset = buf.readBigUInt64LE(12);
  if (segmentId > BigInt(Number.MAX_SAFE_INTEGER) || offset > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { segmentId: Number(segmentId), offset: Number(offset) };
}
