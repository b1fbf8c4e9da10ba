import { type PromQuery, type PromReadRequest, ReadRequestCodec } from './remote-messages';
import { snappyUncompress } from './snappy-block';
import { SNAPPY_CORRUPT, snappyDecodedLength } from './snappy-length';

export { SNAPPY_CORRUPT, snappyDecodedLength };

/** influxd's answer to a read request holding no query (its one-query-per-request text, which it gives for zero too). */
export const NO_QUERY = 'Prometheus read endpoint currently only supports one query at a time';

/** Most bytes a read body may decode to (influxd's max-body-size): its snappy header says how many, before any is decoded. */
export const MAX_DECODED_BYTES = 25_000_000;

/** A remote read body decoded, or the status and text influxd gives for it. */
export type DecodedReadRequest = { ok: true; request: PromReadRequest } | { ok: false; status: number; error: string };

/**
 * Decodes a remote read body (snappy block, then protobuf ReadRequest) into its queries; never throws.
 * The error texts are influxd's where the cause is the same: `snappy: corrupt input`, `unexpected EOF`
 * for a message cut short; protobufjs's own text otherwise, prefixed as Go's proto package does.
 */
export function decodeReadRequest(body: Uint8Array): DecodedReadRequest {
  let bytes: Buffer;
  try {
    // an empty body is corrupt to Go's decoder too (influxd answers it so)
    if (body.length === 0) return { ok: false, status: 400, error: SNAPPY_CORRUPT };
    // a few KB of snappy can declare (and decode to) hundreds of MB: refused from its header
    const declared = snappyDecodedLength(body);
    if (declared === undefined) return { ok: false, status: 400, error: SNAPPY_CORRUPT };
    if (declared > MAX_DECODED_BYTES) return { ok: false, status: 413, error: 'Request Entity Too Large' };
    bytes = snappyUncompress(body);
  } catch {
    return { ok: false, status: 400, error: SNAPPY_CORRUPT };
  }
  let request: PromReadRequest;
  try {
    request = ReadRequestCodec.decode(bytes);
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    // protobufjs: "index out of range: 5 + 10 > 12" for a length or varint past the end
    if (message.startsWith('index out of range')) return { ok: false, status: 400, error: 'unexpected EOF' };
    return { ok: false, status: 400, error: `proto: ReadRequest: ${message}` };
  }
  if (request.queries.length === 0) return { ok: false, status: 400, error: NO_QUERY };
  return { ok: true, request };
}

/** One query of a request as a request of its own (what influxd reads), the client's accepted types kept. */
export function singleQueryRequest(request: PromReadRequest, query: PromQuery): PromReadRequest {
  return { queries: [query], acceptedResponseTypes: request.acceptedResponseTypes };
}
