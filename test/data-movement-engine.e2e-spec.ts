/**
 * The data-movement engine (libs/data-movement) against real influxd: it discovers what the backends
 * hold, plans recover / resync / rebalance / cleanup from the keymaps, and copies windows with chunked
 * msgpack SELECTs turned back into line protocol. Each backend writes into its own db (a: dba, b: dbb,
 * c: dbc) so the engine's db mapping is exercised too.
 */
import { backendConfigOf } from './support/config-rules';
import { type ClusterConfig, parseClusterConfig } from '@app/config';
import { RoutingTable } from '@app/router';
import { configRules } from './support/config-rules';
import {
  type CopyStep,
  InfluxJobEngine,
  type JobPlan,
  type JobProgress,
  type JobRecord,
  type JobRequest,
  JobRefusedError,
} from '@app/data-movement';
import { Influxd, startInfluxd } from './support/influxd';
import { request } from './support/http';
import { stopAll } from './support/processes';

const DB = { a: 'dba', b: 'dbb', c: 'dbc' } as const;
/** Points per planned window: small, so these few thousand points span many windows. */
const POINTS_PER_WINDOW = 400;
/** 2023-11-14T22:13:20Z, in the autogen shard groups (no retention). */
const T0_S = 1_700_000_000;

let a: Influxd;
let b: Influxd;
let c: Influxd;
const engines: InfluxJobEngine[] = [];

function engine(): InfluxJobEngine {
  const e = new InfluxJobEngine({ pointsPerWindow: POINTS_PER_WINDOW, tuning: { batchLines: 300, retryBaseMs: 50, writeAttempts: 3 } });
  engines.push(e);
  return e;
}

function clusterConfig(keymaps: Record<string, string[]>, more: Record<string, { url: string; db: string }> = {}): ClusterConfig {
  const backends = {
    a: backendConfigOf({ url: a.url, db: DB.a, timeout: 5_000, timeoutQuery: 30_000 }),
    b: backendConfigOf({ url: b.url, db: DB.b, timeout: 5_000, timeoutQuery: 30_000, gzip: true }),
    c: backendConfigOf({ url: c.url, db: DB.c, timeout: 5_000, timeoutQuery: 30_000 }),
    ...Object.fromEntries(Object.entries(more).map(([k, v]) => [k, backendConfigOf(v)])),
  };
  return { backends, keymaps, proxies: {} };
}

/** A job record as the coordination would hand it to run(): its plan, and where it got to. */
function jobOf(requestBody: JobRequest, plan: JobPlan, progress?: JobProgress): JobRecord {
  return { id: 'job-1', request: requestBody, state: 'running', createdAt: Date.now(), plan, ...(progress ? { progress } : {}) };
}

/** Runs a job to the end; returns every progress it reported. */
async function runAll(e: InfluxJobEngine, job: JobRecord, config: ClusterConfig, pointsPerSecond = 0): Promise<JobProgress[]> {
  const seen: JobProgress[] = [];
  await e.run(job, config, {
    signal: new AbortController().signal,
    pointsPerSecond,
    onProgress: async (p) => {
      seen.push(p);
    },
  });
  return seen;
}

/** influxd's whole JSON answer text: compares big integers exactly, and series, tags and field order as influxd prints them. */
async function answerText(influxd: Influxd, q: string, db: string): Promise<string> {
  const res = await request(`${influxd.url}/query?${new URLSearchParams({ db, q, epoch: 'ns' })}`);
  if (res.status !== 200) throw new Error(`${q}: ${res.status} ${res.text}`);
  return res.text;
}

async function count(influxd: Influxd, measurement: string, db: string, where = ''): Promise<number> {
  const rows = await influxd.rows(
    `SELECT count(*) FROM autogen.${JSON.stringify(measurement)} WHERE time >= 0 AND time < now() + 3650d ${where}`,
    db,
  );
  if (rows.length === 0) return 0;
  return Math.max(
    ...Object.entries(rows[0])
      .filter(([k]) => k.startsWith('count_'))
      .map(([, v]) => Number(v)),
  );
}

async function write(influxd: Influxd, db: string, body: string, params: Record<string, string> = {}): Promise<void> {
  const res = await influxd.write(db, body, { precision: 's', ...params });
  if (res.status !== 204) throw new Error(`write to ${influxd.url}: ${res.status} ${res.text}`);
}

/** Every field type, escaped names and tags, nulls (sparse fields) and an int64 above 2^53. */
function typedLines(n: number, startS: number, stepS: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = startS + i * stepS;
    const host = `host\\ ${i % 7}`;
    const region = i % 3 === 0 ? 'eu\\,west\\=1' : 'us';
    const s = `say \\"hi\\" \\\\ ${i}`;
    const sparse = i % 4 === 0 ? `,only\\ some=${i}i` : '';
    lines.push(`cpu,host=${host},re\\ gion=${region} v=${i + 0.25},n=${i}i,big=9007199254740993i,s="${s}",ok=${i % 2 === 0}${sparse} ${t}`);
  }
  return lines.join('\n');
}

beforeAll(async () => {
  [a, b, c] = await Promise.all([startInfluxd(), startInfluxd(), startInfluxd()]);
  await a.createDatabase(DB.a);
  // a retention policy that is not autogen, with its own duration and shard duration, made default
  const rp = await a.query(`CREATE RETENTION POLICY "quarter" ON "${DB.a}" DURATION 90d REPLICATION 1 SHARD DURATION 2d DEFAULT`);
  if (rp.results[0].error) throw new Error(rp.results[0].error);
  await write(a, DB.a, typedLines(2_000, T0_S, 60), { rp: 'autogen' });
  await write(a, DB.a, Array.from({ length: 500 }, (_, i) => `mem,host=m${i % 5} used=${i}i ${T0_S + i * 30}`).join('\n'), {
    rp: 'autogen',
  });
  await write(a, DB.a, `we\\ ird\\,m,t\\=k=v\\ 1 fie\\ ld\\,\\=x=1.5,"q"=2i ${T0_S}`, { rp: 'autogen' });
  // recent points in the default rp (its 90 days hold them)
  const nowS = Math.floor(Date.now() / 1000);
  await write(a, DB.a, Array.from({ length: 300 }, (_, i) => `recent,k=v value=${i} ${nowS - 3600 + i * 10}`).join('\n'));
}, 120_000);

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await stopAll();
});

describe('data-movement engine against real influxd', () => {
  it('recovers an empty backend: schema, every measurement of its keymap, every type and escape equal', async () => {
    const config = clusterConfig({ _default_: ['a', 'b'] });
    const e = engine();
    const req: JobRequest = { kind: 'recover', backend: 'b' };
    const plan = await e.plan(req, config);
    expect(plan.steps[0]).toMatchObject({ op: 'schema', target: 'b', sources: ['a'], dbs: { [DB.a]: DB.b } });
    const copies = plan.steps.filter((s): s is CopyStep => s.op === 'copy');
    expect(copies.map((s) => `${s.rp}.${s.measurement}`).sort()).toEqual([
      'autogen.cpu',
      'autogen.mem',
      'autogen.we ird,m',
      'quarter.recent',
    ]);
    for (const s of copies) expect(s).toMatchObject({ sources: ['a'], targets: ['b'], dbOf: { a: DB.a, b: DB.b } });
    expect(plan.estimatedPoints).toBe(2_000 + 500 + 1 + 300);
    expect(plan.estimatedBytes).toBeGreaterThan(2_000 * 60);

    const seen = await runAll(e, jobOf(req, plan), config);
    const last = seen[seen.length - 1];
    expect(last.cursor).toEqual({ step: plan.steps.length });
    expect(last.windowsDone).toBe(last.windowsTotal);
    expect(last.pointsCopied).toBe(2_801);
    expect(last.windowsTotal).toBeGreaterThan(10);

    expect(await answerText(b, `SHOW RETENTION POLICIES ON "${DB.b}"`, DB.b)).toBe(
      await answerText(a, `SHOW RETENTION POLICIES ON "${DB.a}"`, DB.a),
    );
    for (const m of ['cpu', 'mem', 'we ird,m']) {
      const q = `SELECT * FROM autogen.${JSON.stringify(m)} GROUP BY *`;
      expect(await answerText(b, q, DB.b)).toBe(await answerText(a, q, DB.a));
    }
    const q = 'SELECT * FROM quarter.recent GROUP BY *';
    expect(await answerText(b, q, DB.b)).toBe(await answerText(a, q, DB.a));
    expect(await answerText(b, 'SHOW FIELD KEYS', DB.b)).toBe(await answerText(a, 'SHOW FIELD KEYS', DB.a));
  });

  it('resumes from the last reported cursor without copying the windows before it again', async () => {
    // cpu also goes to c: recover c, abort after a few windows, then resume from the stored cursor
    const config = clusterConfig({ _default_: ['a', 'b'], cpu: ['a', 'b', 'c'] });
    const e = engine();
    const req: JobRequest = { kind: 'recover', backend: 'c' };
    const plan = await e.plan(req, config);
    const copy = plan.steps.findIndex((s) => s.op === 'copy' && s.measurement === 'cpu');
    expect(plan.steps[copy]).toMatchObject({ sources: ['a', 'b'], targets: ['c'] });
    const abort = new AbortController();
    let stored: JobProgress | undefined;
    const run = e.run(jobOf(req, plan), config, {
      signal: abort.signal,
      pointsPerSecond: 0,
      onProgress: async (p) => {
        stored = p;
        if (p.cursor.step === copy && p.windowsDone >= 4) abort.abort(new Error('cancelled by the test'));
      },
    });
    await expect(run).rejects.toThrow('cancelled by the test');
    expect(stored?.cursor.step).toBe(copy);
    const cursorMs = stored!.cursor.windowStart!;
    const before = await count(c, 'cpu', DB.c, `AND time < ${cursorMs}ms`);
    expect(before).toBeGreaterThan(0);
    expect(await count(c, 'cpu', DB.c, `AND time >= ${cursorMs}ms`)).toBe(0);

    // what the first run copied is deleted: a resumed run that copied those windows again would bring it back
    const del = await c.query(`DELETE FROM cpu WHERE time < ${cursorMs}ms`, DB.c);
    expect(del.results[0].error).toBeUndefined();
    const seen = await runAll(e, jobOf(req, plan, stored), config);
    expect(seen[0].windowsDone).toBe(stored!.windowsDone + 1);
    expect(seen[0].pointsCopied).toBeGreaterThan(stored!.pointsCopied);
    expect(seen[seen.length - 1].windowsDone).toBe(seen[seen.length - 1].windowsTotal);
    expect(await count(c, 'cpu', DB.c, `AND time < ${cursorMs}ms`)).toBe(0);
    expect(await count(c, 'cpu', DB.c, `AND time >= ${cursorMs}ms`)).toBe(await count(a, 'cpu', DB.a, `AND time >= ${cursorMs}ms`));
  });

  it('resync copies both ways where the replicas disagree (the union ends up on both)', async () => {
    const config = clusterConfig({ _default_: ['a', 'b'] });
    await write(a, DB.a, Array.from({ length: 100 }, (_, i) => `disk,d=x free=${i}i ${T0_S + i * 60}`).join('\n'), { rp: 'autogen' });
    await write(b, DB.b, Array.from({ length: 100 }, (_, i) => `disk,d=y free=${i}i ${T0_S + 3_600 * 30 + i * 60}`).join('\n'), {
      rp: 'autogen',
    });
    const e = engine();
    const req: JobRequest = { kind: 'resync', measurements: ['disk'] };
    const plan = await e.plan(req, config);
    expect(plan.steps.map((s) => s.op)).toEqual(['compare']);
    expect(plan.steps[0]).toMatchObject({ measurement: 'disk', rp: 'autogen', replicas: ['a', 'b'] });
    expect(plan.estimatedPoints).toBe(0); // equal totals: the estimate cannot see the difference
    const seen = await runAll(e, jobOf(req, plan), config);
    const last = seen[seen.length - 1];
    expect(last.pointsCopied).toBe(200);
    expect(last.windowsStillDiffering).toBeUndefined();
    expect(await count(a, 'disk', DB.a)).toBe(200);
    expect(await count(b, 'disk', DB.b)).toBe(200);
    const q = 'SELECT * FROM autogen.disk GROUP BY *';
    expect(await answerText(b, q, DB.b)).toBe(await answerText(a, q, DB.a));
  });

  it('resync reports a window that still differs after the union copy, and moves on', async () => {
    // x keeps rp "r" forever, y only for an hour: y drops the old points the union copy sends it
    const config = clusterConfig({ _default_: ['x', 'y'] }, { x: { url: a.url, db: 'dbx' }, y: { url: b.url, db: 'dby' } });
    for (const [influxd, db, duration] of [
      [a, 'dbx', 'INF'],
      [b, 'dby', '1h'],
    ] as const) {
      await influxd.createDatabase(db);
      const made = await influxd.query(`CREATE RETENTION POLICY "r" ON "${db}" DURATION ${duration} REPLICATION 1 DEFAULT`);
      expect(made.results[0].error).toBeUndefined();
    }
    await write(a, 'dbx', Array.from({ length: 50 }, (_, i) => `old,k=v x=${i}i ${T0_S + i * 60}`).join('\n'));
    const e = engine();
    const req: JobRequest = { kind: 'resync', measurements: ['old'] };
    const plan = await e.plan(req, config);
    expect(plan.steps.map((s) => s.op)).toEqual(['schema', 'compare']);
    const seen = await runAll(e, jobOf(req, plan), config);
    const last = seen[seen.length - 1];
    expect(last.windowsStillDiffering).toBe(1);
    expect(last.windowsDone).toBe(last.windowsTotal);
    expect(last.pointsCopied).toBe(50);
  });

  it('rebalance copies a moved measurement to its new owner only, then cleanup drops it where no keymap maps it', async () => {
    // the new owner c2 is a db that does not exist yet (on c's influxd)
    const before = { _default_: ['a', 'b'] };
    const after = { _default_: ['a', 'b'], mem: ['c2'] };
    const config = clusterConfig(after, { c2: { url: c.url, db: 'dbc2' } });
    const e = engine();
    const req: JobRequest = { kind: 'rebalance', keymapsBefore: before };
    const plan = await e.plan(req, config);
    expect(
      plan.steps.map((s) => (s.op === 'copy' ? `${s.rp}.${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}` : s.op)),
    ).toEqual(['schema', 'autogen.mem a+b→c2']);
    await runAll(e, jobOf(req, plan), config);
    const q = 'SELECT * FROM autogen.mem GROUP BY *';
    expect(await answerText(c, q, 'dbc2')).toBe(await answerText(a, q, DB.a));
    // the new owner gets the retention policies it lacked, but keeps its own default
    const rps = await c.rows('SHOW RETENTION POLICIES ON dbc2', 'dbc2');
    expect(rps.map((r) => `${r.name} ${r.duration} ${r.default}`)).toEqual(['autogen 0s true', 'quarter 2160h0m0s false']);

    await expect(e.plan({ kind: 'cleanup', backend: 'a' }, config)).rejects.toThrow(new JobRefusedError('cleanup drops data: confirm it'));
    await expect(e.plan({ kind: 'cleanup', backend: 'a' }, config)).rejects.toMatchObject({ status: 400 });
    const cleanup: JobRequest = { kind: 'cleanup', backend: 'a', confirm: true };
    const drop = await e.plan(cleanup, config);
    expect(drop.steps).toEqual([{ op: 'drop', backend: 'a', db: DB.a, measurement: 'mem' }]);
    await runAll(e, jobOf(cleanup, drop), config);
    expect(await count(a, 'mem', DB.a)).toBe(0);
    expect(await count(a, 'cpu', DB.a)).toBe(2_000);
    expect(await count(b, 'mem', DB.b)).toBe(500);
  });

  it('refuses an unknown backend and a backend with no replica', async () => {
    const config = clusterConfig({ _default_: ['a', 'b'], solo: ['d'] }, { d: { url: 'http://127.0.0.1:9', db: 'dbd' } });
    const e = engine();
    await expect(e.plan({ kind: 'recover', backend: 'nope' }, config)).rejects.toThrow(new JobRefusedError('unknown backend "nope"'));
    await expect(e.plan({ kind: 'recover', backend: 'd' }, config)).rejects.toThrow(/backend "d" has no replica to copy from/);
  });

  it('stops promptly when aborted while the throttle holds a window back, and when the progress sink rejects', async () => {
    const config = clusterConfig({ _default_: ['a', 'b'], cpu: ['a', 'b', 'c'] });
    const e = engine();
    const req: JobRequest = { kind: 'recover', backend: 'c' };
    const plan = await e.plan(req, config);
    // 100 points/s: the first 300-line batch goes at once, the next would wait 3 s
    const abort = new AbortController();
    const started = Date.now();
    const run = e.run(jobOf(req, plan), config, { signal: abort.signal, pointsPerSecond: 100, onProgress: async () => undefined });
    setTimeout(() => abort.abort(new Error('cancelled mid-window')), 500);
    await expect(run).rejects.toThrow('cancelled mid-window');
    expect(Date.now() - started).toBeLessThan(2_500);

    let calls = 0;
    const refused = e.run(jobOf(req, plan), config, {
      signal: new AbortController().signal,
      pointsPerSecond: 0,
      onProgress: async () => {
        calls++;
        throw new Error('the store refused the progress');
      },
    });
    await expect(refused).rejects.toThrow('the store refused the progress');
    expect(calls).toBe(1);
  });

  it('falls back to the next source when the first is down at run time', async () => {
    const config = clusterConfig({ _default_: ['a', 'b'], cpu: ['a', 'b', 'c'] });
    const dropped = await c.query('DROP MEASUREMENT cpu', DB.c);
    expect(dropped.results[0].error).toBeUndefined();
    const e = engine();
    const req: JobRequest = { kind: 'recover', backend: 'c' };
    const plan = await e.plan(req, config);
    expect(plan.steps.find((s) => s.op === 'copy' && s.measurement === 'cpu')).toMatchObject({ sources: ['a', 'b'] });
    await a.kill();
    try {
      await runAll(e, jobOf(req, plan), config);
    } finally {
      await a.restart();
    }
    expect(await count(c, 'cpu', DB.c)).toBe(2_000);
    const q = 'SELECT * FROM autogen.cpu GROUP BY *';
    expect(await answerText(c, q, DB.c)).toBe(await answerText(b, q, DB.b));
  });
});

describe('data-movement engine on a fleet serving several databases over hash groups', () => {
  const DBS = ['tele', 'app'];
  /** y keeps client db `app` in `app_y` (dbMap); the others use the client's db names. */
  const there = (backend: 'x' | 'y' | 'z', db: string) => (backend === 'y' && db === 'app' ? 'app_y' : db);
  const NAMES = Array.from({ length: 30 }, (_v, i) => `n${i}`);
  let config: ClusterConfig;
  /** Measurement names hashed to g1 (x, y), per client db. */
  const inG1 = new Map<string, string[]>();
  let stray: string;

  beforeAll(async () => {
    const backend = (url: string, db: string, dbMap?: Record<string, string>) => ({
      url,
      db,
      timeout: 5_000,
      timeoutQuery: 30_000,
      ...(dbMap ? { dbMap } : {}),
    });
    config = parseClusterConfig(
      {
        backends: { x: backend(a.url, 'unused_x'), y: backend(b.url, 'unused_y', { app: 'app_y' }), z: backend(c.url, 'unused_z') },
        groups: { g1: ['x', 'y'], g2: ['z'] },
        keymaps: { _default_: { hash: ['g1', 'g2'] } },
        proxies: { p1: { listenAddr: '127.0.0.1:1', databases: DBS } },
      },
      configRules,
    );
    const table = new RoutingTable(config, true);
    for (const db of DBS) {
      inG1.set(
        db,
        NAMES.filter((m) => table.resolve(db, m)?.group === 'g1'),
      );
      await a.createDatabase(db);
      const lines = inG1.get(db)!.flatMap((m, i) => Array.from({ length: i + 1 }, (_v, p) => `${m},k=v f=${p}i ${T0_S + p}`));
      await write(a, db, lines.join('\n'));
    }
    // a measurement of g2 left on x (written under an older config): not y's to receive, and cleanup's to drop
    stray = NAMES.find((m) => table.resolve('tele', m)?.group === 'g2')!;
    await write(a, 'tele', `${stray} f=1i ${T0_S}`);
  });

  it('recovers a wiped replica of a group in every served db, each in the db that backend keeps it in', async () => {
    const e = engine();
    const req: JobRequest = { kind: 'recover', backend: 'y' };
    const plan = await e.plan(req, config);
    expect(plan.steps.filter((s) => s.op === 'schema').map((s) => s.op === 'schema' && s.dbs)).toEqual([
      { app: 'app_y' },
      { tele: 'tele' },
    ]);
    await runAll(e, jobOf(req, plan), config);
    for (const db of DBS) {
      for (const m of inG1.get(db)!) expect(await count(b, m, there('y', db))).toBe(await count(a, m, db));
      expect(inG1.get(db)!.length).toBeGreaterThan(5);
    }
    expect(await count(b, stray, 'tele')).toBe(0);
    // nothing under the client's name on y: its dbMap renamed it
    expect((await b.query('SHOW DATABASES')).results[0].series[0].values).not.toContainEqual(['app']);
  });

  it('resyncs replicas that keep a db under different names', async () => {
    const m = inG1.get('app')![0];
    const before = await count(a, m, 'app');
    await write(b, 'app_y', `${m},k=v f=99i ${T0_S + 1_000}`);
    const e = engine();
    const req: JobRequest = { kind: 'resync', measurements: [m] };
    await runAll(e, jobOf(req, await e.plan(req, config)), config);
    expect(await count(a, m, 'app')).toBe(before + 1);
  });

  it('cleans up, in the backend’s db, only what the hash no longer sends there', async () => {
    const e = engine();
    const req: JobRequest = { kind: 'cleanup', backend: 'x', confirm: true };
    const plan = await e.plan(req, config);
    expect(plan.steps).toEqual([{ op: 'drop', backend: 'x', db: 'tele', measurement: stray }]);
    await runAll(e, jobOf(req, plan), config);
    expect(await count(a, stray, 'tele')).toBe(0);
    expect(await count(a, inG1.get('tele')![0], 'tele')).toBeGreaterThan(0);
  });
});
