import { InfluxQLParseError, type ParsedStatement, parseQuery } from '@app/influxql';

const MAX_ENTRIES = 512;
const MAX_QUERY_LENGTH = 8192;

/**
 * Parsed statements by query text and bound params. Dashboards send the same queries again and again
 * (every panel, every refresh), and parsing is most of the proxy's CPU per query. Parsed statements
 * are never mutated downstream, so one result can serve many requests. Least recently used goes first.
 */
export class ParseCache {
  private readonly entries = new Map<string, ParsedStatement[] | InfluxQLParseError>();

  /** parseQuery(q, { params }) — throws its InfluxQLParseError, cached like a result. */
  parse(q: string, paramsJson: string, params: Record<string, unknown> | undefined): ParsedStatement[] {
    if (q.length > MAX_QUERY_LENGTH) return parseQuery(q, { params });
    const key = paramsJson === '' ? q : `${q}\u0000${paramsJson}`;
    let hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
    } else {
      try {
        hit = parseQuery(q, { params });
      } catch (err) {
        if (!(err instanceof InfluxQLParseError)) throw err;
        hit = err;
      }
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, hit);
    if (hit instanceof InfluxQLParseError) throw hit;
    return hit;
  }
}
