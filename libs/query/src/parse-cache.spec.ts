import { InfluxQLParseError } from '@app/influxql';
import { ParseCache } from './parse-cache';

describe('ParseCache', () => {
  it('answers a repeated query with the same parsed statements', () => {
    const cache = new ParseCache();
    const first = cache.parse('SELECT * FROM cpu', '', undefined);
    expect(cache.parse('SELECT * FROM cpu', '', undefined)).toBe(first);
    expect(first[0].kind).toBe('select');
  });

  it('keeps queries with different bound params apart', () => {
    const cache = new ParseCache();
    const a = cache.parse('SELECT * FROM $m', '{"m":{"identifier":"cpu"}}', { m: { identifier: 'cpu' } });
    const b = cache.parse('SELECT * FROM $m', '{"m":{"identifier":"mem"}}', { m: { identifier: 'mem' } });
    expect(a[0].sources[0]).toMatchObject({ name: 'cpu' });
    expect(b[0].sources[0]).toMatchObject({ name: 'mem' });
  });

  it('throws the same parse error again for the same garbage', () => {
    const cache = new ParseCache();
    expect(() => cache.parse('SELEKT 1', '', undefined)).toThrow(InfluxQLParseError);
    expect(() => cache.parse('SELEKT 1', '', undefined)).toThrow(/^found SELEKT/);
  });
});
