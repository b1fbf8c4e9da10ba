import type { PromLabel, PromSample, PromTimeSeries, PromWriteRequest } from './remote-messages';

/**
 * A WriteRequest read straight off its protobuf bytes into the plain objects WriteRequestCodec.decode
 * returns (the same values: labels' strings as Buffer#toString reads UTF-8, doubles as stored, int64
 * timestamps as numbers the way protobufjs's `longs: Number` makes them, absent fields as proto3's
 * defaults, unknown fields skipped). protobufjs builds each message, then copies it into a plain
 * object (toObject): for a Prometheus-sized request that was two thirds of the decoding time.
 *
 * Only for bytes writeRequestWireError accepted: every tag, wire type and length has been checked
 * there (gogo's checks), so this reads without checking them again.
 */
export function readWriteRequest(bytes: Buffer): PromWriteRequest {
  pos = 0;
  textAt.fill(-1); // the cache's offsets are into the previous request's bytes
  const timeseries: PromTimeSeries[] = [];
  const end = bytes.length;
  while (pos < end) {
    const key = varint32(bytes);
    if (key === 0x0a) {
      const stop = lengthEnd(bytes);
      timeseries.push(readTimeSeries(bytes, stop));
      pos = stop;
    } else skip(bytes, key, 0);
  }
  return { timeseries };
}

/** The read position (one read runs at a time: it is synchronous). */
let pos = 0;

function readTimeSeries(bytes: Buffer, end: number): PromTimeSeries {
  const labels: PromLabel[] = [];
  const samples: PromSample[] = [];
  while (pos < end) {
    const key = varint32(bytes);
    if (key === 0x0a) {
      const stop = lengthEnd(bytes);
      labels.push(readLabel(bytes, stop));
      pos = stop;
    } else if (key === 0x12) {
      const stop = lengthEnd(bytes);
      samples.push(readSample(bytes, stop));
      pos = stop;
    } else skip(bytes, key, 1);
  }
  return { labels, samples };
}

function readLabel(bytes: Buffer, end: number): PromLabel {
  let name = '';
  let value = '';
  while (pos < end) {
    const key = varint32(bytes);
    if (key === 0x0a || key === 0x12) {
      const stop = lengthEnd(bytes);
      const read = text(bytes, pos, stop);
      if (key === 0x0a) name = read;
      else value = read;
      pos = stop;
    } else skip(bytes, key, 2);
  }
  return { name, value };
}

function readSample(bytes: Buffer, end: number): PromSample {
  let value = 0;
  let timestamp = 0;
  while (pos < end) {
    const key = varint32(bytes);
    if (key === 0x09) {
      value = bytes.readDoubleLE(pos);
      pos += 8;
    } else if (key === 0x10) timestamp = int64(bytes);
    else skip(bytes, key, 2);
  }
  return { value, timestamp };
}

/*
 * Label names, and most values, repeat from series to series (job, instance, __name__ across a
 * family's series): a string already read from the same bytes earlier in the request is taken again
 * instead of decoded again (a native call, about half the reading time). A small direct-mapped cache,
 * by the bytes' length and first and last byte; a hit is checked byte for byte.
 */
const TEXT_SLOTS = 256;
const TEXT_CACHED_MAX = 64;
const textAt = new Int32Array(TEXT_SLOTS).fill(-1);
const textLength = new Int32Array(TEXT_SLOTS);
const textRead: string[] = new Array<string>(TEXT_SLOTS).fill('');

/** The UTF-8 text of bytes[start, stop), as Buffer#toString reads it. */
function text(bytes: Buffer, start: number, stop: number): string {
  const length = stop - start;
  if (length === 0) return '';
  if (length > TEXT_CACHED_MAX) return bytes.toString('utf8', start, stop);
  const slot = (length * 31 + bytes[start] * 7 + bytes[stop - 1]) & (TEXT_SLOTS - 1);
  const at = textAt[slot];
  if (at >= 0 && textLength[slot] === length) {
    let i = 0;
    while (i < length && bytes[at + i] === bytes[start + i]) i++;
    if (i === length) return textRead[slot];
  }
  const read = bytes.toString('utf8', start, stop);
  textAt[slot] = start;
  textLength[slot] = length;
  textRead[slot] = read;
  return read;
}

/** A tag or a length: the low 32 bits of a varint (what protobufjs's uint32() reads). */
function varint32(bytes: Buffer): number {
  let b = bytes[pos++];
  if (b < 0x80) return b;
  let value = b & 0x7f;
  let scale = 128;
  for (let i = 1; i < 10; i++) {
    b = bytes[pos++];
    if (i < 5) value += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  return value >>> 0;
}

function lengthEnd(bytes: Buffer): number {
  const length = varint32(bytes);
  return pos + length;
}

/**
 * An int64 varint as protobufjs's `longs: Number` gives it: exact below 2^53, its two 32-bit halves
 * combined as LongBits#toNumber combines them beyond (a negative value is negated from its magnitude).
 */
function int64(bytes: Buffer): number {
  // sample times (13-digit milliseconds) take 6 bytes: a product of exact doubles up to 7 bytes (2^49)
  let value = 0;
  let scale = 1;
  const start = pos;
  for (let i = 0; i < 7; i++) {
    const b = bytes[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
  pos = start;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    const b = bytes[pos++] & 0x7f;
    const shift = i * 7;
    if (shift < 28) lo |= b << shift;
    else if (shift === 28) {
      lo |= b << 28;
      hi |= b >>> 4;
    } else hi |= b << (shift - 32);
    if (bytes[pos - 1] < 0x80) break;
  }
  lo >>>= 0;
  hi >>>= 0;
  if (hi >>> 31 === 0) return hi * 4294967296 + lo;
  // two's complement, as LongBits#toNumber(false) takes it
  lo = (~lo + 1) >>> 0;
  hi = ~hi >>> 0;
  if (lo === 0) hi = (hi + 1) >>> 0;
  return -(lo + hi * 4294967296);
}

/**
 * Protobufjs's limit on nested groups (Reader.recursionLimit), counted from the message's own depth as
 * it counts: where it stops, this stops with its error, so that the answer stays what it was.
 */
const NESTING_LIMIT = 100;

/**
 * Skips a field of a number this reader does not keep, in a message `depth` deep (0: the
 * WriteRequest); the wire walk has checked it is whole. Groups are counted, not recursed into, so no
 * body can exhaust the stack.
 */
function skip(bytes: Buffer, key: number, depth: number): void {
  if ((key & 7) !== 3) return skipValue(bytes, key & 7);
  for (let groups = 1; groups > 0;) {
    const inner = varint32(bytes) & 7;
    if (inner === 4) {
      groups--;
      continue;
    }
    if (depth + groups > NESTING_LIMIT) throw new Error('maximum nesting depth exceeded');
    if (inner === 3) groups++;
    else skipValue(bytes, inner);
  }
}

function skipValue(bytes: Buffer, wireType: number): void {
  switch (wireType) {
    case 0:
      while (bytes[pos++] >= 0x80);
      return;
    case 1:
      pos += 8;
      return;
    case 2:
      pos = lengthEnd(bytes);
      return;
    case 5:
      pos += 4;
      return;
  }
}
