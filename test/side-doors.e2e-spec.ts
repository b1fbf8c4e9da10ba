/**
 * Side doors (#13 items 7 and 8), against two real influxd and real proxies:
 * - a statement of an allowed kind that does what a forbidden kind does is refused like it:
 *   `CREATE RETENTION POLICY … DEFAULT` (an ALTER RETENTION POLICY … DEFAULT: default queries stop seeing
 *   every point written so far) and `CREATE USER … WITH ALL PRIVILEGES` (a GRANT), and run once the
 *   matching kind is allowed;
 * - no password reaches the log file: statements carrying one (newline, tab, comments, quoted users,
 *   escaped quotes, several statements, a malformed literal) refused, guarded, traced and run, sent with
 *   credentials in `p=`, Basic and Token.
 */
import { hashPassword } from '@app/auth';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HttpResponse, request } from './support/http';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { makeTempDir, removeDir, stopAll, waitUntil } from './support/processes';
import { ProxyProcess, startProxy } from './support/proxy-process';

const DB = 'sd';
const ADMIN = { name: 'alice', password: 'Adm1n-S3cret-pw' };
/** Every password in this file holds this, so one search of the log finds any of them. */
const MARK = 'S3cret';

let A: Influxd;
let B: Influxd;
let logDir: string;
/** Default settings (forbiddenStatements as shipped), auth on, queryTracing on. */
let strict: ProxyProcess;
let strictLog: string;
/** create-user and alter-retention-policy allowed (grant still forbidden), queryTracing on. */
let lenient: ProxyProcess;
let lenientLog: string;

const backend = (url: string, db: string) => ({ url, db, timeout: 5_000, checkInterval: 200, rewriteInterval: 200 });

beforeAll(async () => {
  [A, B] = await Promise.all([startInfluxd(), startInfluxd()]);
  await Promise.all([A.createDatabase(DB), B.createDatabase(DB), A.createDatabase('sd2'), B.createDatabase('sd2')]);
  logDir = await makeTempDir('side-doors-logs');
  strictLog = path.join(logDir, 'strict.log');
  lenientLog = path.join(logDir, 'lenient.log');
  const hash = await hashPassword(ADMIN.password, { ln: 10, r: 8, p: 1 });
  const [strictPort, lenientPort] = [await freePort(), await freePort()];
  [strict, lenient] = await Promise.all([
    startProxy({
      config: {
        backends: { a: backend(A.url, DB), b: backend(B.url, DB) },
        keymaps: { _default_: ['a', 'b'] },
        proxies: {
          p1: {
            listenAddr: `127.0.0.1:${strictPort}`,
            db: DB,
            queryTracing: 1,
            writeTracing: 1,
            authEnabled: true,
            users: { [ADMIN.name]: { hash, admin: true } },
          },
        },
      },
      logFile: strictLog,
    }),
    startProxy({
      config: {
        backends: { a: backend(A.url, 'sd2'), b: backend(B.url, 'sd2') },
        keymaps: { _default_: ['a', 'b'] },
        proxies: {
          p1: {
            listenAddr: `127.0.0.1:${lenientPort}`,
            db: 'sd2',
            queryTracing: 1,
            forbiddenStatements: ['delete', 'drop-database', 'drop-retention-policy', 'grant', 'revoke'],
          },
        },
      },
      logFile: lenientLog,
    }),
  ]);
});

afterAll(async () => {
  await stopAll();
  if (logDir) await removeDir(logDir);
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** POST /query as the admin (Basic), q in the form body. */
function queryAs(proxy: ProxyProcess, q: string, headers: Record<string, string> = {}, urlParams = ''): Promise<HttpResponse> {
  return request(`${proxy.url}/query?db=${proxy === strict ? DB : 'sd2'}${urlParams}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(ADMIN.name, ADMIN.password), ...headers },
    body: new URLSearchParams({ q }).toString(),
  });
}

/** Retention policies of `db` on one influxd: name → [duration, default]. */
async function policies(influxd: Influxd, db: string): Promise<Record<string, [string, boolean]>> {
  const body = await influxd.query(`SHOW RETENTION POLICIES ON "${db}"`);
  const out: Record<string, [string, boolean]> = {};
  for (const [name, duration, , , isDefault] of body.results[0].series[0].values) out[name] = [duration, isDefault];
  return out;
}

async function users(influxd: Influxd): Promise<Record<string, boolean>> {
  const body = await influxd.query('SHOW USERS');
  return Object.fromEntries((body.results[0].series?.[0]?.values ?? []).map(([name, admin]: [string, boolean]) => [name, admin]));
}

describe('CREATE … that changes what existing data queries see, or who is admin, is refused like its ALTER/GRANT', () => {
  it('refuses CREATE RETENTION POLICY … DEFAULT with default settings and creates nothing on either influxd', async () => {
    const points = 'm v=1 1700000000000000000\nm v=2 1700000001000000000\n';
    const w = await request(`${strict.url}/write?db=${DB}`, {
      method: 'POST',
      body: points,
      headers: { Authorization: basic(ADMIN.name, ADMIN.password) },
    });
    expect(w.status).toBe(204);

    for (const q of [
      `CREATE RETENTION POLICY r ON ${DB} DURATION 1h REPLICATION 1 DEFAULT`,
      `SHOW DATABASES; create retention policy "r" on "${DB}" duration 1h replication 1 shard duration 1h /* x */ default`,
    ]) {
      const res = await queryAs(strict, q);
      expect([q, res.status]).toEqual([q, 400]);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.json().error).toMatch(
        /^CREATE RETENTION POLICY \.\.\. DEFAULT is forbidden by this proxy \(statement \d of \d, as ALTER RETENTION POLICY is\); no statement was executed$/,
      );
      expect(res.headers['x-influxdb-error']).toBe(res.json().error);
    }
    for (const influxd of [A, B]) expect(await policies(influxd, DB)).toEqual({ autogen: ['0s', true] });
    const seen = await queryAs(strict, 'SELECT count(v) FROM m');
    expect(seen.json().results[0].series[0].values[0][1]).toBe(2);

    // a policy that is not made the default changes nothing existing queries see: still allowed
    const plain = await queryAs(strict, `CREATE RETENTION POLICY r ON ${DB} DURATION 1h REPLICATION 1`);
    expect(plain.json()).toEqual({ results: [{ statement_id: 0 }] });
    for (const influxd of [A, B]) expect(await policies(influxd, DB)).toEqual({ autogen: ['0s', true], r: ['1h0m0s', false] });
  });

  it('runs CREATE RETENTION POLICY … DEFAULT on every backend once alter-retention-policy is allowed', async () => {
    const res = await queryAs(lenient, 'CREATE RETENTION POLICY short ON sd2 DURATION 1h REPLICATION 1 DEFAULT');
    expect(res.json()).toEqual({ results: [{ statement_id: 0 }] });
    for (const influxd of [A, B]) expect(await policies(influxd, 'sd2')).toEqual({ autogen: ['0s', false], short: ['1h0m0s', true] });
  });

  it('refuses CREATE USER … WITH ALL PRIVILEGES while grant is forbidden, even where create-user is allowed', async () => {
    const res = await queryAs(lenient, `CREATE USER mallory WITH PASSWORD 'm-${MARK}' WITH ALL PRIVILEGES`);
    expect(res.status).toBe(400);
    expect(res.json().error).toBe(
      'CREATE USER ... WITH ALL PRIVILEGES is forbidden by this proxy (statement 1 of 1, as GRANT is); no statement was executed',
    );
    for (const influxd of [A, B]) expect(await users(influxd)).not.toHaveProperty('mallory');

    const plain = await queryAs(lenient, `CREATE USER carol WITH\nPASSWORD 'c-${MARK}'`);
    expect(plain.json()).toEqual({ results: [{ statement_id: 0 }] });
    for (const influxd of [A, B]) expect(await users(influxd)).toMatchObject({ carol: false });
  });
});

describe('no password reaches the log file', () => {
  /** The hard cases: refused (forbidden), refused by the guard, unparsable, and (on lenient) run. */
  const statements = [
    `CREATE USER e WITH\nPASSWORD 'nl-${MARK}'`,
    `CREATE USER e WITH\tPASSWORD 'tab-${MARK}'`,
    `create/**/user "we ird" with password -- a comment\n'cmt-${MARK}' WITH ALL PRIVILEGES`,
    `SET PASSWORD FOR "a\\"b" = 'it\\'s-${MARK}'`,
    `SHOW USERS; CREATE USER x WITH PASSWORD 'multi-${MARK}'; SET\r\nPASSWORD FOR x='set-${MARK}'`,
    `CREATE USER u WITH PASSWORD 'bad\\q-${MARK}'`,
    `CREATE USER u WITH PASSWORD 'cut\n-${MARK}'`,
    `SELECT mean(v) FROM m WHERE time > now() - 3650d GROUP BY time(1s); CREATE USER g WITH PASSWORD 'guard-${MARK}'`,
    // a forbidden statement is refused before the guard looks: the guard's own log line carries the password here
    `SELECT mean(v) FROM m WHERE time > now() - 3650d GROUP BY time(1s) -- PASSWORD 'guard-cmt-${MARK}'`,
  ];

  async function sendAll(proxy: ProxyProcess, prefix: string): Promise<string[]> {
    const ids: string[] = [];
    const credentials: [Record<string, string>, string][] = [
      [{}, ''],
      [{ Authorization: `Token ${ADMIN.name}:${ADMIN.password}` }, ''],
      [{}, `&u=${ADMIN.name}&p=${encodeURIComponent(ADMIN.password)}`],
    ];
    for (const [i, q] of statements.entries()) {
      const [headers, urlParams] = credentials[i % credentials.length];
      const id = `${prefix}-${i}`;
      const res = await queryAs(proxy, q, { ...headers, 'X-Request-Id': id }, urlParams);
      expect([q, res.status]).not.toEqual([q, 401]);
      ids.push(id);
      // and the same query in the URL, the way the influx CLI sends a GET
      const getId = `${prefix}-get-${i}`;
      const get = await request(
        `${proxy.url}/query?${new URLSearchParams({ db: proxy === strict ? DB : 'sd2', u: ADMIN.name, p: ADMIN.password, q })}`,
        { headers: { 'X-Request-Id': getId } },
      );
      expect([q, get.status]).not.toEqual([q, 401]);
      ids.push(getId);
    }
    return ids;
  }

  function logText(file: string): string {
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  }

  async function checkLog(file: string, ids: string[]): Promise<void> {
    // every request's trace line is written once it is answered: wait for all of them
    await waitUntil(async () => ids.every((id) => logText(file).includes(`"reqId":"${id}"`)), {
      attempts: 100,
      what: `the trace lines of ${ids.length} requests in ${file}`,
    });
    const text = logText(file);
    const refusals = text.split('\n').filter((l) => l.includes('refused'));
    expect(refusals.length).toBeGreaterThan(0);
    for (const secret of [MARK, ADMIN.password, Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64')]) {
      const at = text.indexOf(secret);
      if (at >= 0) throw new Error(`${file} holds ${JSON.stringify(secret)}: …${text.slice(Math.max(0, at - 300), at + 100)}…`);
    }
  }

  it('through a proxy with default settings (every one refused: forbidden, by the guard, or unparsable)', async () => {
    await checkLog(strictLog, await sendAll(strict, 'strict'));
    // the refusal and trace lines are there, with the password masked
    const text = logText(strictLog);
    expect(text).toContain('CREATE USER e WITH\\\\nPASSWORD ******');
    expect(text).toContain('refused by the guard');
  });

  it('through a proxy that runs CREATE USER / SET PASSWORD (traced plan lines)', async () => {
    await checkLog(lenientLog, await sendAll(lenient, 'lenient'));
    expect(logText(lenientLog)).toMatch(/"msg":"query lenient-0: \\"CREATE USER e WITH\\\\nPASSWORD \*{6}\\" → all\[a,b\]"/);
  });
});
