import { compareBytes, compareValues, tagsHashKey, valueKey } from './influx-order';
import { NOT_EXECUTED, type Message, type Series, type StatementOutcome, type Value } from './query-result';

/**
 * How the answers of several backends to one statement become one answer:
 * - `rows`: SHOW MEASUREMENTS / SERIES / TAG KEYS / TAG VALUES / FIELD KEYS — union of the rows of each
 *   series, rows sorted (column by column, byte order) and series sorted by name, as influxd sorts them;
 * - `retention-policies`: union by policy name, in the order first seen;
 * - `cardinality`: per series the largest count (replicas hold the same series, so a sum would overcount);
 * - `select`: union of series (a series several backends return is taken from the first), ordered by
 *   name then tags like influxd, with columns and tag keys unified when the backends' differ.
 */
export type MergeKind = 'rows' | 'retention-policies' | 'cardinality' | 'select';

export interface MergeSpec {
  kind: MergeKind;
  /**
   * LIMIT / OFFSET of a `rows` merge, applied to each series' rows after the merge. The statements sent
   * to the backends carry `LIMIT limit+offset` and no OFFSET, so every backend returns enough.
   * (A `select` merge needs none: influxd applies SLIMIT/SOFFSET per measurement, which one backend
   * set holds whole, and LIMIT/OFFSET per series.)
   */
  limit?: number;
  offset?: number;
}

/**
 * Merges one statement's answers, one per backend (in backend preference order). The first error wins,
 * as it would have stopped influxd.
 */
export function mergeOutcomes(spec: MergeSpec, outcomes: readonly StatementOutcome[]): StatementOutcome {
  for (const o of outcomes) {
    if (o.error) return { error: o.error, messages: mergeMessages(outcomes) };
  }
  let series: Series[];
  switch (spec.kind) {
    case 'rows':
      series = mergeRows(outcomes, true);
      break;
    case 'retention-policies':
      series = mergeRows(outcomes, false, 1);
      break;
    case 'cardinality':
      series = mergeCardinality(outcomes);
      break;
    case 'select':
      series = mergeSeries(outcomes);
      break;
  }
  if (spec.kind === 'rows' && (spec.limit !== undefined || spec.offset !== undefined)) {
    series = series.map((s) => ({ ...s, values: window(s.values ?? [], spec) })).filter((s) => s.values.length > 0);
  }
  const out: StatementOutcome = {};
  if (series.length > 0) out.series = series;
  const messages = mergeMessages(outcomes);
  if (messages.length > 0) out.messages = messages;
  if (outcomes.some((o) => o.partial)) out.partial = true;
  return out;
}

/** OFFSET then LIMIT (influxd: LIMIT 0 means no limit). */
function window<T>(items: T[], spec: MergeSpec): T[] {
  const offset = spec.offset ?? 0;
  const limit = spec.limit && spec.limit > 0 ? spec.limit : undefined;
  if (offset === 0 && limit === undefined) return items;
  return items.slice(offset, limit === undefined ? undefined : offset + limit);
}

function mergeMessages(outcomes: readonly StatementOutcome[]): Message[] {
  const seen = new Set<string>();
  const out: Message[] = [];
  for (const o of outcomes) {
    for (const m of o.messages ?? []) {
      const key = `${m.level}\n${m.text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(m);
    }
  }
  return out;
}

const seriesKey = (s: Series): string => `${s.name ?? ''}\u0000${tagsHashKey(s.tags)}`;

function compareSeries(a: Series, b: Series): number {
  return compareBytes(a.name ?? '', b.name ?? '') || compareBytes(tagsHashKey(a.tags), tagsHashKey(b.tags));
}

function compareRows(a: readonly Value[], b: readonly Value[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * Union of rows per series. Rows are identified by their first `keyColumns` cells (all when undefined);
 * the first backend's row wins. With `sort`, rows come out in influxd's order: influxd already sorts
 * each list, so a series only one backend returned is kept as is, and several are merged in one pass
 * (a backend list that is not sorted after all falls back to a full sort).
 */
function mergeRows(outcomes: readonly StatementOutcome[], sort: boolean, keyColumns?: number): Series[] {
  const bySeries = new Map<string, { series: Series; lists: (readonly Value[][])[] }>();
  for (const o of outcomes) {
    for (const s of o.series ?? []) {
      const key = seriesKey(s);
      const entry = bySeries.get(key);
      if (entry) entry.lists.push(s.values ?? []);
      else bySeries.set(key, { series: s, lists: [s.values ?? []] });
    }
  }
  const merged: Series[] = [];
  for (const { series, lists } of bySeries.values()) {
    const values = sort ? unionSorted(lists) : unionInOrder(lists, keyColumns);
    merged.push({ ...series, values });
  }
  return sort ? merged.sort(compareSeries) : merged;
}

/** Union of lists, first seen first. */
function unionInOrder(lists: readonly (readonly Value[][])[], keyColumns?: number): Value[][] {
  const rows = new Map<string, Value[]>();
  for (const list of lists) {
    for (const row of list) {
      const rowKey = rowKeyOf(row, keyColumns ?? row.length);
      if (!rows.has(rowKey)) rows.set(rowKey, row);
    }
  }
  return [...rows.values()];
}

function isSorted(list: readonly Value[][]): boolean {
  for (let i = 1; i < list.length; i++) if (compareRows(list[i - 1], list[i]) > 0) return false;
  return true;
}

/** Sorted union of sorted lists (equal rows once, the first list's); sorts when a list is not sorted. */
function unionSorted(lists: readonly (readonly Value[][])[]): Value[][] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length === 0) return [];
  if (!nonEmpty.every(isSorted)) return unionInOrder(nonEmpty).sort(compareRows);
  if (nonEmpty.length === 1) return nonEmpty[0] as Value[][];
  let out = nonEmpty[0] as Value[][];
  for (let k = 1; k < nonEmpty.length; k++) out = mergeTwo(out, nonEmpty[k]);
  return out;
}

function mergeTwo(a: readonly Value[][], b: readonly Value[][]): Value[][] {
  const out: Value[][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const c = compareRows(a[i], b[j]);
    if (c < 0) out.push(a[i++]);
    else if (c > 0) out.push(b[j++]);
    else {
      out.push(a[i++]);
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}

/** Identity of a row's first `n` cells; a lone string (SHOW MEASUREMENTS, TAG KEYS, SERIES) is its own key. */
function rowKeyOf(row: readonly Value[], n: number): string {
  if (n === 1 && typeof row[0] === 'string') return row[0];
  let key = '';
  for (let i = 0; i < n; i++) key += valueKey(row[i]) + '\u0000';
  return key;
}

function mergeCardinality(outcomes: readonly StatementOutcome[]): Series[] {
  const bySeries = new Map<string, Series>();
  for (const o of outcomes) {
    for (const s of o.series ?? []) {
      const key = seriesKey(s);
      const have = bySeries.get(key);
      if (!have) {
        bySeries.set(key, { ...s, values: (s.values ?? []).map((r) => r.slice()) });
        continue;
      }
      const rows = have.values!;
      (s.values ?? []).forEach((row, r) => {
        if (!rows[r]) rows[r] = row.slice();
        else
          row.forEach((v, c) => {
            if (compareValues(v, rows[r][c]) > 0) rows[r][c] = v;
          });
      });
    }
  }
  return [...bySeries.values()].sort(compareSeries);
}

/** SELECT across backends: union of series by (name, tags), columns and tag keys unified, influxd's order. */
function mergeSeries(outcomes: readonly StatementOutcome[]): Series[] {
  const seen = new Map<string, Series>();
  for (const o of outcomes) {
    for (const s of o.series ?? []) {
      const key = seriesKey(s);
      if (!seen.has(key)) seen.set(key, s);
    }
  }
  let series = [...seen.values()];
  series = unifyColumns(series);
  series = unifyTags(series);
  return series.sort(compareSeries);
}

/**
 * `SELECT * FROM a, b` on one influxd gives every series the union of the fields and tags of all the
 * measurements (time first, then by name). Backends that each hold part of the measurements give
 * narrower column lists; widen them the same way. Series whose columns already agree are left alone.
 */
function unifyColumns(series: Series[]): Series[] {
  if (series.length < 2) return series;
  const first = series[0].columns;
  if (series.every((s) => s.columns.length === first.length && s.columns.every((c, i) => c === first[i]))) {
    return series;
  }
  const lead = first[0] === 'time' ? ['time'] : [];
  const rest = new Set<string>();
  for (const s of series) for (const c of s.columns) if (!lead.includes(c)) rest.add(c);
  const columns = [...lead, ...[...rest].sort(compareBytes)];
  return series.map((s) => {
    const from = columns.map((c) => s.columns.indexOf(c));
    return {
      ...s,
      columns,
      values: (s.values ?? []).map((row) => from.map((i) => (i < 0 ? null : row[i]))),
    };
  });
}

/** GROUP BY * over measurements with different tag keys: influxd lists every key, "" where absent. */
function unifyTags(series: Series[]): Series[] {
  const withTags = series.filter((s) => s.tags);
  if (withTags.length < 2) return series;
  const keys = new Set<string>();
  for (const s of withTags) for (const k of Object.keys(s.tags!)) keys.add(k);
  const all = [...keys].sort(compareBytes);
  if (withTags.every((s) => Object.keys(s.tags!).length === all.length)) return series;
  return series.map((s) => {
    if (!s.tags) return s;
    const tags: Record<string, string> = {};
    for (const k of all) tags[k] = s.tags[k] ?? '';
    return { ...s, tags };
  });
}

/** The answer for the statements after a failing one. */
export function notExecuted(): StatementOutcome {
  return { error: NOT_EXECUTED };
}
