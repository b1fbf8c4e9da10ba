import { escapeFieldKey, escapeMeasurement, escapeTag, quoteStringField } from '@app/line-protocol';
import { type MsgpackValue, extTimeNs } from './influx-msgpack';

/**
 * influxd's rows (a `SELECT * … GROUP BY *` answer read as msgpack) turned back into line protocol: by the
 * data-movement copy as a whole (seriesToLines), and by SELECT … INTO through its parts (select-into.ts).
 *
 * - measurement: the series' name; tags: the series' tags, sorted (influxd's own order), a tag with an
 *   empty value left out (influxd stores no empty tag);
 * - every column but `time` is a field, typed by its msgpack type: integer → `…i` (a uint64 above int64's
 *   range → `…u`), float → as JS prints it (the shortest text that reads back as the same float64),
 *   string → quoted and escaped, boolean → true/false;
 * - a null is no field (a point that lacks that field); a row with no field left is no point;
 *   NaN and ±Inf cannot be written and are left out as influxd would refuse them;
 * - time: nanoseconds since the epoch (read with `epoch=ns`, written with `precision=ns`).
 */

/** The part of a line before its fields: escaped measurement and tags. */
export function seriesKey(measurement: string, tags: Readonly<Record<string, MsgpackValue>> | undefined): string {
  let key = escapeMeasurement(measurement);
  if (!tags) return key;
  for (const k of Object.keys(tags).sort()) {
    const v = tags[k];
    if (typeof v !== 'string' || v === '') continue;
    key += ',' + escapeTag(k) + '=' + escapeTag(v);
  }
  return key;
}

const INT64_MAX = 9223372036854775807n;

/** A value as a line-protocol field value; undefined for no field (null, NaN, ±Inf, anything else). */
export function fieldText(v: MsgpackValue | undefined): string | undefined {
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) return undefined;
      // -0 prints as "0": keep its sign, influxd stores it
      return v === 0 && 1 / v < 0 ? '-0' : String(v);
    case 'bigint':
      return v > INT64_MAX ? v + 'u' : v + 'i';
    case 'string':
      return quoteStringField(v);
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return undefined;
  }
}

/** A time cell (epoch=ns: an integer; without epoch: msgp's time ext) as ns text. */
export function timeText(v: MsgpackValue | undefined): string | undefined {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) && typeof v.ext === 'number') {
    const ns = extTimeNs(v as { ext: number; data: Buffer });
    return ns === undefined ? undefined : ns.toString();
  }
  return undefined;
}

/** Where converted lines go: one call per point. */
export interface LineSink {
  line(text: string): void;
}

/**
 * Converts one series of a response (`{name, tags, columns, values}`) into lines handed to `sink`;
 * returns how many points it produced. A series without a `time` column produces none.
 */
export function seriesToLines(series: MsgpackValue, sink: LineSink): number {
  const s = asMap(series);
  if (!s) return 0;
  const columns = Array.isArray(s.columns) ? s.columns : [];
  const values = Array.isArray(s.values) ? s.values : [];
  if (values.length === 0) return 0;
  const timeAt = columns.indexOf('time');
  if (timeAt < 0) return 0;
  const key = seriesKey(typeof s.name === 'string' ? s.name : String(s.name ?? ''), asMap(s.tags));
  const n = columns.length;
  // "key" before the first field, "," before the others
  const firstKeys = new Array<string>(n);
  const nextKeys = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const escaped = escapeFieldKey(String(columns[i]));
    firstKeys[i] = key + ' ' + escaped + '=';
    nextKeys[i] = ',' + escaped + '=';
  }
  let points = 0;
  for (const row of values) {
    if (!Array.isArray(row)) continue;
    const time = timeText(row[timeAt]);
    if (time === undefined) continue;
    let line = '';
    for (let i = 0; i < n; i++) {
      if (i === timeAt) continue;
      const v = fieldText(row[i]);
      if (v === undefined) continue;
      line += (line === '' ? firstKeys[i] : nextKeys[i]) + v;
    }
    if (line === '') continue;
    sink.line(line + ' ' + time + '\n');
    points++;
  }
  return points;
}

/** The series of one decoded response, or the error it carries. */
export function seriesOf(response: MsgpackValue): { series: MsgpackValue[]; error?: string } {
  const res = asMap(response);
  if (!res) return { series: [], error: 'unreadable msgpack answer' };
  if (typeof res.error === 'string') return { series: [], error: res.error };
  const out: MsgpackValue[] = [];
  for (const r of Array.isArray(res.results) ? res.results : []) {
    const result = asMap(r);
    if (!result) continue;
    if (typeof result.error === 'string') return { series: [], error: result.error };
    if (Array.isArray(result.series)) for (const s of result.series) out.push(s);
  }
  return { series: out };
}

export function asMap(v: MsgpackValue | undefined): { [key: string]: MsgpackValue } | undefined {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v) || 'ext' in v) return undefined;
  return v as { [key: string]: MsgpackValue };
}
