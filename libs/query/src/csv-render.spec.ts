import { formatFloatF, renderCsv } from './csv-render';

describe('renderCsv', () => {
  it("writes influxd's CSV: header per statement, blank line between, tags as a hash key, no statement errors", () => {
    const csv = renderCsv([
      {
        statement_id: 0,
        series: [
          {
            name: 'cpu',
            tags: { region: 'x y', host: 'a,b', empty: '' },
            columns: ['time', 'v'],
            values: [
              [1000000000, 1.5],
              [2, null],
            ],
          },
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
