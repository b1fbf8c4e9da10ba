import { renderCsv } from './csv-render';
import { renderJson, renderJsonLines } from './go-json-render';
import { type StatementResult, withParsedValues } from './query-result';

/** The answer a client asked for: CSV (by its Accept header), or JSON, indented (`pretty`), one document per statement (`chunked=true`). */
export interface AnswerFormat {
  csv: boolean;
  pretty: boolean;
  chunked: boolean;
}

export interface RenderedAnswer {
  body: string;
  contentType: 'text/csv' | 'application/json';
}

/** Results the proxy built (merged, local) written as influxd writes them in that format. */
export function renderAnswer(results: readonly StatementResult[], format: AnswerFormat): RenderedAnswer {
  if (format.csv) return { body: renderCsv(withParsedValues(results)), contentType: 'text/csv' };
  const rendered = format.pretty ? withParsedValues(results) : results; // indented values are re-rendered
  const body = format.chunked ? renderJsonLines(rendered, format.pretty) : renderJson(rendered, format.pretty);
  return { body, contentType: 'application/json' };
}
