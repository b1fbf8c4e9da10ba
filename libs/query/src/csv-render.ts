/** influxd's /query CSV, as its csvFormatter writes it. */
import { BigNumber } from './lossless-json';
import type { StatementResult, Value } from './query-result';
import { tagsHashKey } from './influx-order';

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatFloatF(v: number): string {
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const negative = s.startsWith('-');
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const point = (dot < 0 ? mantissa.length : dot) + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return (negative ? '-' : '') + out;
}

function csvValue(v: Value | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatFloatF(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof BigNumber) return v.text;
  return String(v);
}

/** encoding/csv's fieldNeedsQuotes. */
function csvField(field: string): string {
  if (field === '') return field;
  const needs = field === '\\.' || /[,"\r\n]/.test(field) || /^[\s\u0085\u00a0]/u.test(field);
  return needs ? `"${field.replace(/"/g, '""')}"` : field;
}

function csvLine(fields: string[]): string {
  return fields.map(csvField).join(',') + '\n';
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/** influxd's csvFormatter over whole results: statement errors are not written, as influxd does not either. */
export function renderCsv(results: readonly StatementResult[]): string {
  let out = '';
  let statementId = -1;
  let columns: string[] = [];
  for (const result of results) {
    const series = result.series ?? [];
    if (result.statement_id !== statementId) {
      if (series.length === 0) continue;
      if (statementId >= 0) out += '\n';
      statementId = result.statement_id;
      columns = series[0].columns;
      out += csvLine(['name', 'tags', ...columns]);
    }
    series.forEach((row, i) => {
      if (i > 0 && !sameColumns(columns, row.columns)) {
        out += '\n';
        columns = row.columns;
        out += csvLine(['name', 'tags', ...columns]);
      }
      const head = [row.name ?? '', tagsHashKey(row.tags)];
      for (const values of row.values ?? []) {
        const fields = head.slice();
        for (let c = 0; c < columns.length; c++) fields.push(csvValue(values[c]));
        out += csvLine(fields);
      }
    });
  }
  return out;
}
