import {
  classifyStatement,
  InfluxQLParseError,
  parseQuery,
  STATEMENT_KINDS,
  type ClauseRange,
  type MeasurementSource,
  type ParsedStatement,
  type RegexSource,
  type StatementKind,
  type SubquerySource,
} from '@app/influxql';

const TOP_LEVEL = 'SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL';

/** The only statement of `q`. */
function one(q: string): ParsedStatement {
  const statements = parseQuery(q);
  expect(statements).toHaveLength(1);
  return statements[0];
}

/** The only statement of `q` parsed with bound `params`. */
function one2(q: string, params: Record<string, unknown>): ParsedStatement {
  const statements = parseQuery(q, { params });
  expect(statements).toHaveLength(1);
  return statements[0];
}

/** The message `parseQuery(q)` fails with (and checks it is an InfluxQLParseError). */
function parseError(q: string, options?: Parameters<typeof parseQuery>[1]): string {
  try {
    parseQuery(q, options);
  } catch (err) {
    expect(err).toBeInstanceOf(InfluxQLParseError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(q)} to fail`);
}

/** The query text a clause covers. */
const textOf = (q: string, r: ClauseRange | undefined): string | undefined => (r ? q.slice(r.start, r.end) : undefined);

describe('parseQuery: statement splitting', () => {
  it('splits on ; and keeps each statement text verbatim with its offsets', () => {
    const q = 'SELECT "a;b" FROM "m;x"; SHOW DATABASES';
    const [a, b] = parseQuery(q);
    expect(parseQuery(q)).toHaveLength(2);
    expect(a).toMatchObject({ kind: 'select', text: 'SELECT "a;b" FROM "m;x"', start: 0, end: 23 });
    expect(a.sources).toEqual([{ kind: 'measurement', name: 'm;x', span: { start: 18, end: 23 } }]);
    expect(b).toMatchObject({ kind: 'show-databases', text: 'SHOW DATABASES', start: 25, end: 39 });
  });

  it('does not split on ; inside a string literal', () => {
    const s = one("SELECT * FROM cpu WHERE host = 'str;' AND x = 'it\\'s;'");
    expect(s.kind).toBe('select');
  });

  it('does not split on ; inside a regex, including after an escaped slash', () => {
    const s = one(String.raw`SELECT * FROM /cp;u\/x/ WHERE host =~ /a;b\/c;/`);
    expect(s.sources).toEqual([{ kind: 'regex', pattern: 'cp;u/x', span: { start: 14, end: 23 } }]);
  });

  it('does not split on ; inside comments', () => {
    const q = 'SELECT * /* ; DROP DATABASE x; */ FROM cpu -- ; DROP DATABASE y\n; SHOW DATABASES';
    const statements = parseQuery(q);
    expect(statements.map((s) => s.kind)).toEqual(['select', 'show-databases']);
    expect(statements[0].text).toBe('SELECT * /* ; DROP DATABASE x; */ FROM cpu');
  });

  it('finds the smuggled statement after a SELECT', () => {
    const statements = parseQuery('SELECT * FROM cpu; DROP DATABASE bench');
    expect(statements.map((s) => s.kind)).toEqual(['select', 'drop-database']);
    expect(statements[1]).toMatchObject({ text: 'DROP DATABASE bench', database: 'bench', start: 19, end: 38 });
  });

  it('allows a trailing semicolon', () => {
    const statements = parseQuery('select * from cpu;');
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ kind: 'select', text: 'select * from cpu', start: 0, end: 17 });
  });

  it('excludes surrounding whitespace and comments from the statement text', () => {
    const q = '  -- lead\n  SHOW DATABASES  /* tail */ ;  ';
    const s = one(q);
    expect(s.text).toBe('SHOW DATABASES');
    expect(q.slice(s.start, s.end)).toBe(s.text);
  });

  it('returns no statements for an empty query or one of only comments and semicolons', () => {
    expect(parseQuery('')).toEqual([]);
    expect(parseQuery('  -- nothing\n /* here */ ; ;')).toEqual([]);
  });

  it('skips empty statements anywhere, as influxd does', () => {
    expect(parseQuery('; SHOW DATABASES;; ;SHOW USERS;;').map((s) => s.kind)).toEqual(['show-databases', 'show-users']);
  });

  it('refuses empty statements before the end when asked to', () => {
    const strict = { rejectEmptyStatements: true };
    expect(parseError('SHOW DATABASES;;SHOW USERS', strict)).toBe(`found ;, expected ${TOP_LEVEL} at line 1, char 16`);
    expect(parseError('; SHOW USERS', strict)).toBe(`found ;, expected ${TOP_LEVEL} at line 1, char 1`);
    expect(parseQuery('SHOW DATABASES; ; -- done\n;', strict)).toHaveLength(1);
  });

  it('requires a semicolon between statements', () => {
    expect(parseError('SHOW DATABASES SHOW USERS')).toBe('found SHOW, expected ; at line 1, char 16');
  });

  it('reads keywords case-insensitively', () => {
    expect(parseQuery("sElEcT * FrOm cpu wHeRe host = 'a'; show Databases").map((s) => s.kind)).toEqual(['select', 'show-databases']);
  });

  it('gives each statement its own tokens, without whitespace, comments or the separator', () => {
    const [a, b] = parseQuery('SHOW /* x */ USERS ; DROP USER "bob"');
    expect(a.tokens.map((t) => t.text)).toEqual(['SHOW', 'USERS']);
    expect(b.tokens.map((t) => `${t.kind}:${t.value}`)).toEqual(['keyword:DROP', 'keyword:USER', 'ident:bob']);
  });
});

describe('parseQuery: regex or division', () => {
  it('reads / after an operand as division', () => {
    const s = one('SELECT used / total * 100 FROM mem');
    expect(s.tokens.filter((t) => t.kind === 'regex')).toEqual([]);
  });

  it('reads / right after a dotted field reference as division, not a regex, so statements still split', () => {
    const statements = parseQuery('SELECT a./2 FROM m; DROP DATABASE x; SELECT b/2 FROM m');
    expect(statements.map((s) => s.kind)).toEqual(['select', 'drop-database', 'select']);
  });

  it('reads regexes after =~ and !~, at field, dimension and argument starts, and in FROM', () => {
    const s = one('SELECT /u;x/, top(/a;b/, 3) FROM /c;p/ WHERE h =~ /d;e/ AND h !~ /f;g/ GROUP BY /t;g/, time(1m)');
    expect(s.tokens.filter((t) => t.kind === 'regex').map((t) => t.value)).toEqual(['u;x', 'a;b', 'c;p', 'd;e', 'f;g', 't;g']);
    expect(s.clauses.dimensions?.map((d) => textOf(s.text, d))).toEqual(['/t;g/', 'time(1m)']);
  });

  it('reads a regex after WITH MEASUREMENT and WITH KEY operators', () => {
    expect(one('SHOW MEASUREMENTS WITH MEASUREMENT =~ /a;b/').withMeasurement?.source).toMatchObject({
      kind: 'regex',
      pattern: 'a;b',
    });
    expect(one('SHOW TAG VALUES WITH KEY !~ /a;b/').withKey).toEqual({ op: '!~', pattern: 'a;b' });
  });

  it('reads a block comment where a regex may start as a regex, so the query fails as in influxd', () => {
    expect(parseError('SELECT /* c */ * FROM cpu')).toBe(
      'error parsing regexp: missing argument to repetition operator: `*` at line 1, char 7',
    );
  });

  it('refuses a regex separated from a measurement name by a space, as influxd does', () => {
    expect(parseError('SELECT * FROM cpu /x;DROP DATABASE y;/')).toBe('found  , expected regex at line 1, char 18');
  });

  it('refuses a block comment right after a measurement name, as influxd does (it peeks for a regex there)', () => {
    expect(parseError('SELECT * FROM cpu /* c */')).toBe('found  , expected regex at line 1, char 18');
    expect(one('SELECT * FROM cpu -- c').sources).toHaveLength(1);
    expect(one('SELECT * FROM cpu/* c */').sources).toHaveLength(1);
  });

  it('refuses a block comment right after `;` that follows a measurement name, as influxd does', () => {
    expect(parseError('SELECT * FROM m;/* c */ SHOW DATABASES')).toBe('found ;, expected regex at line 1, char 16');
    expect(parseQuery('SELECT * FROM m; /* c */ SHOW DATABASES')).toHaveLength(2);
    expect(parseQuery('SHOW DATABASES;/* c */SHOW USERS')).toHaveLength(2);
  });

  it('needs a regex after =~', () => {
    expect(parseError("SELECT * FROM m WHERE a =~ 'x'")).toBe('found x, expected regex at line 1, char 27');
  });
});

describe('parseQuery and classifyStatement: statement kinds', () => {
  const cases: [string, StatementKind][] = [
    ['SELECT * FROM cpu', 'select'],
    ['EXPLAIN SELECT * FROM cpu', 'explain'],
    ['EXPLAIN ANALYZE VERBOSE SELECT * FROM cpu', 'explain'],
    ['DELETE FROM cpu WHERE time < now()', 'delete'],
    ['DELETE WHERE time < now()', 'delete'],
    ['SHOW CONTINUOUS QUERIES', 'show-continuous-queries'],
    ['SHOW DATABASES', 'show-databases'],
    ['SHOW DIAGNOSTICS', 'show-diagnostics'],
    ["SHOW DIAGNOSTICS FOR 'build'", 'show-diagnostics'],
    ['SHOW FIELD KEYS ON db FROM cpu ORDER BY ASC LIMIT 1 OFFSET 1', 'show-field-keys'],
    ['SHOW FIELD KEY CARDINALITY', 'show-field-key-cardinality'],
    ['SHOW FIELD KEY EXACT CARDINALITY ON db FROM cpu WHERE a = 1 GROUP BY b LIMIT 1 OFFSET 2', 'show-field-key-cardinality'],
    ['SHOW GRANTS FOR bob', 'show-grants'],
    ['SHOW MEASUREMENTS', 'show-measurements'],
    ['SHOW MEASUREMENT CARDINALITY', 'show-measurement-cardinality'],
    ['SHOW MEASUREMENT EXACT CARDINALITY ON db', 'show-measurement-cardinality'],
    ['SHOW QUERIES', 'show-queries'],
    ['SHOW RETENTION POLICIES', 'show-retention-policies'],
    ["SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 10 OFFSET 5", 'show-series'],
    ['SHOW SERIES CARDINALITY', 'show-series-cardinality'],
    ['SHOW SERIES EXACT CARDINALITY ON db FROM cpu', 'show-series-cardinality'],
    ['SHOW SHARDS', 'show-shards'],
    ['SHOW SHARD GROUPS', 'show-shard-groups'],
    ['SHOW STATS', 'show-stats'],
    ["SHOW STATS FOR 'httpd'", 'show-stats'],
    ['SHOW SUBSCRIPTIONS', 'show-subscriptions'],
    ['SHOW TAG KEYS FROM cpu WITH KEY IN (a, b) LIMIT 1 OFFSET 1 SLIMIT 2 SOFFSET 3', 'show-tag-keys'],
    ['SHOW TAG KEY CARDINALITY', 'show-tag-key-cardinality'],
    ['SHOW TAG KEY EXACT CARDINALITY FROM cpu', 'show-tag-key-cardinality'],
    ['SHOW TAG VALUES WITH KEY = host', 'show-tag-values'],
    ['SHOW TAG VALUES CARDINALITY WITH KEY = host', 'show-tag-values-cardinality'],
    ['SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY =~ /h.*/', 'show-tag-values-cardinality'],
    ['SHOW USERS', 'show-users'],
    ['CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END', 'create-continuous-query'],
    [
      'CREATE CONTINUOUS QUERY "cq" ON "db" RESAMPLE EVERY 1m FOR 10m BEGIN SELECT mean(v) INTO db.rp.:MEASUREMENT FROM /.*/ GROUP BY time(1m), * END',
      'create-continuous-query',
    ],
    ['CREATE DATABASE db', 'create-database'],
    ['CREATE DATABASE db WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h FUTURE LIMIT 1h PAST LIMIT 2h NAME rp', 'create-database'],
    ['CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 1 SHARD DURATION 1h DEFAULT', 'create-retention-policy'],
    ['CREATE RETENTION POLICY rp ON db DURATION INF REPLICATION 3', 'create-retention-policy'],
    ["CREATE SUBSCRIPTION s ON db.autogen DESTINATIONS ALL 'udp://h:9090', 'udp://h2:9090'", 'create-subscription'],
    ["CREATE USER bob WITH PASSWORD 'secret' WITH ALL PRIVILEGES", 'create-user'],
    ['DROP CONTINUOUS QUERY cq ON db', 'drop-continuous-query'],
    ['DROP DATABASE db', 'drop-database'],
    ['DROP MEASUREMENT cpu', 'drop-measurement'],
    ['DROP RETENTION POLICY rp ON db', 'drop-retention-policy'],
    ["DROP SERIES FROM cpu WHERE host = 'a'", 'drop-series'],
    ["DROP SERIES WHERE host = 'a'", 'drop-series'],
    ['DROP SHARD 12', 'drop-shard'],
    ['DROP SUBSCRIPTION s ON db.autogen', 'drop-subscription'],
    ['DROP USER bob', 'drop-user'],
    ['ALTER RETENTION POLICY rp ON db DURATION 2d REPLICATION 2 SHARD DURATION 1h DEFAULT', 'alter-retention-policy'],
    ['ALTER RETENTION POLICY DEFAULT ON db PAST LIMIT 1h', 'alter-retention-policy'],
    ['GRANT READ ON db TO bob', 'grant'],
    ['GRANT ALL PRIVILEGES TO bob', 'grant'],
    ['REVOKE WRITE ON db FROM bob', 'revoke'],
    ['REVOKE ALL FROM bob', 'revoke'],
    ['KILL QUERY 36', 'kill-query'],
    ['KILL QUERY 36 ON "host:8086"', 'kill-query'],
    ["SET PASSWORD FOR bob = 'new'", 'set-password'],
  ];

  it.each(cases)('%s → %s', (q, kind) => {
    expect(one(q).kind).toBe(kind);
    expect(classifyStatement(q)).toBe(kind);
    expect(one(q.toLowerCase().replace(/'[^']*'/g, "'x'")).kind).toBe(kind);
  });

  it('covers every statement kind', () => {
    const covered = new Set(cases.map(([, kind]) => kind));
    expect(STATEMENT_KINDS.filter((k) => k !== 'unknown' && !covered.has(k))).toEqual([]);
  });

  it('classifies unrecognised leading words as unknown without throwing', () => {
    for (const text of ['', 'FOO', 'SHOW', 'SHOW FOO', 'DROP', '"SELECT" *', "'oops", '/* open', '42']) {
      expect(classifyStatement(text)).toBe('unknown');
    }
    expect(classifyStatement("select 'unterminated")).toBe('select');
    expect(classifyStatement('SHOW SERIES EXACT ON db')).toBe('show-series');
  });

  it("refuses an unknown leading keyword with influxd's message", () => {
    expect(parseError('FOO')).toBe(`found FOO, expected ${TOP_LEVEL} at line 1, char 1`);
    expect(parseError('SELECT * FROM cpu; foo')).toBe(`found foo, expected ${TOP_LEVEL} at line 1, char 20`);
    expect(parseError('SELECT * FROM cpu;\n  INSERT cpu v=1')).toBe(`found INSERT, expected ${TOP_LEVEL} at line 2, char 3`);
  });

  it('lists the valid next words when a statement is cut short', () => {
    expect(parseError('SHOW FOO')).toBe(
      'found FOO, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6',
    );
    expect(parseError('DROP')).toBe(
      'found EOF, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 6',
    );
    expect(parseError('SHOW GRANTS')).toBe('found EOF, expected FOR at line 1, char 13');
  });
});

describe('parseQuery: sources', () => {
  const source = (q: string, i = 0) => one(q).sources[i];

  it('reads a plain or quoted measurement', () => {
    expect(source('SELECT * FROM cpu')).toEqual({ kind: 'measurement', name: 'cpu', span: { start: 14, end: 17 } });
    expect(source('SELECT * FROM "cpu load"')).toMatchObject({ kind: 'measurement', name: 'cpu load' });
  });

  it('reads rp.m, db.rp.m and db..m qualifiers', () => {
    expect(source('SELECT * FROM rp.m')).toEqual({ kind: 'measurement', name: 'm', rp: 'rp', span: { start: 14, end: 18 } });
    expect(source('SELECT * FROM db.rp.m')).toEqual({
      kind: 'measurement',
      name: 'm',
      db: 'db',
      rp: 'rp',
      dbSpan: { start: 14, end: 16 },
      span: { start: 14, end: 21 },
    });
    expect(source('SELECT * FROM db..m')).toEqual({
      kind: 'measurement',
      name: 'm',
      db: 'db',
      dbSpan: { start: 14, end: 16 },
      span: { start: 14, end: 19 },
    });
  });

  it('keeps dots inside quoted parts', () => {
    const q = 'SELECT * FROM "my.db"."rp"."m.x"';
    const s = source(q) as MeasurementSource;
    expect(s).toMatchObject({ kind: 'measurement', db: 'my.db', rp: 'rp', name: 'm.x' });
    expect(q.slice(s.dbSpan!.start, s.dbSpan!.end)).toBe('"my.db"');
    expect(q.slice(s.span.start, s.span.end)).toBe('"my.db"."rp"."m.x"');
  });

  it('reads regex sources with and without qualifiers', () => {
    expect(source('SELECT * FROM /cpu.*/')).toEqual({ kind: 'regex', pattern: 'cpu.*', span: { start: 14, end: 21 } });
    expect(source('SELECT * FROM db.rp./cpu.*/')).toMatchObject({ kind: 'regex', pattern: 'cpu.*', db: 'db', rp: 'rp' });
    expect(source('SELECT * FROM db../cpu.*/')).toMatchObject({ kind: 'regex', pattern: 'cpu.*', db: 'db' });
    expect(source('SELECT * FROM db../cpu.*/')).not.toHaveProperty('rp');
    expect(source('SELECT * FROM rp./cpu.*/')).toMatchObject({ kind: 'regex', pattern: 'cpu.*', rp: 'rp' });
    expect(source('SELECT * FROM rp./cpu.*/')).not.toHaveProperty('db');
  });

  it('reads a multi-measurement FROM list in order', () => {
    const s = one('SELECT * FROM cpu, "mem" ,db.rp.disk, /disk.*/');
    expect(s.sources.map((x) => (x.kind === 'regex' ? `/${x.pattern}/` : x.kind === 'measurement' ? x.name : '()'))).toEqual([
      'cpu',
      'mem',
      'disk',
      '/disk.*/',
    ]);
  });

  it('parses subqueries recursively and finds the inner sources', () => {
    const q = "SELECT max(m) FROM (SELECT mean(v) AS m FROM (SELECT v FROM db.rp.cpu, mem WHERE h = 'a') GROUP BY time(1m)) LIMIT 3";
    const s = one(q);
    expect(s.limit).toBe(3);
    const outer = s.sources[0] as SubquerySource;
    expect(outer.kind).toBe('subquery');
    expect(q.slice(outer.span.start, outer.span.end)).toMatch(/^\(SELECT mean.*\)$/);
    expect(outer.statement.kind).toBe('select');
    expect(outer.statement).not.toHaveProperty('limit');
    expect(outer.statement.text).toBe("SELECT mean(v) AS m FROM (SELECT v FROM db.rp.cpu, mem WHERE h = 'a') GROUP BY time(1m)");
    expect(textOf(q, outer.statement.clauses.groupBy)).toBe('GROUP BY time(1m)');

    const inner = outer.statement.sources[0] as SubquerySource;
    expect(inner.statement.text).toBe("SELECT v FROM db.rp.cpu, mem WHERE h = 'a'");
    expect(inner.statement.sources).toEqual([
      expect.objectContaining({ kind: 'measurement', name: 'cpu', db: 'db', rp: 'rp' }),
      expect.objectContaining({ kind: 'measurement', name: 'mem' }),
    ]);
    // Token indices of a subquery's clauses are its own.
    const where = inner.statement.clauses.where!;
    expect(inner.statement.tokens[where.tokenStart].value).toBe('WHERE');
  });

  it('keeps top-level LIMIT/OFFSET separate from those of subqueries', () => {
    const s = one('SELECT * FROM (SELECT * FROM m LIMIT 5 OFFSET 1 SLIMIT 2 SOFFSET 3)');
    expect(s).not.toHaveProperty('limit');
    expect((s.sources[0] as SubquerySource).statement).toMatchObject({ limit: 5, offset: 1, slimit: 2, soffset: 3 });
  });

  it('reads FROM of SHOW statements and DROP SERIES, and the target of DROP MEASUREMENT', () => {
    expect(one('SHOW TAG KEYS FROM "m", /x/').sources.map((x) => x.kind)).toEqual(['measurement', 'regex']);
    expect(one('SHOW SERIES FROM rp.cpu').sources[0]).toMatchObject({ name: 'cpu', rp: 'rp' });
    expect(one('DROP SERIES FROM cpu').sources[0]).toMatchObject({ name: 'cpu' });
    expect(one('DELETE FROM rp.cpu').sources[0]).toMatchObject({ name: 'cpu', rp: 'rp' });
    expect(one('DROP MEASUREMENT "cpu"')).toMatchObject({ name: 'cpu', sources: [{ kind: 'measurement', name: 'cpu' }] });
  });

  it('refuses qualifiers influxd refuses for DELETE and DROP SERIES, and subqueries outside SELECT', () => {
    expect(parseError('DELETE FROM db.rp.cpu')).toBe('database not supported at line 1, char 1');
    expect(parseError('DROP SERIES FROM rp.cpu')).toBe('retention policy not supported at line 1, char 1');
    expect(parseError('SHOW SERIES FROM (SELECT * FROM m)')).toBe('found (, expected identifier at line 1, char 18');
  });

  it('refuses more than three name segments', () => {
    expect(parseError('SELECT * FROM a.b.c.d')).toBe('too many segments in "a"."b"."c".d at line 1, char 1');
  });
});

describe('parseQuery: statement details', () => {
  it('reads SHOW TAG VALUES … WITH KEY', () => {
    const s = one('SHOW TAG VALUES FROM "m" WITH KEY = "host"');
    expect(s).toMatchObject({ kind: 'show-tag-values', withKey: { op: '=', key: 'host' } });
    expect(s.sources).toEqual([expect.objectContaining({ kind: 'measurement', name: 'm' })]);
    expect(one('SHOW TAG VALUES WITH KEY IN ("host", region)').withKey).toEqual({ op: 'IN', keys: ['host', 'region'] });
    expect(one('SHOW TAG VALUES WITH KEY =~ /ho.*/').withKey).toEqual({ op: '=~', pattern: 'ho.*' });
    expect(one('SHOW TAG VALUES WITH KEY != host').withKey).toEqual({ op: '!=', key: 'host' });
    expect(parseError('SHOW TAG VALUES FROM m')).toBe('found EOF, expected WITH at line 1, char 24');
  });

  it('reads SHOW MEASUREMENTS WITH MEASUREMENT, LIMIT and OFFSET', () => {
    const q = 'SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu.*/ LIMIT 100 OFFSET 5';
    const s = one(q);
    expect(s).toMatchObject({
      kind: 'show-measurements',
      withMeasurement: { op: '=~', source: { kind: 'regex', pattern: 'cpu.*' } },
      limit: 100,
      offset: 5,
    });
    expect(textOf(q, s.clauses.with)).toBe('WITH MEASUREMENT =~ /cpu.*/');
    expect(textOf(q, s.clauses.limit)).toBe('LIMIT 100');
    expect(one('SHOW MEASUREMENTS WITH MEASUREMENT = "cpu"').withMeasurement).toMatchObject({
      op: '=',
      source: { kind: 'measurement', name: 'cpu' },
    });
  });

  it('reads ON <db> of SHOW statements', () => {
    expect(one('SHOW RETENTION POLICIES ON "telegraf"')).toMatchObject({
      onDatabase: 'telegraf',
      onDatabaseSpan: { start: 27, end: 37 },
    });
    expect(one('SHOW MEASUREMENTS ON db').onDatabase).toBe('db');
    expect(one('SHOW MEASUREMENTS ON db.rp')).toMatchObject({ onDatabase: 'db', onRetentionPolicy: 'rp' });
    expect(one('SHOW MEASUREMENTS ON *.*')).toMatchObject({ onAllDatabases: true, onAllRetentionPolicies: true });
    expect(one('SHOW TAG KEYS ON db FROM cpu').onDatabase).toBe('db');
    expect(one('SHOW SERIES CARDINALITY ON db').onDatabase).toBe('db');
  });

  it('reads the database of CREATE DATABASE and DROP DATABASE', () => {
    expect(one('CREATE DATABASE "telegraf"')).toMatchObject({ kind: 'create-database', database: 'telegraf' });
    expect(one('CREATE DATABASE db WITH NAME one_day DURATION 1d'.replace(' DURATION 1d', '')).name).toBe('one_day');
    expect(one('drop database "my db"').database).toBe('my db');
  });

  it('locates the database name of CREATE DATABASE and DROP DATABASE, quotes included', () => {
    const q = ' ; CREATE DATABASE "tele graf" WITH DURATION 1d';
    const span = one(q).databaseSpan!;
    expect(q.slice(span.start, span.end)).toBe('"tele graf"');
    expect(one('drop database x').databaseSpan).toEqual({ start: 14, end: 15 });
  });

  it('reads names, privileges and ids of admin statements', () => {
    expect(one('GRANT READ ON "db" TO "bob"')).toMatchObject({ privilege: 'READ', onDatabase: 'db', name: 'bob' });
    expect(one('GRANT ALL TO bob')).toMatchObject({ privilege: 'ALL', name: 'bob' });
    expect(one('GRANT ALL TO bob')).not.toHaveProperty('onDatabase');
    expect(one('REVOKE ALL PRIVILEGES ON db FROM bob')).toMatchObject({ privilege: 'ALL', onDatabase: 'db', name: 'bob' });
    expect(one('KILL QUERY 18446744073709551615 ON h')).toMatchObject({ id: '18446744073709551615', host: 'h' });
    expect(one('DROP SHARD 7').id).toBe('7');
    expect(one('CREATE RETENTION POLICY one_day ON db DURATION 1d REPLICATION 1')).toMatchObject({
      name: 'one_day',
      onDatabase: 'db',
    });
    expect(one("CREATE SUBSCRIPTION s ON db.rp DESTINATIONS ANY 'x'")).toMatchObject({
      name: 's',
      onDatabase: 'db',
      onRetentionPolicy: 'rp',
    });
    expect(one("SHOW STATS FOR 'httpd'").module).toBe('httpd');
    expect(one("SET PASSWORD FOR bob = 'x'").name).toBe('bob');
  });

  it('marks SELECT … INTO as a write and reads the target', () => {
    const q = 'SELECT mean(v) INTO m2 FROM m GROUP BY time(1m)';
    const s = one(q);
    expect(s.into).toEqual({ name: 'm2', sourceMeasurement: false, span: { start: 20, end: 22 } });
    expect(s.sources).toEqual([expect.objectContaining({ name: 'm' })]);
    expect(textOf(q, s.clauses.into)).toBe('INTO m2');
    expect(textOf(q, s.clauses.groupBy)).toBe('GROUP BY time(1m)');
    expect(one('SELECT * FROM m').into).toBeUndefined();
    expect(one('SELECT * INTO "db"."rp"."m" FROM m').into).toMatchObject({ db: 'db', rp: 'rp', name: 'm' });
    expect(one('SELECT * INTO db..m FROM m').into).toMatchObject({ db: 'db', name: 'm' });
    expect(one('SELECT * INTO db.rp.:MEASUREMENT FROM /.*/').into).toEqual(
      expect.objectContaining({ db: 'db', rp: 'rp', sourceMeasurement: true }),
    );
    expect(one('SELECT * INTO db.rp.:MEASUREMENT FROM /.*/').into).not.toHaveProperty('name');
  });

  it('wraps the SELECT of EXPLAIN ANALYZE and exposes its sources, clauses and limits', () => {
    const q = 'EXPLAIN ANALYZE SELECT mean(v) FROM db.rp.m WHERE time > now() - 1h GROUP BY time(1m) LIMIT 10';
    const s = one(q);
    expect(s).toMatchObject({ kind: 'explain', explain: { analyze: true, verbose: false }, limit: 10 });
    expect(s.inner).toMatchObject({ kind: 'select', text: q.slice('EXPLAIN ANALYZE '.length) });
    expect(s.sources).toEqual([expect.objectContaining({ name: 'm', db: 'db' })]);
    expect(textOf(q, s.clauses.where)).toBe('WHERE time > now() - 1h');
    expect(s.tokens[s.clauses.where!.tokenStart].value).toBe('WHERE');
    expect(s.inner!.tokens[s.inner!.clauses.where!.tokenStart].value).toBe('WHERE');
    expect(one('EXPLAIN SELECT * FROM m').explain).toEqual({ analyze: false, verbose: false });
    expect(parseError('EXPLAIN SHOW DATABASES')).toBe('found SHOW, expected SELECT at line 1, char 9');
  });

  it('reads the SELECT of a continuous query, which must have INTO', () => {
    const s = one('CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END');
    expect(s).toMatchObject({ name: 'cq', onDatabase: 'db', into: { name: 'm2' } });
    expect(s.inner?.kind).toBe('select');
    expect(s.sources).toEqual([expect.objectContaining({ name: 'm' })]);
    expect(parseError('CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT v FROM m END')).toBe('found FROM, expected INTO at line 1, char 49');
  });
});

describe('parseQuery: clause positions for the time-range guard', () => {
  it('locates WHERE, GROUP BY, dimensions and fill of a Grafana query', () => {
    const q =
      'SELECT mean("value") FROM "cpu" WHERE ("host" = \'a\') AND time >= now() - 6h and time <= now() GROUP BY time(20s), "host" fill(null)';
    const s = one(q);
    expect(s.kind).toBe('select');
    expect(s.sources).toEqual([{ kind: 'measurement', name: 'cpu', span: { start: 26, end: 31 } }]);
    expect(textOf(q, s.clauses.fields)).toBe('mean("value")');
    expect(textOf(q, s.clauses.from)).toBe('FROM "cpu"');
    expect(textOf(q, s.clauses.where)).toBe('WHERE ("host" = \'a\') AND time >= now() - 6h and time <= now()');
    expect(textOf(q, s.clauses.groupBy)).toBe('GROUP BY time(20s), "host"');
    expect(s.clauses.dimensions?.map((d) => textOf(q, d))).toEqual(['time(20s)', '"host"']);
    expect(textOf(q, s.clauses.fill)).toBe('fill(null)');
    const where = s.clauses.where!;
    expect(
      s.tokens
        .slice(where.tokenStart, where.tokenEnd)
        .map((t) => t.text)
        .join(' '),
    ).toBe('WHERE ( "host" = \'a\' ) AND time >= now ( ) - 6h and time <= now ( )');
    const groupBy = s.clauses.groupBy!;
    expect(s.tokens[groupBy.tokenEnd].text).toBe('fill');
  });

  it('locates the clauses of a Grafana query with epoch-millisecond bounds and an rp-qualified source', () => {
    const q =
      'SELECT mean("usage_idle") FROM "autogen"."cpu" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(1m) fill(null)';
    const s = one(q);
    expect(s.sources).toEqual([{ kind: 'measurement', name: 'cpu', rp: 'autogen', span: { start: 31, end: 46 } }]);
    expect(textOf(q, s.clauses.where)).toBe('WHERE time >= 1700000000000ms and time <= 1700003600000ms');
    expect(s.tokens.filter((t) => t.kind === 'duration').map((t) => t.value)).toEqual(['1700000000000ms', '1700003600000ms', '1m']);
    expect(textOf(q, s.clauses.groupBy)).toBe('GROUP BY time(1m)');
    expect(textOf(q, s.clauses.fill)).toBe('fill(null)');
  });

  it('locates ORDER BY, LIMIT, OFFSET, SLIMIT, SOFFSET and tz()', () => {
    const q = "SELECT * FROM m WHERE a > 1 ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 4 tz('Europe/Paris')";
    const s = one(q);
    expect(textOf(q, s.clauses.orderBy)).toBe('ORDER BY time DESC');
    expect(textOf(q, s.clauses.limit)).toBe('LIMIT 10');
    expect(textOf(q, s.clauses.offset)).toBe('OFFSET 2');
    expect(textOf(q, s.clauses.slimit)).toBe('SLIMIT 3');
    expect(textOf(q, s.clauses.soffset)).toBe('SOFFSET 4');
    expect(textOf(q, s.clauses.tz)).toBe("tz('Europe/Paris')");
    expect(s).toMatchObject({ limit: 10, offset: 2, slimit: 3, soffset: 4 });
    expect(s.clauses.groupBy).toBeUndefined();
  });

  it('reports clause offsets into the whole query for a later statement', () => {
    const q = 'SHOW DATABASES; SELECT * FROM m WHERE time > now() - 1h';
    const s = parseQuery(q)[1];
    expect(textOf(q, s.clauses.where)).toBe('WHERE time > now() - 1h');
    expect(s.tokens[s.clauses.where!.tokenStart].start).toBe(s.clauses.where!.start);
  });
});

describe('parseQuery: refusals in influxd style', () => {
  it.each([
    ['SELECT', 'found EOF, expected identifier, string, number, bool at line 1, char 8'],
    ['SELECT * FROM', 'found EOF, expected identifier at line 1, char 15'],
    ['SELECT * FROM select', 'found SELECT, expected identifier at line 1, char 15'],
    ['SELECT * WHERE a = 1', 'found WHERE, expected FROM at line 1, char 10'],
    ['SELECT a = 1 FROM m', 'invalid operator = in SELECT clause at line 1, char 8; operator is intended for WHERE clause'],
    ['SELECT * FROM m ORDER BY host', 'only ORDER BY time supported at this time'],
    ['SELECT * FROM m fill(bogus)', 'expected number argument in fill()'],
    ['SELECT mean(v) FROM m GROUP BY time(1x)', 'invalid duration'],
    ['SELECT * FROM m LIMIT x', 'found x, expected integer at line 1, char 23'],
    ['DELETE', 'found EOF, expected FROM, WHERE at line 1, char 8'],
    ['CREATE DATABASE', 'found EOF, expected identifier at line 1, char 17'],
    ['CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 0', 'invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 58'],
    ['ALTER RETENTION POLICY rp ON db DEFAULT DEFAULT', 'found duplicate DEFAULT option at line 1, char 41'],
    ['GRANT READ TO bob', 'found TO, expected ON at line 1, char 12'],
    // Lexical problems are reported through the parser, with influxd's positions (strings and regexes at the
    // character before them).
    ["SELECT * FROM cpu WHERE host = 'a", 'found a, expected identifier, string, number, bool at line 1, char 31'],
    ["SELECT * FROM m WHERE a = 'x\ny'", 'found x, expected identifier, string, number, bool at line 1, char 26'],
    ['SELECT * FROM "cpu', 'found cpu, expected identifier at line 1, char 14'],
    ["SELECT * FROM m WHERE a = 'x\\q'", 'found \\q, expected identifier, string, number, bool at line 1, char 30'],
    ['SELECT * FROM /cpu', 'bad regex:  at line 1, char 14'],
    ['SELECT * FROM cpu WHERE a = 1 /* no end', 'found ILLEGAL, expected ; at line 1, char 31'],
    ['SELECT * FROM m WHERE a = $x', 'missing parameter: x'],
    ['SELECT * FROM $m', 'found $m, expected identifier at line 1, char 15'],
    ['CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO m2 FROM m END', 'found m, expected GROUP BY time(...) at line 1, char 68'],
    ['SELECT * FROM cpu # x', 'found #, expected ; at line 1, char 19'],
  ])('%s', (q, message) => {
    expect(parseError(q)).toBe(message);
  });

  it('refuses nesting deeper than it can follow, with a parse error', () => {
    expect(parseError(`SELECT ${'('.repeat(5000)}v FROM m`)).toMatch(/nested too deeply/);
    expect(parseError(`SELECT * FROM ${'(SELECT * FROM '.repeat(1000)}m`)).toMatch(/nested too deeply/);
  });

  it('accepts very long flat expressions', () => {
    const q = `SELECT * FROM m WHERE ${Array.from({ length: 5000 }, (_, i) => `a = ${i}`).join(' OR ')}`;
    expect(one(q).clauses.where?.end).toBe(q.length);
  });
});

describe('parseQuery: values', () => {
  it('decodes identifiers and keeps regex patterns as written', () => {
    const s = one(String.raw`SELECT "a\"b" FROM "m\\n" WHERE t =~ /a\d\/b/`);
    expect(s.sources[0]).toMatchObject({ name: 'm\\n' });
    expect(s.tokens.find((t) => t.kind === 'regex')?.value).toBe('a\\d/b');
  });

  it('clamps huge LIMITs the way influxd does', () => {
    // eslint-disable-next-line no-loss-of-precision -- influxd's int64 maximum as written; the parser's number is this double
    expect(one('SELECT * FROM m LIMIT 99999999999999999999').limit).toBe(9223372036854775807);
  });

  it('returns regex sources typed as RegexSource', () => {
    const s = one('SELECT * FROM /a/').sources[0] as RegexSource;
    expect(s.pattern).toBe('a');
  });
});

describe('parseQuery: bound parameters', () => {
  it('substitutes bound values as influxd does, so a parameterised source is routable', () => {
    const s = one2('SELECT * FROM $m WHERE host = $h', { m: { identifier: 'cpu' }, h: 'a' });
    expect(s.sources).toEqual([{ kind: 'measurement', name: 'cpu', span: { start: 14, end: 16 } }]);
    expect(s.tokens[3]).toMatchObject({ kind: 'ident', value: 'cpu', text: '$m', param: 'm' });
    expect(one2('SELECT * FROM $db.rp.m', { db: { identifier: 'telegraf' } }).sources[0]).toMatchObject({
      db: 'telegraf',
      dbSpan: { start: 14, end: 17 },
    });
  });

  it('binds regexes where a regex may appear', () => {
    expect(one2('SELECT * FROM $r', { r: { regex: 'c;.*' } }).sources[0]).toMatchObject({ kind: 'regex', pattern: 'c;.*' });
    expect(one2('SELECT * FROM m WHERE h =~ $r', { r: { regex: 'x' } }).kind).toBe('select');
  });

  it('binds numbers, booleans, durations and strings as literals', () => {
    const params = { n: 5, f: 1.5, b: true, d: { duration: '1h' }, s: 'x', i: { integer: 3 } };
    expect(one2('SELECT * FROM m WHERE a = $n AND b = $f AND c = $b AND t > now() - $d AND e = $s AND g = $i LIMIT $n', params).limit).toBe(
      5,
    );
  });

  it("refuses unbound or unbindable parameters with influxd's words", () => {
    expect(parseError('SELECT * FROM m WHERE a = $x')).toBe('missing parameter: x');
    expect(() => parseQuery('SELECT * FROM m WHERE a = $x', { params: { y: 1 } })).toThrow('missing parameter: x');
    expect(() => parseQuery('SELECT * FROM m WHERE a = $x', { params: { x: { bogus: 1 } } })).toThrow('unknown bind object type: bogus');
    expect(() => parseQuery('SELECT * FROM m WHERE t > now() - $d', { params: { d: { duration: '1x' } } })).toThrow('invalid duration');
    expect(parseError('SELECT * FROM $m')).toBe('found $m, expected identifier at line 1, char 15');
  });
});

describe("parseQuery: what influxd's HTTP handler does first", () => {
  it('ignores Go white space around the query (influxd parses strings.TrimSpace(q))', () => {
    const q = '\u00a0\u3000 SHOW DATABASES\u00a0';
    expect(one(q)).toMatchObject({ kind: 'show-databases', start: 3, end: 17 });
  });

  it('counts lines and characters in the trimmed query, but offsets in the given string', () => {
    const q = "\n\n  SELECT * FROM 'x'";
    try {
      parseQuery(q);
      throw new Error('expected a refusal');
    } catch (err) {
      expect(err).toBeInstanceOf(InfluxQLParseError);
      expect((err as InfluxQLParseError).message).toBe('found x, expected identifier at line 1, char 14');
      expect((err as InfluxQLParseError).offset).toBe(18);
    }
  });

  it('places EOF where influxd does: one further after a word or line comment than after punctuation', () => {
    expect(parseError('SELECT * FROM m WHERE a =')).toBe('found EOF, expected identifier, string, number, bool at line 1, char 26');
    expect(parseError('SELECT * FROM m WHERE a AND')).toBe('found EOF, expected identifier, string, number, bool at line 1, char 29');
    expect(parseError('SELECT a,')).toBe('found EOF, expected identifier, string, number, bool at line 1, char 11');
    expect(parseError('DROP /* x */')).toBe(
      `found EOF, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 13`,
    );
    expect(parseError('DROP -- x')).toBe(
      `found EOF, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 11`,
    );
  });
});

describe('parseQuery: cost', () => {
  it('parses a megabyte-sized query in linear time', () => {
    const q = Array.from(
      { length: 4000 },
      (_, i) => `SELECT mean("v${i}") FROM "db"."rp"."m${i}" WHERE time > now() - 1h GROUP BY time(1m)`,
    ).join(';\n');
    const started = Date.now();
    expect(parseQuery(q)).toHaveLength(4000);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stays linear on long runs of empty statements when refusing them', () => {
    const q = 'SHOW DATABASES' + ';'.repeat(200_000);
    const started = Date.now();
    expect(parseQuery(q, { rejectEmptyStatements: true })).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
