/**
 * influxd's /query answer shapes, as the proxy reads them from a backend and builds its own answers.
 * Only answers the proxy builds itself (merged, local) go through here; streamed answers are never parsed.
 * Writing them: go-json-render.ts (JSON) and csv-render.ts (CSV); their order: influx-order.ts.
 */
import { type BigNumber, parseLossless } from './lossless-json';

export type Value = string | number | boolean | null | BigNumber;

/** models.Row: field order is influxd's. */
export interface Series {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: Value[][];
  /**
   * The values as influxd's JSON text, spliced into the answer as is (merged from the backends'
   * bytes, see raw-rows-merge.ts). A series has either this or `values`.
   */
  rawValues?: string;
  partial?: boolean;
}

export interface Message {
  level: string;
  text: string;
}

/** query.Result without its statement id (the proxy numbers statements itself). */
export interface StatementOutcome {
  series?: Series[];
  messages?: Message[];
  partial?: boolean;
  error?: string;
}

export interface StatementResult extends StatementOutcome {
  statement_id: number;
}

export interface QueryResponse {
  results?: StatementResult[];
  error?: string;
}

/** influxd's text for statements after the first failing one. */
export const NOT_EXECUTED = 'not executed';

/** A backend's /query JSON body; throws when it is not one. */
export function parseQueryResponse(text: string): QueryResponse {
  const parsed = parseLossless(text) as QueryResponse;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a /query response');
  return parsed;
}

/** The results with every `rawValues` parsed into `values` (for CSV and indented JSON); shared objects stay untouched. */
export function withParsedValues(results: readonly StatementResult[]): StatementResult[] {
  return results.map((r) =>
    r.series?.some((s) => s.rawValues !== undefined)
      ? {
          ...r,
          series: r.series.map((s) => {
            if (s.rawValues === undefined) return s;
            const { rawValues, ...rest } = s;
            return { ...rest, values: parseLossless(rawValues) as Value[][] };
          }),
        }
      : r,
  );
}
