/**
 * The checks influxd 1.6's decoder (gogo/protobuf code generated for its prometheus/remote package)
 * makes on a WriteRequest's wire format, with its error texts, so that a body influxd refuses is
 * refused here in the same words. protobufjs (which does the decoding) is more lenient and words its
 * errors differently: it reads some bodies influxd refuses, e.g. a field of wire type 6.
 *
 * This only walks the tags and lengths (no value is built); the decoding stays protobufjs's.
 */

interface FieldShape {
  /** The Go field name gogo names in `wrong wireType` errors. */
  name: string;
  wireType: number;
  message?: MessageShape;
}
interface MessageShape {
  name: string;
  fields: Record<number, FieldShape>;
}

const SAMPLE: MessageShape = { name: 'Sample', fields: { 1: { name: 'Value', wireType: 1 }, 2: { name: 'TimestampMs', wireType: 0 } } };
const LABEL_PAIR: MessageShape = { name: 'LabelPair', fields: { 1: { name: 'Name', wireType: 2 }, 2: { name: 'Value', wireType: 2 } } };
const TIME_SERIES: MessageShape = {
  name: 'TimeSeries',
  fields: { 1: { name: 'Labels', wireType: 2, message: LABEL_PAIR }, 2: { name: 'Samples', wireType: 2, message: SAMPLE } },
};
const WRITE_REQUEST: MessageShape = { name: 'WriteRequest', fields: { 1: { name: 'Timeseries', wireType: 2, message: TIME_SERIES } } };

const EOF = 'unexpected EOF';
const OVERFLOW = 'proto: integer overflow';
const NEGATIVE_LENGTH = 'proto: negative length found during unmarshaling';
const TWO_POW_63 = 2 ** 63;

/** Thrown inside the walk with gogo's text; caught at the top. */
class WireError {
  constructor(readonly text: string) {}
}

/** The walk's read position (one walk runs at a time: it is synchronous). */
let at = 0;

/** gogo's error for `bytes` as a WriteRequest, or undefined where its decoder accepts them. */
export function writeRequestWireError(bytes: Uint8Array): string | undefined {
  at = 0;
  try {
    walkMessage(bytes, bytes.length, WRITE_REQUEST);
    return undefined;
  } catch (err) {
    if (err instanceof WireError) return err.text;
    throw err;
  }
}

/**
 * A varint read as gogo reads it into a uint64 (here a number: exact below 2^53, which covers every
 * length that fits in a body; past it only the wording of an error for nonsense bytes could differ).
 */
function varint(bytes: Uint8Array, end: number): number {
  if (at < end && bytes[at] < 0x80) return bytes[at++]; // tags and short lengths: one byte
  let value = 0;
  let scale = 1;
  for (let shift = 0; ; shift += 7) {
    if (shift >= 64) throw new WireError(OVERFLOW);
    if (at >= end) throw new WireError(EOF);
    const b = bytes[at++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
}

/** The varint in bytes[start, stop) exactly, as Go's uint64 (bits past 64 dropped, as `wire |= … << shift` drops them). */
function exactUint64(bytes: Uint8Array, start: number, stop: number): bigint {
  let value = 0n;
  for (let i = start, shift = 0n; i < stop; i++, shift += 7n) value |= BigInt(bytes[i] & 0x7f) << shift;
  return BigInt.asUintN(64, value);
}

/** A length-delimited field's end; gogo's checks on its length. */
function lengthEnd(bytes: Uint8Array, end: number): number {
  const length = varint(bytes, end);
  if (length >= TWO_POW_63) throw new WireError(NEGATIVE_LENGTH); // a negative int in Go
  const stop = at + length;
  if (stop > end) throw new WireError(EOF);
  return stop;
}

function walkMessage(bytes: Uint8Array, end: number, shape: MessageShape): void {
  while (at < end) {
    const start = at;
    const wire = varint(bytes, end);
    // past 2^53 a number has lost the key's low bits: read it again exactly (nonsense bytes only)
    const exact = wire > Number.MAX_SAFE_INTEGER ? exactUint64(bytes, start, at) : undefined;
    const wireType = bytes[start] & 7; // the first byte holds the low 7 bits
    // int32(wire >> 3), as Go truncates it
    const fieldNum = exact === undefined ? (Math.floor(wire / 8) % 2 ** 32) | 0 : Number(BigInt.asIntN(32, exact >> 3n));
    if (wireType === 4) throw new WireError(`proto: ${shape.name}: wiretype end group for non-group`);
    if (fieldNum <= 0) throw new WireError(`proto: ${shape.name}: illegal tag ${fieldNum} (wire type ${exact ?? wire})`);
    const field = shape.fields[fieldNum];
    if (!field) {
      at = start;
      skipField(bytes, end);
      if (at > end) throw new WireError(EOF);
      continue;
    }
    if (wireType !== field.wireType) throw new WireError(`proto: wrong wireType = ${wireType} for field ${field.name}`);
    if (wireType === 0) varint(bytes, end);
    else if (wireType === 1) {
      if (at + 8 > end) throw new WireError(EOF);
      at += 8;
    } else {
      const stop = lengthEnd(bytes, end);
      if (field.message) walkMessage(bytes, stop, field.message);
      at = stop;
    }
  }
}

/**
 * Skips an unknown field as gogo's skipRemote does; `at` may end past `end` (a fixed-size value cut
 * short), which the caller reports as EOF. Nested groups are counted, not recursed into, so no body
 * can exhaust the stack.
 */
function skipField(bytes: Uint8Array, end: number): void {
  const wireType = bytes[at] & 7;
  varint(bytes, end);
  if (wireType !== 3) return skipValue(bytes, end, wireType);
  for (let depth = 1; depth > 0;) {
    const inner = bytes[at] & 7;
    varint(bytes, end);
    if (inner === 4) depth--;
    else if (inner === 3) depth++;
    else skipValue(bytes, end, inner);
  }
}

function skipValue(bytes: Uint8Array, end: number, wireType: number): void {
  switch (wireType) {
    case 0:
      varint(bytes, end);
      return;
    case 1:
      at += 8;
      return;
    case 2: {
      const length = varint(bytes, end);
      if (length >= TWO_POW_63) throw new WireError(NEGATIVE_LENGTH);
      at += length;
      return;
    }
    case 4:
      return;
    case 5:
      at += 4;
      return;
    default:
      throw new WireError(`proto: illegal wireType ${wireType}`);
  }
}
