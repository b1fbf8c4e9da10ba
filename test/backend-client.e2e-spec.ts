/**
 * BackendClient is the only code that speaks HTTP to influxd: the write path's batches, the query
 * path's whole and streamed answers, the proxy's health pings and the sentinel's probes all go through
 * it. Here it talks to a real influxd with auth enabled: it sends the backend's own db and
 * credentials, reads influxd's error texts and version header in one place, stops an answer that is
 * too large, gives up on a frozen (SIGSTOPped) backend when its caller's signal fires, and describes
 * a backend that is not there at all.
 */
import { backendConfigOf } from './support/config-rules';
import { BackendClient, type QueryRequest, batchOf, errorTextOf } from '@app/backend';
import type { BackendConfig } from '@app/config';
import { EventEmitter } from 'node:events';
import type { Dispatcher } from 'undici';
import { Influxd, startInfluxd } from './support/influxd';
import { freePort } from './support/ports';
import { stopAll } from './support/processes';
import { stopAndWait } from './support/stopped-threads';

const DB = 'clientdb';
const ADMIN = { username: 'admin', password: 'secret' };

let influxd: Influxd;
const clients: BackendClient[] = [];
/** The influxd this file has frozen (0: none), so that nothing is left stopped whatever fails. */
let frozenPid = 0;

function backendConfig(url: string, overrides: Partial<BackendConfig> = {}): BackendConfig {
  return backendConfigOf({ url, db: DB, timeoutQuery: 30_000, username: ADMIN.username, password: ADMIN.password, ...overrides });
}

function client(overrides: Partial<BackendConfig> = {}, url = influxd.url): BackendClient {
  const c = new BackendClient('a', backendConfig(url, overrides));
  clients.push(c);
  return c;
}

const select = (text: string, more: Partial<QueryRequest> = {}): QueryRequest => ({ method: 'GET', text, requestId: 'r1', ...more });

beforeAll(async () => {
  influxd = await startInfluxd({ auth: ADMIN });
  await influxd.createDatabase(DB);
  const lines = Array.from({ length: 50 }, (_, i) => `cpu,host=h${i % 5} v=${i} ${1_700_000_000 + i}`).join('\n');
  const res = await influxd.write(DB, lines, { precision: 's' });
  if (res.status !== 204) throw new Error(`setup write: ${res.status} ${res.text}`);
});

afterAll(async () => {
  if (frozenPid > 0) process.kill(frozenPid, 'SIGCONT');
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await stopAll();
});

describe('BackendClient against a real influxd', () => {
  it('writes a Batch into the backend’s own db with its credentials, and notes the version it answered with', async () => {
    const c = client();
    const body = Buffer.from('mem,host=w1 used=1i 1700000100\nmem,host=w2 used=2i 1700000100\n');
    expect(await c.write(batchOf('', 's', body, 2))).toEqual({ kind: 'ok' });
    expect(c.version).toBe(influxd.version);
    const rows = await influxd.rows('SELECT used FROM mem', DB);
    expect(rows.map((r) => r.used).sort()).toEqual([1, 2]);
  });

  it('reads a whole answer: the backend’s db and credentials, the client’s parameters, the version header', async () => {
    const answer = await client().query(select('SELECT count(v) FROM cpu', { epoch: 's' }));
    expect(answer.status).toBe(200);
    expect(answer.version).toBe(influxd.version);
    const json = JSON.parse(answer.body.toString('utf8'));
    expect(json.results[0].series[0].values).toEqual([[0, 50]]);
    // POST sends the statement as a form body (write-type statements over GET get a deprecation message)
    const post = await client().query({ method: 'POST', text: 'SELECT count(v) FROM cpu WHERE host = $h', params: '{"h":"h1"}' });
    expect(JSON.parse(post.body.toString('utf8')).results[0].series[0].values[0][1]).toBe(10);
    // no db at all for SHOW DATABASES, as the sentinel's probe sends it
    const show = await client().query({ method: 'GET', text: 'SHOW DATABASES', db: false });
    expect(JSON.parse(show.body.toString('utf8')).results[0].series[0].values).toContainEqual([DB]);
  });

  it('hands influxd’s error answers back for errorTextOf to read: a parse error, refused credentials', async () => {
    const bad = await client().query(select('SELEKT 1'));
    expect(bad.status).toBe(400);
    expect(errorTextOf(bad.status, bad.body.toString('utf8'))).toMatch(/^error parsing query: found SELEKT/);
    const refused = await client({ password: 'wrong' }).query(select('SELECT count(v) FROM cpu'));
    expect(refused.status).toBe(401);
    expect(errorTextOf(refused.status, refused.body.toString('utf8'))).toBe('authorization failed');
    expect(await client({ password: 'wrong' }).ping()).toMatchObject({ ok: true, status: 204 }); // influxd 1.x: /ping needs none
  });

  it('stops an answer that `admit` refuses and rejects with the refusal', async () => {
    const seen: number[] = [];
    const refusal = new Error('too large for this test');
    const answer = client().query(select('SELECT * FROM cpu'), {
      admit: (_chunk, total) => {
        seen.push(total);
        return total > 100 ? refusal : undefined;
      },
    });
    await expect(answer).rejects.toBe(refusal);
    expect(seen.length).toBeGreaterThan(0);
    // the same answer, admitted, is whole
    const whole = await client().query(select('SELECT * FROM cpu'));
    expect(JSON.parse(whole.body.toString('utf8')).results[0].series[0].values).toHaveLength(50);
  });

  it('streams an answer to a dispatch handler as influxd writes it (chunked)', async () => {
    const c = client();
    const { status, chunks } = await new Promise<{ status: number; chunks: string[] }>((resolve, reject) => {
      let status = 0;
      const chunks: string[] = [];
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => undefined,
        onResponseStart: (_c, s) => void (status = s),
        onResponseData: (_c, chunk) => void chunks.push(chunk.toString('utf8')),
        onResponseEnd: () => resolve({ status, chunks }),
        onResponseError: (_c, err) => reject(err),
      };
      c.queryStream(select('SELECT v FROM cpu', { chunked: 'true', chunkSize: '10' }), handler);
    });
    expect(status).toBe(200);
    const results = chunks
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(results).toHaveLength(5); // 50 rows, 10 a chunk
    expect(results.every((r) => r.results[0].series[0].values.length === 10)).toBe(true);
  });

  it('describes a backend that is not there: ping and query alike', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const ping = await client({}, url).ping();
    expect(ping).toMatchObject({ ok: false });
    expect(ping.status).toBeUndefined();
    expect(ping.error).toMatch(/^ECONNREFUSED/);
    await expect(client({}, url).query(select('SELECT 1'))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await client({}, url).write(batchOf('', '', Buffer.from('m v=1\n'), 1))).toMatchObject({
      kind: 'unavailable',
      error: expect.stringMatching(/^backend a unreachable: ECONNREFUSED/),
    });
  });

  it('gives up on a frozen backend when the caller’s signal fires: an AbortSignal or the proxy’s emitter', async () => {
    const c = client();
    await c.ping(); // a pooled connection, open before the freeze
    frozenPid = influxd.pid;
    stopAndWait(frozenPid);
    try {
      // timeoutQuery is 30 s and the write timeout 10 s: a TimeoutError is the caller's deadline, not undici's
      const deadline = AbortSignal.timeout(300);
      await expect(c.query(select('SELECT count(v) FROM cpu'), { signal: deadline })).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(deadline.aborted).toBe(true);
      const ping = await c.ping(AbortSignal.timeout(300));
      expect(ping.ok).toBe(false);
      expect(ping.status).toBeUndefined();
      const gone = Object.assign(new EventEmitter(), { aborted: false });
      const query = c.query(select('SELECT count(v) FROM cpu'), { signal: gone });
      setTimeout(() => {
        gone.aborted = true;
        gone.emit('abort');
      }, 100);
      await expect(query).rejects.toMatchObject({ name: 'AbortError', message: 'client closed the connection' });
      expect(await c.answersWithin(300)).toEqual({ ok: false, error: 'no answer to /ping within 300 ms' });
      // a write waits the backend's `timeout` (here 500 ms) on its own keep-alive connection, then says so
      const w = client({ timeout: 500 });
      const started = Date.now();
      expect(await w.write(batchOf('', '', Buffer.from('frozen v=1\n'), 1))).toEqual({
        kind: 'unavailable',
        error: 'backend a unreachable: ETIMEDOUT no answer within 500 ms',
      });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      process.kill(frozenPid, 'SIGCONT');
      frozenPid = 0;
    }
    expect(await c.answersWithin(5_000)).toMatchObject({ ok: true });
  });
});
