import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { HEADER_BYTES, MAX_META_BYTES, parseHeader, parseMeta } from './record-format';

/** Reads `len` bytes at `position` into `buf[off..]`, looping over short reads; returns the bytes read (less at end of file). */
export async function readFully(
  fh: FileHandle,
  buf: Buffer,
  off: number,
  len: number,
  position: number,
): Promise<number> {
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, off + got, len - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** Writes all of `bufs` (in order, at the end of an append-mode file), looping over short writes. */
export async function writeFully(fh: FileHandle, bufs: Buffer[], total: number): Promise<void> {
  const { bytesWritten } = await fh.writev(bufs);
  let done = bytesWritten;
  if (done === total) return;
  // a short write (rare on a regular file: typically the disk filled up); write the rest, which
  // either completes or fails with the real error
  let skip = done;
  for (const buf of bufs) {
    if (skip >= buf.length) {
      skip -= buf.length;
      continue;
    }
    let at = skip;
    skip = 0;
    while (at < buf.length) {
      const { bytesWritten: n } = await fh.write(buf, at, buf.length - at);
      if (n <= 0) throw new Error(`short write: ${done} of ${total} bytes`);
      at += n;
      done += n;
    }
  }
}

export interface ScanResult {
  /** End of the last whole, CRC-valid record: where the readable part of the segment ends. */
  end: number;
  records: number;
  bytes: number;
  /** appendedAt of the first record found, null when none. */
  firstAppendedAt: number | null;
}

/**
 * Walks the records of a segment from `start` (a record boundary) to `size`, checking each one's
 * magic, length and CRC, and stops at the first that is torn or corrupt (`end` < `size` then).
 * Memory is bounded by `chunkBytes`: payloads are checksummed a chunk at a time. Every step moves
 * forward by at least a record's minimum size, so it ends whatever the file holds.
 */
export async function scanRecords(
  fh: FileHandle,
  start: number,
  size: number,
  chunkBytes = 1024 * 1024,
): Promise<ScanResult> {
  const chunk = Math.max(chunkBytes, HEADER_BYTES + MAX_META_BYTES);
  const buf = Buffer.allocUnsafe(chunk);
  let bufStart = 0;
  let bufLen = 0;
  // a view of [pos, pos + n) valid until the next call, or null past the end of the file
  const view = async (pos: number, n: number): Promise<Buffer | null> => {
    if (pos >= bufStart && pos + n <= bufStart + bufLen) return buf.subarray(pos - bufStart, pos - bufStart + n);
    bufStart = pos;
    bufLen = await readFully(fh, buf, 0, Math.min(chunk, size - pos), pos);
    return n <= bufLen ? buf.subarray(0, n) : null;
  };

  const result: ScanResult = { end: start, records: 0, bytes: 0, firstAppendedAt: null };
  let pos = start;
  while (size - pos >= HEADER_BYTES) {
    const hv = await view(pos, HEADER_BYTES);
    const header = hv && parseHeader(hv);
    if (!header || header.totalLength > size - pos) break;
    const payloadStart = pos + HEADER_BYTES;
    const recordEnd = pos + header.totalLength;
    const payloadLength = header.totalLength - HEADER_BYTES;
    let crc = 0;
    let appendedAt: number | null = null;
    let p = payloadStart;
    let whole = true;
    while (p < recordEnd) {
      const v = await view(p, Math.min(chunk, recordEnd - p));
      if (!v) {
        whole = false;
        break;
      }
      if (p === payloadStart) appendedAt = parseMeta(v, payloadLength)?.appendedAt ?? null;
      crc = crc32(v, crc);
      p += v.length;
    }
    if (!whole || appendedAt === null || crc !== header.crc) break;
    result.records++;
    result.bytes += header.totalLength;
    result.firstAppendedAt ??= appendedAt;
    pos = recordEnd;
    result.end = pos;
  }
  return result;
}
