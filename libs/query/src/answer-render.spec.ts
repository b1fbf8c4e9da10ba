import { renderAnswer } from './answer-render';
import type { StatementResult } from './query-result';

describe('renderAnswer', () => {
  // Two statements; the first one's values came merged as the backends' bytes (rawValues).
  const results: StatementResult[] = [
    { statement_id: 0, series: [{ name: 'cpu', columns: ['time', 'v'], rawValues: '[[1700000000123456789,0.5]]' }] },
    { statement_id: 1, series: [{ name: 'mem', tags: { host: 'a' }, columns: ['time', 'v'], values: [[2, 1e21]] }] },
  ];

  it('writes CSV when the client asked for it, values parsed from the raw bytes, floats without an exponent', () => {
    expect(renderAnswer(results, { csv: true, pretty: true, chunked: true })).toEqual({
      contentType: 'text/csv',
      body: 'name,tags,time,v\ncpu,,1700000000123456789,0.5\n\nname,tags,time,v\nmem,host=a,2,1000000000000000000000\n',
    });
  });

  it('writes one JSON document, or one per statement with chunked=true', () => {
    const doc =
      '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","v"],"values":[[1700000000123456789,0.5]]}]},' +
      '{"statement_id":1,"series":[{"name":"mem","tags":{"host":"a"},"columns":["time","v"],"values":[[2,1e+21]]}]}]}\n';
    expect(renderAnswer(results, { csv: false, pretty: false, chunked: false })).toEqual({ contentType: 'application/json', body: doc });
    const lines = renderAnswer(results, { csv: false, pretty: false, chunked: true });
    expect(lines.contentType).toBe('application/json');
    expect(lines.body.split('\n')).toHaveLength(3);
    expect(lines.body.startsWith('{"results":[{"statement_id":0,')).toBe(true);
    expect(lines.body.split('\n')[1].startsWith('{"results":[{"statement_id":1,')).toBe(true);
  });

  it('indents pretty JSON by four spaces, the raw values re-rendered exactly', () => {
    const { body } = renderAnswer(results.slice(0, 1), { csv: false, pretty: true, chunked: false });
    expect(body).toContain(`\n${' '.repeat(28)}1700000000123456789,\n`);
    expect(body.startsWith('{\n    "results": [\n')).toBe(true);
  });
});
