import { identNeedsQuotes, parseQuery, quoteIdent, rewriteDatabase, type ParsedStatement } from '@app/influxql';

function one(q: string): ParsedStatement {
  const [s] = parseQuery(q);
  return s;
}

describe('rewriteDatabase', () => {
  it('replaces the db of db.rp.m and db..m sources and leaves everything else as written', () => {
    const q = 'SELECT * FROM db.rp.m, "other db"..m2, rp.m3, /re/ WHERE x = \'db.rp.m\' -- db.rp.m\n GROUP BY time(1m)';
    expect(rewriteDatabase(one(q), 'new')).toBe(
      "SELECT * FROM new.rp.m, new..m2, rp.m3, /re/ WHERE x = 'db.rp.m' -- db.rp.m\n GROUP BY time(1m)",
    );
  });

  it('replaces the db of regex sources', () => {
    expect(rewriteDatabase(one('SELECT * FROM db.rp./cpu.*/, db../mem/'), 'b1')).toBe('SELECT * FROM b1.rp./cpu.*/, b1../mem/');
  });

  it('quotes the new name when needed', () => {
    const s = one('SELECT * FROM "my.db"."rp"."m.x"');
    expect(rewriteDatabase(s, 'plain_1')).toBe('SELECT * FROM plain_1."rp"."m.x"');
    expect(rewriteDatabase(s, 'my-db')).toBe('SELECT * FROM "my-db"."rp"."m.x"');
    expect(rewriteDatabase(s, 'select')).toBe('SELECT * FROM "select"."rp"."m.x"');
    expect(rewriteDatabase(s, 'a"b\\c')).toBe('SELECT * FROM "a\\"b\\\\c"."rp"."m.x"');
  });

  it('replaces db qualifiers inside nested subqueries', () => {
    const q = 'SELECT max(v) FROM (SELECT v FROM (SELECT v FROM db.rp.cpu), db..mem)';
    expect(rewriteDatabase(one(q), 'x')).toBe('SELECT max(v) FROM (SELECT v FROM (SELECT v FROM x.rp.cpu), x..mem)');
  });

  it('replaces the INTO target db unless told not to', () => {
    const s = one('SELECT mean(v) INTO db.rp.m2 FROM db.rp.m GROUP BY time(1m)');
    expect(rewriteDatabase(s, 'x')).toBe('SELECT mean(v) INTO x.rp.m2 FROM x.rp.m GROUP BY time(1m)');
    expect(rewriteDatabase(s, 'x', { into: false })).toBe('SELECT mean(v) INTO db.rp.m2 FROM x.rp.m GROUP BY time(1m)');
  });

  it('replaces the database of an ON clause unless told not to', () => {
    const s = one('SHOW TAG KEYS ON "telegraf" FROM telegraf.autogen.cpu');
    expect(rewriteDatabase(s, 'tg_b2')).toBe('SHOW TAG KEYS ON tg_b2 FROM tg_b2.autogen.cpu');
    expect(rewriteDatabase(s, 'tg_b2', { on: false })).toBe('SHOW TAG KEYS ON "telegraf" FROM tg_b2.autogen.cpu');
    expect(rewriteDatabase(one('SHOW RETENTION POLICIES ON db'), 'x')).toBe('SHOW RETENTION POLICIES ON x');
  });

  it('rewrites the select wrapped by EXPLAIN', () => {
    expect(rewriteDatabase(one('EXPLAIN ANALYZE SELECT * FROM db.rp.m'), 'x')).toBe('EXPLAIN ANALYZE SELECT * FROM x.rp.m');
  });

  it('returns the text unchanged when no db is written', () => {
    const q = 'SELECT mean("value") FROM "autogen"."cpu" WHERE time > now() - 1h GROUP BY time(1m)';
    expect(rewriteDatabase(one(q), 'x')).toBe(q);
  });

  it('works on a statement that does not start the query', () => {
    const [, s] = parseQuery('SHOW DATABASES; SELECT * FROM db.rp.m WHERE a = 1;');
    expect(rewriteDatabase(s, 'x')).toBe('SELECT * FROM x.rp.m WHERE a = 1');
  });

  it('produces text that parses to the same statement with the new db', () => {
    const s = one('SELECT * FROM "a b".rp.m, (SELECT v FROM "c"..n)');
    const [again] = parseQuery(rewriteDatabase(s, 'zz top'));
    expect(again.sources[0]).toMatchObject({ db: 'zz top', rp: 'rp', name: 'm' });
    expect(again.sources[1].kind === 'subquery' && again.sources[1].statement.sources[0]).toMatchObject({
      db: 'zz top',
      name: 'n',
    });
  });
});

describe('quoteIdent', () => {
  it('leaves plain names bare and quotes the rest', () => {
    expect(quoteIdent('cpu_1')).toBe('cpu_1');
    expect(quoteIdent('1cpu')).toBe('"1cpu"');
    expect(quoteIdent('from')).toBe('"from"');
    expect(quoteIdent('')).toBe('""');
    expect(quoteIdent('a\nb')).toBe('"a\\nb"');
    expect(identNeedsQuotes('Time')).toBe(false);
  });
});
