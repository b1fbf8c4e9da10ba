import { writeParamsOf } from './write-params';

/** What URLSearchParams says: the reference the fast path must always agree with. */
function reference(search: string) {
  const q = new URLSearchParams(search);
  return { db: q.get('db') ?? '', rp: q.get('rp') ?? '', precision: q.get('precision') ?? '' };
}

describe('writeParamsOf', () => {
  it.each([
    '',
    'db=mydb',
    'db=mydb&precision=s',
    'precision=ms&rp=autogen&db=x',
    'db=a&db=b',
    'db',
    'db=',
    '&&db=x&&',
    'dbx=1&db=y',
    'xdb=1&db=y',
    'db=a=b',
    'rp&db=q&rp=r',
    'precision&precision=s',
    'u=me&p=secret&db=d&precision=ns&rp=one',
    'db=my%20db',
    'db=a+b',
    '%64b=encoded-name',
    '?db=x',
    'db=\u00e9t\u00e9',
    '=&==&db==',
    'DB=x&Db=y',
  ])('reads %j as URLSearchParams does', (search) => {
    expect(writeParamsOf(search)).toEqual(reference(search));
  });

  it('agrees with URLSearchParams on random query strings', () => {
    const alphabet = ['db', 'rp', 'precision', '=', '&', 'x', 's', '%', '+', '?', '20', 'é', 'p', 'u'];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let n = 0; n < 5000; n++) {
      let search = '';
      const parts = next() % 12;
      for (let i = 0; i < parts; i++) search += alphabet[next() % alphabet.length];
      expect([search, writeParamsOf(search)]).toEqual([search, reference(search)]);
    }
  });
});
