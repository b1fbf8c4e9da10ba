import { BigNumber, formatFloatF, goString, parseLossless, renderCsv, renderJson, renderJsonLines } from './query-result';
import { checkBoundParams, paramsFromForm, paramsFromUrl } from './query-params';

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
});

describe('renderCsv', () => {
  it("writes influxd's CSV: header per statement, blank line between, tags as a hash key, no statement errors", () => {
    const csv = renderCsv([
      {
        statement_id: 0,
        series: [
          { name: 'cpu', tags: { region: 'x y', host: 'a,b', empty: '' }, columns: ['time', 'v'], values: [[1000000000, 1.5], [2, null]] },
          { name: 'cpu', columns: ['time', 'v'], values: [[3, 'say "hi"']] },
        ],
      },
      { statement_id: 1, error: 'boom' },
      { statement_id: 2, series: [{ name: 'measurements', columns: ['name'], values: [['cpu'], [' lead']] }] },
    ]);
    expect(csv).toBe(
      'name,tags,time,v\n' +
        'cpu,"host=a\\,b,region=x\\ y",1000000000,1.5\n' +
        'cpu,"host=a\\,b,region=x\\ y",2,\n' +
        'cpu,,3,"say ""hi"""\n' +
        '\nname,tags,name\nmeasurements,,cpu\nmeasurements,," lead"\n',
    );
  });

  it('formats floats without exponent like strconv.FormatFloat(v, f, -1)', () => {
    expect(formatFloatF(1e-7)).toBe('0.0000001');
    expect(formatFloatF(1.5e21)).toBe('1500000000000000000000');
    expect(formatFloatF(-2.5e-8)).toBe('-0.000000025');
    expect(formatFloatF(0.1)).toBe('0.1');
  });
});

describe('query params', () => {
  it('reads q and the others from the form body first, then the URL; pretty only from the URL', () => {
    const url = new URLSearchParams('q=SHOW+DATABASES&db=a&epoch=ms&pretty=true&u=x&p=y');
    const form = new URLSearchParams('q=SHOW+MEASUREMENTS&db=b&pretty=false');
    expect(paramsFromForm(form, url)).toEqual({
      q: 'SHOW MEASUREMENTS',
      db: 'b',
      rp: '',
      epoch: 'ms',
      chunked: '',
      chunkSize: '',
      params: '',
      pretty: true,
    });
    expect(paramsFromUrl(new URLSearchParams('q=%20%20&chunked=true&chunk_size=5'))).toMatchObject({ q: '', chunked: 'true', chunkSize: '5' });
    // an empty q in the body hides the URL's, as Go's FormValue does
    expect(paramsFromForm(new URLSearchParams('q='), url).q).toBe('');
  });

  it('refuses bound parameters that are not a JSON object', () => {
    expect(checkBoundParams('')).toBeUndefined();
    expect(checkBoundParams('{"h":"a"}')).toBeUndefined();
    expect(checkBoundParams('null')).toBeUndefined();
    expect(checkBoundParams('{bad')).toMatch(/^error parsing query parameters: /);
    expect(checkBoundParams('[1]')).toBe(
      'error parsing query parameters: json: cannot unmarshal array into Go value of type map[string]interface {}',
    );
  });
});
