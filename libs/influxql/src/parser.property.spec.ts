import fc from 'fast-check';
import {
  classifyStatement,
  InfluxQLParseError,
  Lexer,
  parseQuery,
  rewriteDatabase,
  STATEMENT_KINDS,
  type ParsedStatement,
  type Source,
} from '@app/influxql';

/**
 * Invariants that must hold for any input:
 * - parseQuery returns or throws InfluxQLParseError, nothing else, and returns promptly;
 * - statements lie inside the input, in order, with `text === query.slice(start, end)`;
 * - everything outside the statements is whitespace, comments and `;` (nothing is silently dropped);
 * - each statement's text, parsed alone, is the same single statement (it can be forwarded verbatim).
 */
function checkQuery(q: string): ParsedStatement[] | undefined {
  let statements: ParsedStatement[];
  try {
    statements = parseQuery(q);
  } catch (err) {
    if (!(err instanceof InfluxQLParseError)) throw err;
    expect(err.message.length).toBeGreaterThan(0);
    return undefined;
  }
  const problems: string[] = [];
  if (!Array.isArray(statements)) problems.push('not an array');
  let previousEnd = 0;
  // influxd parses strings.TrimSpace(q): Go white space at either end is not part of the query.
  const trimmed = goTrim(q);
  const lexer = new Lexer(q.slice(0, trimmed.end));
  for (const [i, s] of statements.entries()) {
    if (!(s.start >= previousEnd && s.end > s.start && s.end <= q.length)) problems.push(`statement ${i} offsets`);
    if (s.text !== q.slice(s.start, s.end)) problems.push(`statement ${i} text`);
    if (s.tokens.some((t) => t.start < s.start || t.end > s.end)) problems.push(`statement ${i} tokens outside it`);
    problems.push(...separatorProblems(lexer, Math.max(previousEnd, trimmed.start), s.start));
    previousEnd = s.end;
  }
  problems.push(...separatorProblems(lexer, Math.max(previousEnd, trimmed.start), trimmed.end));

  for (const [i, s] of statements.entries()) {
    const alone = parseQuery(s.text);
    const same =
      alone.length === 1 &&
      alone[0].kind === s.kind &&
      alone[0].tokens.length === s.tokens.length &&
      alone[0].tokens.every((t, j) => t.text === s.tokens[j].text);
    if (!same) problems.push(`statement ${i} parses differently alone`);
  }
  expect(problems).toEqual([]);
  return statements;
}

const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

function goTrim(q: string): { start: number; end: number } {
  let start = 0;
  let end = q.length;
  while (start < end && GO_SPACE.test(q[start])) start++;
  while (end > start && GO_SPACE.test(q[end - 1])) end--;
  return { start, end };
}

/** Anything but whitespace, comments and `;` in [from, to), described. */
function separatorProblems(lexer: Lexer, from: number, to: number): string[] {
  const problems: string[] = [];
  for (let pos = from; pos < to;) {
    const t = lexer.scan(pos);
    if (t.kind !== 'whitespace' && t.kind !== 'comment' && !(t.kind === 'punctuation' && t.value === ';')) {
      problems.push(`${t.kind} ${JSON.stringify(t.text)} at ${t.start} is outside every statement`);
    }
    pos = t.end;
  }
  return problems;
}

/** Pieces of InfluxQL, tricky ones included, to build near-miss queries from. */
// prettier-ignore
const FRAGMENTS = [
  'SELECT', 'select', 'FROM', 'WHERE', 'GROUP BY', 'ORDER BY', 'LIMIT', 'OFFSET', 'SLIMIT', 'INTO', 'AS', 'AND', 'or',
  'SHOW', 'DATABASES', 'MEASUREMENTS', 'TAG', 'VALUES', 'KEYS', 'KEY', 'WITH', 'MEASUREMENT', 'SERIES', 'CARDINALITY',
  'EXACT', 'ON', 'DROP', 'DATABASE', 'CREATE', 'DELETE', 'EXPLAIN', 'ANALYZE', 'GRANT', 'REVOKE', 'ALL', 'KILL', 'QUERY',
  'BEGIN', 'END', 'DISTINCT', 'fill', 'tz', 'time', 'now()', 'mean', 'cpu', 'db', 'rp', 'host', '"m;x"', '"a\\"b"',
  "'s;t'", "'it\\'s'", '/re;x/', '/a\\/b/', '/', '//', '\\', '"', "'", ';', ';;', ',', '.', '..', ':', '::', ':MEASUREMENT',
  '(', ')', '*', '=', '=~', '!~', '!=', '<>', '<', '>=', '+', '-', '%', '$p', '1', '1.5', '.5', '10s', '1µ', '6h',
  '1700000000000ms', '--', '-- c\n', '/*', '*/', '/* ; */', '\n', '\r\n', '\t', ' ', '  ', '#', 'µ', 'é', '😀',
];

const fragmentQuery = fc
  .array(fc.tuple(fc.constantFrom(...FRAGMENTS), fc.constantFrom('', ' ', ' ', '\n')), { maxLength: 40 })
  .map((parts) => parts.map(([f, sep]) => f + sep).join(''));

/** Valid statements with `;`, quotes, regexes and comment markers inside. */
const VALID = [
  'SELECT "a;b" FROM "m;x"',
  String.raw`SELECT * FROM cpu WHERE host = 'x;y' AND r =~ /a;b\/c/`,
  `SELECT mean("value") FROM "cpu" WHERE ("host" = 'a') AND time >= now() - 6h and time <= now() GROUP BY time(20s), "host" fill(null)`,
  `SELECT mean("usage_idle") FROM "autogen"."cpu" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(1m) fill(null)`,
  `SELECT * FROM /cp;u/, db.rp./x;/, (SELECT v FROM "m;" WHERE t = ';')`,
  'DROP DATABASE "bench;"',
  'SHOW TAG VALUES FROM "m" WITH KEY =~ /h;o/',
  'SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu;.*/ LIMIT 100 OFFSET 5',
  'SELECT a / b FROM m',
  'SELECT a./2 FROM m',
  'CREATE CONTINUOUS QUERY "c;q" ON db BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END',
  'SELECT * /* ; */ FROM cpu',
  `EXPLAIN ANALYZE SELECT count(v) FROM m WHERE "t;" = '--'`,
  'SHOW DATABASES',
  'DELETE FROM cpu WHERE time < now() - 1d',
  `SELECT * FROM m WHERE a = '/*' AND b = '*/'`,
  'SELECT "--" FROM "/*"',
  `SELECT top(v, 3), /u;x/ FROM db..m GROUP BY /t;g/, time(1m) fill(-1) ORDER BY time DESC LIMIT 5 tz('UTC')`,
];

/** Junk allowed right after a statement (influxd refuses whitespace then `/*` after a bare name, so none of that). */
const AFTER = ['', ' ', '\n', ' -- c ; x\n', '/* ; */'];
/** Junk allowed after a separator (`FROM m;/*` is refused by influxd too: it peeks for a regex after a name). */
const BEFORE = ['', ' ', '\n\t', ' /* ; */ ', '-- ; DROP DATABASE x\n', ';', ' ; '];

const validQuery = fc
  .array(fc.tuple(fc.constantFrom(...VALID), fc.constantFrom(...AFTER), fc.constantFrom(...BEFORE)), {
    minLength: 1,
    maxLength: 6,
  })
  .chain((parts) =>
    fc.boolean().map((trailing) => ({
      statements: parts.map(([s]) => s),
      query: parts.map(([s, after, before]) => before + s + after).join(';') + (trailing ? ';' : ''),
    })),
  );

/** 500 runs per property keeps the suite fast; set IQL_RUNS for a deeper run (20 000 passes clean). */
const RUNS = { numRuns: Number(process.env.IQL_RUNS ?? 500) };

describe('parseQuery properties', () => {
  it('returns or throws InfluxQLParseError for any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (q) => void checkQuery(q)),
      RUNS,
    );
  });

  it('returns or throws InfluxQLParseError for any full-Unicode string', () => {
    // fast-check 4 spells fullUnicodeString as string({ unit: 'binary' }).
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (q) => void checkQuery(q)),
      RUNS,
    );
  });

  it('returns or throws InfluxQLParseError for strings assembled from InfluxQL fragments', () => {
    fc.assert(
      fc.property(fragmentQuery, (q) => void checkQuery(q)),
      RUNS,
    );
  });

  it('survives valid queries with random insertions', () => {
    fc.assert(
      fc.property(validQuery, fc.nat(), fc.constantFrom(...FRAGMENTS), ({ query }, at, insert) => {
        const i = at % (query.length + 1);
        checkQuery(query.slice(0, i) + insert + query.slice(i));
      }),
      RUNS,
    );
  });

  it('splits valid multi-statement queries into exactly their statements', () => {
    fc.assert(
      fc.property(validQuery, ({ statements, query }) => {
        const parsed = checkQuery(query);
        expect(parsed?.map((s) => s.text)).toEqual(statements);
      }),
      RUNS,
    );
  });

  it('never hangs on long inputs', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1000, maxLength: 5000 }), fragmentQuery, (noise, q) => {
        const started = Date.now();
        checkQuery(q.repeat(20) + noise);
        expect(Date.now() - started).toBeLessThan(1000);
      }),
      { numRuns: 50 },
    );
  });
});

describe('classifyStatement properties', () => {
  it('never throws and always returns a known kind', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fragmentQuery), (q) => {
        expect(STATEMENT_KINDS).toContain(classifyStatement(q));
      }),
      RUNS,
    );
  });

  it('agrees with parseQuery on valid statements', () => {
    for (const q of VALID) expect(classifyStatement(q)).toBe(parseQuery(q)[0].kind);
  });
});

describe('rewriteDatabase properties', () => {
  const dbOf = (sources: Source[]): (string | undefined)[] =>
    sources.flatMap((s) => (s.kind === 'subquery' ? dbOf(s.statement.sources) : [s.db]));

  it('renames every written db to any new name and nothing else', () => {
    const withDbs = [
      'SELECT * FROM db.rp.m, "a.b"..n, rp.o, /x/, db../y/',
      'SELECT v FROM (SELECT v FROM d1.r.m1, (SELECT v FROM "d 2"..m2)), m3 WHERE a = \'db.rp.m\'',
      'SELECT mean(v) INTO d.r.t FROM d.r.s GROUP BY time(1m)',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...withDbs),
        fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\r')),
        (q, newDb) => {
          const [before] = parseQuery(q);
          const [after] = parseQuery(rewriteDatabase(before, newDb));
          expect(after.kind).toBe(before.kind);
          expect(dbOf(after.sources)).toEqual(
            dbOf(before.sources).map((db) => (db === undefined ? undefined : newDb === '' ? undefined : newDb)),
          );
          if (before.into?.db) expect(after.into?.db).toBe(newDb === '' ? undefined : newDb);
          const names = (ss: Source[]): string[] =>
            ss.flatMap((s) => (s.kind === 'subquery' ? names(s.statement.sources) : [s.kind === 'regex' ? s.pattern : s.name]));
          expect(names(after.sources)).toEqual(names(before.sources));
        },
      ),
      RUNS,
    );
  });
});
