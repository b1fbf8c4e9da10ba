import fc from 'fast-check';
import {
  MASK,
  maskBackendPasswords,
  maskPasswordParams,
  maskQueryPasswords,
  maskSecretKeys,
  maskSecretsInLogText,
  maskUrlPassword,
} from './redact';

describe('maskQueryPasswords (raw InfluxQL, before any quoting)', () => {
  it('masks the literal after PASSWORD and after PASSWORD FOR u =, whatever lies between the tokens', () => {
    expect(maskQueryPasswords("CREATE USER bob WITH PASSWORD 'it\\'s'; SHOW USERS")).toBe(
      `CREATE USER bob WITH PASSWORD ${MASK}; SHOW USERS`,
    );
    expect(maskQueryPasswords("set password for bob = 'x'")).toBe(`set password for bob = ${MASK}`);
    expect(maskQueryPasswords("CREATE USER e WITH\nPASSWORD 'nl-secret'")).toBe(`CREATE USER e WITH\nPASSWORD ${MASK}`);
    expect(maskQueryPasswords("CREATE USER e WITH\tPASSWORD 'tab-secret'")).toBe(`CREATE USER e WITH\tPASSWORD ${MASK}`);
    expect(maskQueryPasswords("CREATE USER e WITH PASSWORD /* ' ; */ -- '\n 'c' WITH ALL PRIVILEGES")).toBe(
      `CREATE USER e WITH PASSWORD /* ' ; */ -- '\n ${MASK} WITH ALL PRIVILEGES`,
    );
    expect(maskQueryPasswords(`SET PASSWORD FOR "we ird\\"user" = '\\\\\\'a'`)).toBe(`SET PASSWORD FOR "we ird\\"user" = ${MASK}`);
  });

  it('leaves text without a password literal as it is', () => {
    for (const q of ['SELECT password FROM logins', 'SELECT * FROM "password" WHERE a = \'b\'', 'SHOW USERS', '']) {
      expect(maskQueryPasswords(q)).toBe(q);
    }
  });

  it('masks everything from a malformed or cut literal on (nobody can tell where it ends)', () => {
    expect(maskQueryPasswords("CREATE USER u WITH PASSWORD 'abc\\qdef'; SHOW USERS")).toBe(`CREATE USER u WITH PASSWORD ${MASK}`);
    expect(maskQueryPasswords("CREATE USER u WITH PASSWORD 'abc\ndef'")).toBe(`CREATE USER u WITH PASSWORD ${MASK}`);
    expect(maskQueryPasswords("CREATE USER u WITH PASSWORD 'abcd")).toBe(`CREATE USER u WITH PASSWORD ${MASK}`);
    expect(maskQueryPasswords("CREATE USER u WITH PASSWORD 'ab\\")).toBe(`CREATE USER u WITH PASSWORD ${MASK}`);
  });

  it('masks a password after a malformed token, in comments and in an unclosed comment', () => {
    expect(maskQueryPasswords("SELECT 'a\\q'; CREATE USER u WITH PASSWORD 'after-bad'")).not.toContain('after-bad');
    expect(maskQueryPasswords("-- CREATE USER u WITH PASSWORD 'in-comment'\nSHOW USERS")).not.toContain('in-comment');
    expect(maskQueryPasswords("SHOW USERS /* CREATE USER u WITH PASSWORD 'in-open-comment'")).not.toContain('in-open');
  });
});

describe('maskPasswordParams (request targets)', () => {
  it('drops p, masks the passwords of q, and keeps the rest', () => {
    expect(maskPasswordParams('/write?db=x&u=bob&p=s3cret&precision=s')).toBe('/write?db=x&u=bob&precision=s');
    expect(maskPasswordParams('/query?p=s3cret')).toBe('/query');
    expect(maskPasswordParams('/ping')).toBe('/ping');
    expect(maskPasswordParams('/write?db=x')).toBe('/write?db=x');
    const url = maskPasswordParams(`/query?q=${encodeURIComponent("CREATE USER bob WITH PASSWORD 'pw1'")}&p=pw2`);
    expect(url).not.toMatch(/pw1|pw2/);
    expect(new URLSearchParams(url.split('?')[1]).get('q')).toBe(`CREATE USER bob WITH PASSWORD ${MASK}`);
    const twice = maskPasswordParams(`/query?q=SHOW%20USERS&q=${encodeURIComponent("SET PASSWORD FOR u = 'pw3'")}&db=d`);
    expect(twice).toBe(`/query?q=SHOW+USERS&q=${encodeURIComponent(`SET PASSWORD FOR u = ${MASK}`).replace(/%20/g, '+')}&db=d`);
  });

  it('masks the bound params of a query that binds its password', () => {
    const url = maskPasswordParams(
      `/query?q=${encodeURIComponent('CREATE USER bob WITH PASSWORD $pw')}&params=${encodeURIComponent('{"pw":"bound-secret"}')}`,
    );
    expect(decodeURIComponent(url)).not.toContain('bound-secret');
  });
});

describe('maskUrlPassword and maskSecretKeys (/meta)', () => {
  it('masks a URL password and secret-looking keys at any depth', () => {
    expect(maskUrlPassword('http://writer:pw@127.0.0.1:8086')).toBe(`http://writer:${MASK}@127.0.0.1:8086/`);
    expect(maskUrlPassword('http://127.0.0.1:8086')).toBe('http://127.0.0.1:8086');
    expect(maskSecretKeys({ a: { password: 'x', hash: 'y', admin: true }, list: [{ Token: 't' }], n: 1 })).toEqual({
      a: { password: MASK, hash: MASK, admin: true },
      list: [{ Token: MASK }],
      n: 1,
    });
  });

  it('masks a backend’s password and its URL password, and gives back a backend without either as it is', () => {
    const both = { url: 'http://w:pw@127.0.0.1:8086', db: 'd', password: 'secret', username: 'w' };
    expect(maskBackendPasswords(both)).toEqual({ url: `http://w:${MASK}@127.0.0.1:8086/`, db: 'd', password: MASK, username: 'w' });
    expect(both.password).toBe('secret'); // a copy: the running config keeps its password
    expect(maskBackendPasswords({ url: 'http://127.0.0.1:8086', password: 'p' })).toEqual({ url: 'http://127.0.0.1:8086', password: MASK });
    const plain = { url: 'http://127.0.0.1:8086', db: 'd' };
    expect(maskBackendPasswords(plain)).toBe(plain);
  });
});

describe('maskSecretsInLogText (the last net for free text)', () => {
  it('masks quoted, escaped queries, p= parameters, URL passwords and Basic/Token credentials', () => {
    const msg = `query 1 refused: forbidden: ${JSON.stringify("CREATE USER a WITH\nPASSWORD 'zz9'")} from /query?u=a&p=zz8`;
    expect(maskSecretsInLogText(msg)).not.toMatch(/zz9|zz8/);
    expect(maskSecretsInLogText('connect http://w:zz7@10.0.0.1:8086 failed')).not.toContain('zz7');
    const basic = Buffer.from('bob:zz6').toString('base64');
    expect(maskSecretsInLogText(`Authorization: Basic ${basic}, then Token bob:zz5`)).not.toMatch(new RegExp(`${basic}|zz5`));
    expect(maskSecretsInLogText('nothing to hide')).toBe('nothing to hide');
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: for any statement carrying a password, no logged form contains any of it.

/** Passwords carry markers no other part of a generated query holds: any leaked piece shows. */
const OPEN = '\u00a7';
const CLOSE = '\u00a4';
const passwordArb = fc
  .string({ unit: fc.constantFrom(...'aZ09 \'"\\;*/-=$#\t\u00e9\u4e2d'.split('')), maxLength: 16 })
  .map((body) => `${OPEN}${body}${CLOSE}`);

/** influxd's string literal for `value`. */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Between two tokens: whitespace, comments (at least one of them when `required`). */
const gapArb = (required: boolean) =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom(' ', '\t', '\n', '\r\n', '  '),
        fc.string({ unit: fc.constantFrom(...'ab ;\'"*-'.split('')), maxLength: 6 }).map((c) => `/*${c.replace(/\*/g, '')}*/`),
        fc.string({ unit: fc.constantFrom(...'ab ;\'"/*'.split('')), maxLength: 6 }).map((c) => `--${c}\n`),
      ),
      { minLength: required ? 1 : 0, maxLength: 3 },
    )
    .map((parts) => parts.join('')); // a comment alone parts two tokens, as whitespace does

const keywordArb = (word: string) =>
  fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((upper) =>
    word
      .split('')
      .map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase()))
      .join(''),
  );

const userArb = fc.oneof(
  fc.constantFrom('bob', 'e', 'u_1'),
  fc.constantFrom('"password"', '"we ird"', '"a\\"b"', '"WITH PASSWORD"', '"se;mi"'),
);

/** `CREATE USER u WITH PASSWORD '…' [WITH ALL PRIVILEGES]` or `SET PASSWORD FOR u = '…'`. */
const passwordStatementArb = (password: string) =>
  fc.oneof(
    fc
      .tuple(
        keywordArb('CREATE'),
        gapArb(true),
        keywordArb('USER'),
        gapArb(true),
        userArb,
        gapArb(true),
        keywordArb('WITH'),
        gapArb(true),
        keywordArb('PASSWORD'),
        gapArb(false),
        fc.boolean(),
        gapArb(true),
        keywordArb('WITH'),
        gapArb(true),
        keywordArb('ALL'),
        gapArb(true),
        keywordArb('PRIVILEGES'),
      )
      .map(
        ([c, g1, u, g2, user, g3, w, g4, p, g5, admin, g6, w2, g7, all, g8, priv]) =>
          `${c}${g1}${u}${g2}${user}${g3}${w}${g4}${p}${g5}${literal(password)}` + (admin ? `${g6}${w2}${g7}${all}${g8}${priv}` : ''),
      ),
    fc
      .tuple(
        keywordArb('SET'),
        gapArb(true),
        keywordArb('PASSWORD'),
        gapArb(true),
        keywordArb('FOR'),
        gapArb(true),
        userArb,
        gapArb(false),
        gapArb(false),
      )
      .map(([s, g1, p, g2, f, g3, user, g4, g5]) => `${s}${g1}${p}${g2}${f}${g3}${user}${g4}=${g5}${literal(password)}`),
  );

const otherStatementArb = fc.constantFrom(
  "SELECT * FROM m WHERE a = 'b'",
  'SHOW USERS',
  'SELECT "password" FROM logins',
  "SHOW TAG VALUES WITH KEY = 'k'",
);

/** One to three statements, at least one carrying `password`, joined by `;`. */
const queryArb = passwordArb.chain((password) =>
  fc
    .tuple(
      fc.array(otherStatementArb, { maxLength: 2 }),
      passwordStatementArb(password),
      fc.array(fc.oneof(otherStatementArb, passwordStatementArb(password)), { maxLength: 2 }),
      gapArb(false),
    )
    .map(([before, stmt, after, gap]) => ({ password, q: [...before, stmt, ...after].join(`;${gap}`) })),
);

/** Every way a query reaches a log line: traced, quoted in a refusal, in a URL, cut short, through the last net. */
function loggedForms(q: string, password: string): string[] {
  const masked = maskQueryPasswords(q);
  const target = maskPasswordParams(`/query?${new URLSearchParams({ db: 'd', u: 'bob', p: password, q })}`);
  const forms = [
    masked,
    JSON.stringify(masked),
    maskSecretsInLogText(`query 7 refused: CREATE USER is forbidden by this proxy: ${JSON.stringify(masked)}`),
    target,
    new URLSearchParams(target.split('?')[1]).toString(),
    ...[...new URLSearchParams(target.split('?')[1]).values()],
  ];
  for (const cut of [1, 7, 20, 33, 50, 80]) if (cut < q.length) forms.push(JSON.stringify(maskQueryPasswords(q.slice(0, cut))));
  return forms;
}

function leaks(form: string, password: string): boolean {
  return form.includes(OPEN) || form.includes(CLOSE) || form.includes(password) || form.includes(encodeURIComponent(OPEN));
}

describe('no logged form of a statement carrying a password contains any of it (fast-check)', () => {
  it('holds for CREATE USER / SET PASSWORD with any case, whitespace and comments, quoted users, escaped quotes, several statements', () => {
    fc.assert(
      fc.property(queryArb, ({ q, password }) => {
        for (const form of loggedForms(q, password)) {
          if (leaks(form, password)) throw new Error(`leaked in ${JSON.stringify(form)} (query ${JSON.stringify(q)})`);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('holds for the p= parameter and Basic/Token credentials in free text', () => {
    fc.assert(
      fc.property(passwordArb, fc.constantFrom('bob', 'a.b'), (password, user) => {
        const basic = Buffer.from(`${user}:${password}`).toString('base64');
        const forms = [
          maskSecretsInLogText(`request failed: GET /query?u=${user}&p=${encodeURIComponent(password)}&q=x`),
          maskSecretsInLogText(`Authorization: Basic ${basic}`),
          maskSecretsInLogText(`Authorization: Token ${user}:${password}`),
          maskPasswordParams(`/write?db=d&u=${user}&p=${encodeURIComponent(password)}`),
        ];
        for (const form of forms) {
          if (leaks(form, password) || form.includes(basic)) throw new Error(`leaked in ${JSON.stringify(form)}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
