import * as protobuf from 'protobufjs';

/**
 * The messages of Prometheus's remote storage protocol (its prompb package, remote.proto and
 * types.proto), as protobufjs types built from the schema at load time. Only the fields this proxy
 * reads or writes are declared: protobuf skips the others (exemplars, histograms, metadata) when it
 * decodes, and Prometheus does the same with what we leave out. Timestamps are milliseconds since the
 * epoch; int64 fields decode as numbers (`longs: Number`), exact up to 2^53 ms, far past any sample time.
 */
const SCHEMA = `
syntax = "proto3";
package prometheus;

message Sample { double value = 1; int64 timestamp = 2; }
message Label { string name = 1; string value = 2; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message LabelMatcher {
  enum Type { EQ = 0; NEQ = 1; RE = 2; NRE = 3; }
  Type type = 1; string name = 2; string value = 3;
}
message ReadHints {
  int64 step_ms = 1; string func = 2; int64 start_ms = 3; int64 end_ms = 4;
  repeated string grouping = 5; bool by = 6; int64 range_ms = 7;
}

message WriteRequest { repeated TimeSeries timeseries = 1; }
message Query {
  int64 start_timestamp_ms = 1; int64 end_timestamp_ms = 2;
  repeated LabelMatcher matchers = 3; ReadHints hints = 4;
}
message ReadRequest {
  enum ResponseType { SAMPLES = 0; STREAMED_XOR_CHUNKS = 1; }
  repeated Query queries = 1; repeated ResponseType accepted_response_types = 2;
}
message QueryResult { repeated TimeSeries timeseries = 1; }
message ReadResponse { repeated QueryResult results = 1; }
`;

const root = protobuf.parse(SCHEMA, { keepCase: false }).root;

export interface PromLabel {
  name: string;
  value: string;
}
export interface PromSample {
  value: number;
  /** ms since the epoch */
  timestamp: number;
}
export interface PromTimeSeries {
  labels: PromLabel[];
  samples: PromSample[];
}
export interface PromWriteRequest {
  timeseries: PromTimeSeries[];
}
export type PromMatcherType = 'EQ' | 'NEQ' | 'RE' | 'NRE';
export interface PromLabelMatcher {
  type: PromMatcherType;
  name: string;
  value: string;
}
export interface PromQuery {
  startTimestampMs: number;
  endTimestampMs: number;
  matchers: PromLabelMatcher[];
  hints?: { stepMs: number; func: string; startMs: number; endMs: number; grouping: string[]; by: boolean; rangeMs: number };
}
export interface PromReadRequest {
  queries: PromQuery[];
  acceptedResponseTypes: ('SAMPLES' | 'STREAMED_XOR_CHUNKS')[];
}
export interface PromReadResponse {
  results: { timeseries: PromTimeSeries[] }[];
}

/** How decoded messages are turned into plain objects: numbers for int64, names for enums, [] for absent repeated fields. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, arrays: true, defaults: true };

function codec<T>(name: string): { decode(bytes: Uint8Array): T; encode(message: T): Uint8Array } {
  const type = root.lookupType(`prometheus.${name}`);
  return {
    /** Throws (protobufjs's Error, e.g. "index out of range", "invalid wire type") on bytes that are not this message. */
    decode: (bytes) => type.toObject(type.decode(bytes), TO_OBJECT) as T,
    encode: (message) => type.encode(type.fromObject(message as object)).finish(),
  };
}

export const WriteRequestCodec = codec<PromWriteRequest>('WriteRequest');
export const ReadRequestCodec = codec<PromReadRequest>('ReadRequest');
export const ReadResponseCodec = codec<PromReadResponse>('ReadResponse');
