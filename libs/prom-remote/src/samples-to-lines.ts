// the module itself, not the package index: its re-exports are getters, called per label here
import { escapeMeasurement, escapeTag } from '@app/line-protocol/escape';
import type { PromLabel, PromWriteRequest } from './remote-messages';

/**
 * Prometheus remote write → line protocol, point for point as influxd 1.6 stores a remote write
 * (prometheus/converters.go, WriteRequestToPoints, checked against the installed influxd 1.6.7):
 *
 * - measurement: the `__name__` label's value; a series without one goes to `prom_metric_not_specified`;
 * - tags: every label, `__name__` included (influxd 1.x keeps it as a tag), one per name (the last one
 *   wins, as in influxd's map), sorted by name; a label with an empty value is no tag (influxd drops it);
 * - one field, `value`, a float; the time is the sample's milliseconds (written with precision `ms`);
 * - a NaN sample (Prometheus's staleness marker among them) is no point and no error;
 * - a ±Inf sample fails the whole request with influxd's 400 text, before anything is written.
 *
 * Where line protocol cannot say what influxd stores through its Go API, the line says the nearest
 * thing: an empty `__name__` is `prom_metric_not_specified` (influxd stores a measurement named ''),
 * a label with an empty name is left out (influxd stores a tag with an empty key, which its own line
 * protocol refuses), and a line break in a name or value is written as a space (escape.ts).
 */

/** Where influxd puts a series without a metric name. */
export const UNNAMED_MEASUREMENT = 'prom_metric_not_specified';
const NAME_LABEL = '__name__';
const FIELD = ' value=';

/** influxd's text for a ±Inf sample (models.NewPoint); its status is 400. */
export const INF_VALUE_ERROR = '+/-Inf is an unsupported value for field value';

/** A sample influxd refuses: the request is answered 400 with this text, nothing written. */
export class SampleValueError extends Error {}

export interface SampleLines {
  /** The lines, each ending in `\n`: a view of one buffer from `acquire` (release that buffer, or this view, once). */
  body: Buffer;
  lines: number;
  /** NaN samples left out. */
  nanDropped: number;
  /** Where each series' lines end in `body` (they begin where the series before it ends; the first at 0). */
  seriesEnds: Int32Array;
  /** How many lines each series wrote (its samples but the NaN ones). */
  seriesLines: Int32Array;
}

/**
 * Bytes a sample's line takes after its series key and ` value=`, at most: a float as
 * JavaScript prints it (25 characters at most, e.g. `-0.0000012345678901234567`; 32 leaves room),
 * a space, an integer millisecond time (at most 21 characters with the sign) and the line break.
 */
const MAX_SAMPLE_TAIL = 32 + 1 + 21 + 1;

/** What samplesToLines needs, known before any buffer is taken. */
export interface LinesPlan {
  /** The lines' bytes, at most. */
  bytes: number;
  /** Each series' key (undefined for a series without samples), built once. */
  keys: (string | undefined)[];
  /**
   * Each series' measurement as a line-protocol scanner reads it back from the series' lines (the name
   * routing goes by); undefined for a series without samples. Meaningful only when `plain` is true.
   */
  measurements: (string | undefined)[];
  /**
   * Every line will scan as a plain line: a line of its own, well formed, with its timestamp, its
   * measurement the series' `measurements` entry. False when some series key holds a byte that can make
   * a scanner read its lines otherwise (a '"', a trailing '\', a leading '#', tab or NUL): then only
   * scanning the lines tells what a backend would make of them.
   */
  plain: boolean;
}

/**
 * Measures the lines `request` becomes (each series key built once). Throws SampleValueError on a
 * ±Inf sample, so a refused request costs no buffer.
 */
export function planLines(request: PromWriteRequest): LinesPlan {
  const series = request.timeseries;
  const keys = new Array<string | undefined>(series.length);
  const measurements = new Array<string | undefined>(series.length);
  let plain = true;
  let bytes = 0;
  for (let s = 0; s < series.length; s++) {
    const samples = series[s].samples;
    if (samples.length === 0) continue;
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i].value;
      if (v === Infinity || v === -Infinity) throw new SampleValueError(INF_VALUE_ERROR);
    }
    const key = keyOf(series[s].labels);
    const measurement = scannedMeasurement(key, keyMeasurement);
    if (measurement === undefined) plain = false;
    measurements[s] = measurement;
    keys[s] = key + FIELD;
    bytes += samples.length * (Buffer.byteLength(key, 'utf8') + FIELD.length + MAX_SAMPLE_TAIL);
  }
  return { bytes, keys, measurements, plain };
}

const BACKSLASH = 0x5c;
const HASH = 0x23;
const TAB = 0x09;
const NUL = 0x00;
const COMMA = 0x2c;
const SPACE = 0x20;

/**
 * The measurement a line-protocol scanner (influxd's, and the proxy's libs/line-protocol) reads from
 * `key value=<float> <ms>`, or undefined when such a line might not scan as one plain, well-formed line
 * with a timestamp. `measurement` is the series' metric name as seriesKey escaped it.
 *
 * Why this is exact: the float and time parts are digits, '.', 'e', '+' and '-' only, so a line holds a
 * '"' only if its key does (without one, a line ends at its '\n', which follows a digit and no '\');
 * a key whose first byte is '#', a tab or a NUL is read as a comment or loses that byte. Every ' ' in a
 * key is an escaped one ('\ '), so the key always ends at ` value=` — unless the key ends in a '\',
 * which escapes that space. Otherwise the measurement runs to the first ',' not preceded by '\' (the
 * scanner looks at the previous byte only), and it is read unescaped (`\,` and `\ ` only).
 */
function scannedMeasurement(key: string, measurement: string): string | undefined {
  const first = key.charCodeAt(0);
  if (first === HASH || first === TAB || first === NUL) return undefined;
  if (key.indexOf('"') >= 0) return undefined;
  if (key.indexOf('\\') < 0) return measurement; // nothing escaped: the key starts with the name as it is
  if (key.charCodeAt(key.length - 1) === BACKSLASH) return undefined;
  let end = key.length;
  for (let i = 1; i < key.length; i++) {
    if (key.charCodeAt(i) === COMMA && key.charCodeAt(i - 1) !== BACKSLASH) {
      end = i;
      break;
    }
  }
  // the scanner's unescapeMeasurement, on the string: a '\' before ',' or ' ' is dropped, any other kept
  let name = '';
  for (let i = 0; i < end; i++) {
    const c = key.charCodeAt(i);
    if (c === BACKSLASH && i + 1 < end) {
      const n = key.charCodeAt(i + 1);
      if (n === COMMA || n === SPACE) {
        name += key[i + 1];
        i++;
        continue;
      }
    }
    name += key[i];
  }
  return name;
}

/**
 * Writes the request's samples as lines (precision `ms`) into one buffer of `plan.bytes` bytes from
 * `acquire`; per sample only its value and time are printed.
 */
export function samplesToLines(request: PromWriteRequest, plan: LinesPlan, acquire: (size: number) => Buffer): SampleLines {
  const buf = acquire(plan.bytes);
  const series = request.timeseries;
  const seriesEnds = new Int32Array(series.length);
  const seriesLines = new Int32Array(series.length);
  let at = 0;
  let lines = 0;
  let nanDropped = 0;
  for (let s = 0; s < series.length; s++) {
    const key = plan.keys[s];
    seriesEnds[s] = at;
    if (key === undefined) continue;
    const linesBefore = lines;
    const samples = series[s].samples;
    // the key is encoded once per series and copied for its other lines; the numbers are written
    // digit by digit (a string per line, concatenated and then encoded, took about 15 % longer on the
    // bench's request, and allocated per sample)
    let keyStart = -1;
    let keyLength = 0;
    for (let i = 0; i < samples.length; i++) {
      const { value, timestamp } = samples[i];
      if (Number.isNaN(value)) {
        nanDropped++;
        continue;
      }
      if (keyStart < 0) {
        keyStart = at;
        keyLength = buf.write(key, at, 'utf8');
        at += keyLength;
      } else {
        // TypedArray#copyWithin: Buffer#copy goes through a JS wrapper first (3 % of a request's time)
        buf.copyWithin(at, keyStart, keyStart + keyLength);
        at += keyLength;
      }
      at = writeFloat(buf, at, value);
      buf[at++] = SPACE;
      at = writeInteger(buf, at, timestamp);
      buf[at++] = NEWLINE;
      lines++;
    }
    seriesEnds[s] = at;
    seriesLines[s] = lines - linesBefore;
  }
  return { body: buf.subarray(0, at), lines, nanDropped, seriesEnds, seriesLines };
}

/** `measurement,tag=value,…` for a series' labels, escaped for line protocol. */
export function seriesKey(labels: readonly PromLabel[]): string {
  return keyOf(labels);
}

/** The measurement (escaped) of the key keyOf built last: read at once after the call. */
let keyMeasurement = '';

function keyOf(labels: readonly PromLabel[]): string {
  // influxd reads labels into a map (the last of one name wins), then sorts the tags by name
  // Prometheus sends labels sorted: those are taken as they are, the others copied and sorted (a
  // stable sort keeps equal names in arrival order)
  const sorted = isSortedByName(labels) ? labels : [...labels].sort(byName);
  let measurement = UNNAMED_MEASUREMENT;
  let tags = '';
  for (let i = 0; i < sorted.length; i++) {
    const { name, value } = sorted[i];
    if (i + 1 < sorted.length && sorted[i + 1].name === name) continue; // a later label of this name wins
    if (name === NAME_LABEL && value !== '') measurement = value;
    if (name === '' || value === '') continue;
    tags += `,${escapeTag(name)}=${escapeTag(value)}`;
  }
  keyMeasurement = escapeMeasurement(measurement);
  return keyMeasurement + tags;
}

function isSortedByName(labels: readonly PromLabel[]): boolean {
  for (let i = 1; i < labels.length; i++) if (labels[i - 1].name > labels[i].name) return false;
  return true;
}

function byName(a: PromLabel, b: PromLabel): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Integers below this (in magnitude) are printed exactly by writeDigits. */
const EXACT_INTEGER = 2 ** 53;
const MINUS = 0x2d;
const ZERO = 0x30;
const NEWLINE = 0x0a;

/**
 * A float as line protocol reads it back to the same float64: JavaScript's shortest round-trip
 * form (`1e+21`, `5e-324` and integral values like `3` are all floats to influxd without an `i`),
 * and `-0` kept negative, as influxd keeps it. An integral value is written digit by digit (String
 * gives the same digits below 2^53); any other is String's form, which is ASCII.
 */
function writeFloat(buf: Buffer, at: number, v: number): number {
  if (v === 0 && 1 / v < 0) {
    buf[at] = MINUS;
    buf[at + 1] = ZERO;
    return at + 2;
  }
  if (Number.isInteger(v) && v > -EXACT_INTEGER && v < EXACT_INTEGER) return writeDigits(buf, at, v);
  return writeAscii(buf, at, String(v));
}

/** An integer (a sample's millisecond time) as String prints it. */
function writeInteger(buf: Buffer, at: number, n: number): number {
  return n > -EXACT_INTEGER && n < EXACT_INTEGER ? writeDigits(buf, at, n) : writeAscii(buf, at, String(n));
}

/** An integer of magnitude below 2^53, in decimal, with a '-' when negative (as String prints it). */
function writeDigits(buf: Buffer, at: number, n: number): number {
  if (n < 0) {
    buf[at++] = MINUS;
    n = -n;
  }
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    buf[i] = ZERO + (n - q * 10);
    n = q;
  }
  return end;
}

function writeAscii(buf: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i);
  return at;
}
