import { goString, renderJson, renderJsonLines } from './go-json-render';
import { BigNumber, parseLossless } from './lossless-json';

describe('renderJson', () => {
  it("writes influxd's shape: field order, empty members omitted, trailing newline", () => {
    expect(
      renderJson([
        {
          statement_id: 0,
          error: undefined,
          series: [{ values: [[1, 'a', null, true]], columns: ['time', 'x', 'y', 'z'], name: 'cpu', tags: {} }],
          messages: [],
        },
        { statement_id: 1, error: 'not executed', series: [] },
      ]),
    ).toBe(
      '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","x","y","z"],"values":[[1,"a",null,true]]}]},' +
        '{"statement_id":1,"error":"not executed"}]}\n',
    );
  });

  it('answers {} for a query without statements, like influxd', () => {
    expect(renderJson([])).toBe('{}\n');
  });

  it('indents like MarshalIndent with four spaces for pretty=true', () => {
    expect(renderJson([{ statement_id: 0, series: [{ name: 'm', columns: ['name'], values: [['a']] }] }], true)).toBe(
      '{\n    "results": [\n        {\n            "statement_id": 0,\n            "series": [\n                {\n' +
        '                    "name": "m",\n                    "columns": [\n                        "name"\n                    ],\n' +
        '                    "values": [\n                        [\n                            "a"\n                        ]\n' +
        '                    ]\n                }\n            ]\n        }\n    ]\n}\n',
    );
  });

  it("escapes strings as Go's encoding/json does", () => {
    expect(goString('a<b>&"\\\n\t\u0001\u2028')).toBe('"a\\u003cb\\u003e\\u0026\\"\\\\\\n\\t\\u0001\\u2028"');
  });

  it('escapes like encoding/json in whole answers: <>&, U+2028, \\b and \\f, but not an escaped backslash before b', () => {
    const tricky = 'a<b>&c\u2028\b\f\\b\\f"\n\u0001';
    expect(renderJson([{ statement_id: 0, series: [{ columns: [tricky], values: [[tricky]] }] }])).toBe(
      `{"results":[{"statement_id":0,"series":[{"columns":[${goString(tricky)}],"values":[[${goString(tricky)}]]}]}]}\n`,
    );
    expect(goString(tricky)).toBe('"a\\u003cb\\u003e\\u0026c\\u2028\\u0008\\u000c\\\\b\\\\f\\"\\n\\u0001"');
  });

  it('writes big integers exactly and one line per statement when chunked', () => {
    const big = parseLossless('[1700000000123456789]') as BigNumber[];
    expect(renderJsonLines([{ statement_id: 0, series: [{ columns: ['t'], values: [[big[0]]] }] }, { statement_id: 1 }])).toBe(
      '{"results":[{"statement_id":0,"series":[{"columns":["t"],"values":[[1700000000123456789]]}]}]}\n{"results":[{"statement_id":1}]}\n',
    );
  });

  it('splices each series its own raw values, as the backend wrote them, in every render and across renders', () => {
    // Raw values are backend JSON, spliced verbatim, each at its own series (the indices are per render).
    const results = [
      { statement_id: 0, series: [{ name: 'a', columns: ['time', 'v'], rawValues: '[[1,"\\u003c"]]' }] },
      {
        statement_id: 1,
        series: [
          { name: 'b', columns: ['time', 'v'], rawValues: '[[2,20]]' },
          { name: 'c<', columns: ['time', 'v'], values: [[3, 30]] },
          { name: 'd', columns: ['time', 'v'], rawValues: '[[4,1700000000123456789]]' },
        ],
      },
    ];
    const expected =
      '{"results":[{"statement_id":0,"series":[{"name":"a","columns":["time","v"],"values":[[1,"\\u003c"]]}]},' +
      '{"statement_id":1,"series":[{"name":"b","columns":["time","v"],"values":[[2,20]]},' +
      '{"name":"c\\u003c","columns":["time","v"],"values":[[3,30]]},' +
      '{"name":"d","columns":["time","v"],"values":[[4,1700000000123456789]]}]}]}\n';
    expect(renderJson(results)).toBe(expected);
    expect(renderJson(results)).toBe(expected);
    expect(renderJsonLines(results)).toBe(
      '{"results":[{"statement_id":0,"series":[{"name":"a","columns":["time","v"],"values":[[1,"\\u003c"]]}]}]}\n' +
        '{"results":[{"statement_id":1,"series":[{"name":"b","columns":["time","v"],"values":[[2,20]]},' +
        '{"name":"c\\u003c","columns":["time","v"],"values":[[3,30]]},' +
        '{"name":"d","columns":["time","v"],"values":[[4,1700000000123456789]]}]}]}\n',
    );
  });
});
