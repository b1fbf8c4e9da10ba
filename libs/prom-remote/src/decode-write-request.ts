import type { PromWriteRequest } from './remote-messages';
import { readWriteRequest } from './read-write-request';
import { SNAPPY_CORRUPT } from './snappy-length';
import { snappyUncompress } from './snappy-block';
import { writeRequestWireError } from './write-request-wire';

/** A decoded remote-write body, or why it is not one in the words influxd uses (answered with 400). */
export type DecodedWriteRequest = { request: PromWriteRequest; error?: undefined } | { error: string };

/**
 * A remote-write body (a snappy block holding a protobuf WriteRequest) decoded; never throws. The
 * caller bounds the decoded size first (snappyDecodedLength).
 */
export function decodeWriteRequest(block: Uint8Array): DecodedWriteRequest {
  let bytes: Buffer;
  try {
    bytes = snappyUncompress(block);
  } catch {
    return { error: SNAPPY_CORRUPT };
  }
  // gogo's checks first: they refuse what influxd refuses, in its words
  const wireError = writeRequestWireError(bytes);
  if (wireError !== undefined) return { error: wireError };
  // what the walk accepts is whole: read without protobufjs (its objects, then toObject's copies, were
  // two thirds of a Prometheus-sized request's decoding)
  try {
    return { request: readWriteRequest(bytes) };
  } catch (err) {
    return { error: protobufErrorText(err) }; // not expected past the walk; kept so this never throws
  }
}

/**
 * Decode errors (for what passes writeRequestWireError yet the reader refuses, if anything does;
 * worded as protobufjs's, whose decoder this was) in the words of the gogo/protobuf decoder influxd uses: a message cut
 * short is `unexpected EOF`; a wire type that cannot be read is `proto: illegal wireType N`; any
 * other is passed on after `proto: `.
 */
export function protobufErrorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('index out of range')) return 'unexpected EOF';
  const wire = /invalid wire type (\d+)/.exec(message);
  if (wire) return `proto: illegal wireType ${wire[1]}`;
  return `proto: ${message}`;
}
