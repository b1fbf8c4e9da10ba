import type { ClusterConfig } from '@app/config';
import { RoutingTable, planMoves } from '@app/router';
import type { BackendInventory, MeasurementHolding } from './backend-discovery';
import { type CopyStep, JobRefusedError, type JobRequest, type JobStep, type SchemaStep } from './job-model';
import { backendsToDiscover, clientDatabasesOf, dbOf, listedDatabases, planJob, replicasOf } from './job-planner';
import { DAY_MS } from './time-windows';

/** Only what the planner reads of a backend config. */
function config(keymaps: Record<string, string[]>, names = ['a', 'b', 'c']): ClusterConfig {
  const backends = Object.fromEntries(names.map((n) => [n, { url: `http://127.0.0.1:1/${n}`, db: `db_${n}` }]));
  return { backends, keymaps, proxies: {} } as unknown as ClusterConfig;
}

function held(measurement: string, points = 1_000, rp = 'autogen', firstMs = 0, lastMs = DAY_MS - 1): MeasurementHolding {
  return { rp, measurement, points, firstMs, lastMs, avgLineBytes: 50 };
}

function inv(backend: string, holdings: MeasurementHolding[], reachable = true): BackendInventory {
  return {
    backend,
    db: `db_${backend}`,
    reachable,
    hasDb: holdings.length > 0,
    retentionPolicies: [],
    holdings,
    ...(reachable ? {} : { error: 'ECONNREFUSED' }),
  };
}

function plan(request: JobRequest, cfg: ClusterConfig, inventories: BackendInventory[]) {
  return planJob({ request, config: cfg, inventories, now: 1 });
}

describe('planning recover', () => {
  const cfg = config({ _default_: ['a', 'b'], cpu: ['a', 'b', 'c'], solo: ['c'] });

  it('discovers only the backend’s replicas, and refuses an unknown backend or one with no replica', () => {
    expect(backendsToDiscover({ kind: 'recover', backend: 'c' }, cfg)).toEqual(['a', 'b']);
    expect(replicasOf('a', cfg).sort()).toEqual(['b', 'c']);
    expect(() => plan({ kind: 'recover', backend: 'x' }, cfg, [])).toThrow(new JobRefusedError('unknown backend "x"'));
    const lonely = config({ _default_: ['a'], m: ['b'] }, ['a', 'b']);
    expect(() => plan({ kind: 'recover', backend: 'a' }, lonely, [])).toThrow(/has no replica to copy from/);
  });

  it('copies what the keymaps route to it, from the replicas of that route that hold it, per rp', () => {
    const p = plan({ kind: 'recover', backend: 'c' }, cfg, [
      inv('a', [held('cpu'), held('mem'), held('cpu', 10, 'week')]),
      inv('b', [held('cpu', 1_500), held('solo')]),
    ]);
    expect(p.steps[0]).toEqual({ op: 'schema', sources: ['a', 'b'], target: 'c', dbs: { db_a: 'db_c', db_b: 'db_c' } });
    const copies = p.steps.slice(1);
    expect(copies.map((s) => s.op === 'copy' && [s.rp, s.measurement, s.sources.join('+'), s.targets.join('+')])).toEqual([
      ['autogen', 'cpu', 'a+b', 'c'],
      ['week', 'cpu', 'a', 'c'],
    ]);
    // the fullest source sets the estimate
    expect(p.estimatedPoints).toBe(1_510);
    expect(p.estimatedBytes).toBe(1_510 * 50);
  });

  it('puts the replicas that answered first, and throws (not a refusal) when none did', () => {
    const p = plan({ kind: 'recover', backend: 'b' }, cfg, [inv('a', [], false), inv('c', [held('cpu')])]);
    expect(p.steps[0]).toMatchObject({ op: 'schema', sources: ['c'] });
    expect(p.steps[1]).toMatchObject({ op: 'copy', measurement: 'cpu', sources: ['c'], targets: ['b'] });
    expect(() => plan({ kind: 'recover', backend: 'b' }, cfg, [inv('a', [], false), inv('c', [], false)])).toThrow(
      /no replica of backend b answered/,
    );
  });

  it('spans the union of the sources’ first and last points, aligned to its window size', () => {
    const p = plan({ kind: 'recover', backend: 'c' }, cfg, [
      inv('a', [held('cpu', 100, 'autogen', 5 * DAY_MS + 10, 6 * DAY_MS)]),
      inv('b', [held('cpu', 100, 'autogen', 4 * DAY_MS, 5 * DAY_MS)]),
    ]);
    const copy = p.steps[1];
    expect(copy).toMatchObject({ op: 'copy', windowMs: 7 * DAY_MS });
    if (copy.op !== 'copy') throw new Error('not a copy');
    expect(copy.span.start).toBeLessThanOrEqual(4 * DAY_MS);
    expect(copy.span.end).toBeGreaterThan(6 * DAY_MS);
    expect(copy.span.start % copy.windowMs).toBe(0);
  });
});

describe('planning resync', () => {
  const cfg = config({ _default_: ['a', 'b'], solo: ['c'] });

  it('compares every measurement held on two or more replicas of its route; a lone one is left alone', () => {
    const p = plan({ kind: 'resync' }, cfg, [
      inv('a', [held('cpu', 100)]),
      inv('b', [held('cpu', 80), held('mem', 5)]),
      inv('c', [held('solo')]),
    ]);
    expect(
      p.steps.map((s) =>
        s.op === 'compare' ? `${s.measurement} ${s.replicas.join('+')}` : `${s.op} ${s.op === 'schema' ? s.target : ''}`,
      ),
    ).toEqual([
      // a lacks mem: it may lack the rp the union copy writes mem into
      'schema a',
      'cpu a+b',
      'mem a+b',
    ]);
    expect(p.steps[0]).toMatchObject({ sources: ['b'], createOnly: true });
    // what it may copy: each replica's shortfall against the fullest
    expect(p.estimatedPoints).toBe(20 + 5);
  });

  it('only the measurements asked for', () => {
    const p = plan({ kind: 'resync', measurements: ['mem'] }, cfg, [
      inv('a', [held('cpu')]),
      inv('b', [held('cpu'), held('mem')]),
      inv('c', []),
    ]);
    expect(p.steps.map((s) => (s.op === 'compare' ? s.measurement : s.op))).toEqual(['schema', 'mem']);
  });

  it('cannot compare with a replica down', () => {
    expect(() => plan({ kind: 'resync' }, cfg, [inv('a', [held('cpu')]), inv('b', [], false), inv('c', [])])).toThrow(
      /backend b did not answer/,
    );
  });
});

describe('planning rebalance', () => {
  it('copies a measurement whose route changed from its old owners to each new owner only', () => {
    const cfg = config({ _default_: ['a', 'b'], cpu: ['b', 'c'] });
    const p = plan({ kind: 'rebalance', keymapsBefore: { _default_: ['a', 'b'] } }, cfg, [
      inv('a', [held('cpu'), held('mem')]),
      inv('b', [held('cpu'), held('mem')]),
      inv('c', []),
    ]);
    expect(p.steps[0]).toEqual({ op: 'schema', sources: ['a', 'b'], target: 'c', dbs: { db_a: 'db_c', db_b: 'db_c' }, createOnly: true });
    expect(p.steps.slice(1).map((s) => s.op === 'copy' && `${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}`)).toEqual([
      'cpu a+b→c',
    ]);
  });

  it('plans nothing when no route changed, and refuses without the keymaps before', () => {
    const cfg = config({ _default_: ['a', 'b'] });
    expect(
      plan({ kind: 'rebalance', keymapsBefore: { _default_: ['b', 'a'] } }, cfg, [
        inv('a', [held('cpu')]),
        inv('b', [held('cpu')]),
        inv('c', []),
      ]).steps,
    ).toEqual([]);
    expect(() => plan({ kind: 'rebalance' }, cfg, [])).toThrow(JobRefusedError);
  });

  it('ignores an old owner that is no longer a backend', () => {
    const cfg = config({ _default_: ['a', 'b'] });
    const p = plan({ kind: 'rebalance', keymapsBefore: { _default_: ['a', 'gone'] } }, cfg, [
      inv('a', [held('cpu')]),
      inv('b', []),
      inv('c', []),
    ]);
    expect(p.steps.map((s) => (s.op === 'copy' ? `${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}` : s.op))).toEqual([
      'schema',
      'cpu a→b',
    ]);
  });
});

describe('planning cleanup', () => {
  const cfg = config({ _default_: ['a', 'b'], cpu: ['c'] });

  it('is refused without confirmation (400)', () => {
    let error: unknown;
    try {
      plan({ kind: 'cleanup', backend: 'a' }, cfg, [inv('a', [])]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(JobRefusedError);
    expect(error).toMatchObject({ message: 'cleanup drops data: confirm it', status: 400 });
  });

  it('drops each measurement (once, whatever its rps) that no keymap routes to the backend any more', () => {
    const p = plan({ kind: 'cleanup', backend: 'a', confirm: true }, cfg, [inv('a', [held('cpu'), held('cpu', 1, 'week'), held('mem')])]);
    expect(p.steps).toEqual([{ op: 'drop', backend: 'a', db: 'db_a', measurement: 'cpu' }]);
  });
});

describe('planning with hash keymaps, groups and several databases', () => {
  const names = (n: number) => Array.from({ length: n }, (_v, i) => `m${i}`);
  const groups = { g1: ['a1', 'a2'], g2: ['b1', 'b2'] };
  const grown = { ...groups, g3: ['c1', 'c2'] };
  /** A fleet over six backends; `proxies` decides single- or several-database. */
  function hashed(
    hashGroups: string[],
    proxies: Record<string, unknown> = {},
    keymaps: Record<string, string[]> = {},
    dbMapOfB: Record<string, string> = {},
  ): ClusterConfig {
    const backends = Object.fromEntries(
      ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'].map((n) => [
        n,
        { url: `http://127.0.0.1:1/${n}`, db: `db_${n}`, ...(n.startsWith('b') ? { dbMap: dbMapOfB } : {}) },
      ]),
    );
    return { backends, keymaps, hashKeymaps: { _default_: hashGroups }, groups: grown, proxies } as unknown as ClusterConfig;
  }
  /** Where the proxies' own routing puts (db, m). */
  const tables = new Map<ClusterConfig, RoutingTable>();
  function groupOf(cfg: ClusterConfig, m: string, db = ''): string | undefined {
    let table = tables.get(cfg);
    if (!table)
      tables.set(
        cfg,
        (table = new RoutingTable(
          cfg,
          Object.values(cfg.proxies).some((p) => p.databases !== undefined),
        )),
      );
    return table.resolve(db, m)?.group;
  }
  function invIn(backend: string, clientDb: string, db: string, holdings: MeasurementHolding[]): BackendInventory {
    return { backend, db, clientDb, reachable: true, hasDb: holdings.length > 0, retentionPolicies: [], holdings };
  }
  const copies = (steps: readonly JobStep[]) => steps.filter((s): s is CopyStep => s.op === 'copy');

  it('recovers a backend of a hash group from its group’s replica, with exactly the measurements hashed to the group', () => {
    const cfg = hashed(['g1', 'g2']);
    expect(replicasOf('a1', cfg)).toEqual(['a2']);
    expect(backendsToDiscover({ kind: 'recover', backend: 'b2' }, cfg)).toEqual(['b1']);
    const onG1 = names(60).filter((m) => groupOf(cfg, m) === 'g1');
    // a stray measurement of g2 on a2 (written before a config change) is not a1's to hold
    const stray = names(60).find((m) => groupOf(cfg, m) === 'g2')!;
    const p = plan({ kind: 'recover', backend: 'a1' }, cfg, [inv('a2', [...onG1.map((m) => held(m)), held(stray)])]);
    expect(p.steps[0]).toEqual({ op: 'schema', sources: ['a2'], target: 'a1', dbs: { db_a2: 'db_a1' } });
    expect(copies(p.steps).map((s) => `${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}`)).toEqual(
      onG1.map((m) => `${m} a2→a1`),
    );
  });

  it('rebalances a group added to a hash keymap: exactly planMoves’ measurements, old group → new group', () => {
    const before = hashed(['g1', 'g2']);
    const after = hashed(['g1', 'g2', 'g3']);
    const all = names(300);
    const inG = (g: string) => all.filter((m) => groupOf(before, m) === g).map((m) => held(m));
    const p = plan({ kind: 'rebalance', keymapsBefore: {}, hashKeymapsBefore: { _default_: ['g1', 'g2'] }, groupsBefore: groups }, after, [
      inv('a1', inG('g1')),
      inv('a2', inG('g1')),
      inv('b1', inG('g2')),
      inv('b2', inG('g2')),
      inv('c1', []),
      inv('c2', []),
    ]);
    const moves = planMoves(
      { ...before, hashKeymaps: { _default_: ['g1', 'g2'] }, groups },
      after,
      all.map((name) => ({ db: '', name })),
    ).moves;
    expect(moves.length).toBeGreaterThan(300 * 0.2);
    expect(moves.length).toBeLessThan(300 * 0.45);
    expect(
      copies(p.steps)
        .map((s) => `${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}`)
        .sort(),
    ).toEqual(moves.map((m) => `${m.name} ${groups[m.fromGroup as 'g1' | 'g2'].join('+')}→c1+c2`).sort());
    // the new group's backends get the db and rps first
    expect(p.steps.slice(0, 2).map((s) => s.op === 'schema' && `${s.target} ${s.createOnly}`)).toEqual(['c1 true', 'c2 true']);
    expect(p.steps.filter((s) => s.op === 'schema')).toHaveLength(2);
  });

  it('refuses a rebalance whose hash keymaps before name groups it was not given', () => {
    expect(() => plan({ kind: 'rebalance', keymapsBefore: {}, hashKeymapsBefore: { _default_: ['g1'] } }, hashed(['g1']), [])).toThrow(
      new JobRefusedError('rebalance: hashKeymapsBefore._default_ names group "g1", absent from groupsBefore'),
    );
  });

  it('cleans up what the hash no longer sends to a backend, and keeps what an explicit entry pins there', () => {
    const cfg = hashed(['g1', 'g2', 'g3'], {}, { pinned: ['a1'] });
    const all = names(40);
    const p = plan({ kind: 'cleanup', backend: 'a1', confirm: true }, cfg, [
      inv(
        'a1',
        [...all, 'pinned'].map((m) => held(m)),
      ),
    ]);
    expect(p.steps.map((s) => s.op === 'drop' && s.measurement)).toEqual(all.filter((m) => groupOf(cfg, m) !== 'g1'));
  });

  describe('on a fleet serving several databases', () => {
    const proxies = { p1: { databases: ['metrics', 'app'] } };
    /** app lives in app_eu on the b backends (dbMap); metrics as is everywhere. */
    const cfg = hashed(['g1', 'g2'], proxies, {}, { app: 'app_eu' });
    const there = (backend: string, clientDb: string) => (backend.startsWith('b') && clientDb === 'app' ? 'app_eu' : clientDb);

    it('maps each backend’s db per client db, hashing the db in', () => {
      expect(dbOf(cfg, 'b1', 'app')).toBe('app_eu');
      expect(dbOf(cfg, 'a1', 'app')).toBe('app');
      expect(dbOf(cfg, 'b1', 'metrics')).toBe('metrics');
      // a single-database fleet keeps each backend's own db whatever the client names
      expect(dbOf(hashed(['g1', 'g2']), 'b1', 'app')).toBe('db_b1');
    });

    it('recovers every served db: one schema step per db, copies in the db each backend keeps it in', () => {
      const inG2 = (db: string) => names(40).filter((m) => groupOf(cfg, m, db) === 'g2');
      const p = plan({ kind: 'recover', backend: 'b2' }, cfg, [
        invIn(
          'b1',
          'app',
          'app_eu',
          inG2('app').map((m) => held(m)),
        ),
        invIn(
          'b1',
          'metrics',
          'metrics',
          inG2('metrics').map((m) => held(m)),
        ),
      ]);
      expect(p.steps.filter((s) => s.op === 'schema')).toEqual([
        { op: 'schema', sources: ['b1'], target: 'b2', dbs: { app_eu: 'app_eu' }, dbOf: { b1: 'app_eu', b2: 'app_eu' }, clientDb: 'app' },
        {
          op: 'schema',
          sources: ['b1'],
          target: 'b2',
          dbs: { metrics: 'metrics' },
          dbOf: { b1: 'metrics', b2: 'metrics' },
          clientDb: 'metrics',
        },
      ]);
      const planned = copies(p.steps);
      expect(planned.map((s) => `${s.clientDb}.${s.measurement}`)).toEqual([
        ...inG2('app').map((m) => `app.${m}`),
        ...inG2('metrics').map((m) => `metrics.${m}`),
      ]);
      for (const s of planned) expect(s.dbOf).toEqual({ b1: there('b1', s.clientDb!), b2: there('b2', s.clientDb!) });
      // the db takes part in the hash: the two dbs do not spread their measurements alike
      expect(inG2('app')).not.toEqual(inG2('metrics'));
    });

    it('rebalances each db’s moving measurements into the new group, from the old group in its mapped db', () => {
      const after = hashed(['g1', 'g2', 'g3'], proxies, {}, { app: 'app_eu' });
      const all = names(90);
      const inventories = ['a1', 'b1'].flatMap((backend) =>
        ['app', 'metrics'].map((db) =>
          invIn(
            backend,
            db,
            there(backend, db),
            all.filter((m) => groupOf(cfg, m, db) === (backend === 'a1' ? 'g1' : 'g2')).map((m) => held(m)),
          ),
        ),
      );
      const p = plan(
        { kind: 'rebalance', keymapsBefore: {}, hashKeymapsBefore: { _default_: ['g1', 'g2'] }, groupsBefore: groups },
        after,
        inventories,
      );
      const expected = ['app', 'metrics'].flatMap((db) =>
        all.filter((m) => groupOf(after, m, db) === 'g3').map((m) => `${db}.${m} ${groupOf(cfg, m, db) === 'g1' ? 'a1' : 'b1'}→c1+c2`),
      );
      expect(expected.length).toBeGreaterThan(180 * 0.2);
      expect(
        copies(p.steps)
          .map((s) => `${s.clientDb}.${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}`)
          .sort(),
      ).toEqual(expected.sort());
      for (const s of copies(p.steps)) if (s.sources[0] === 'b1') expect(s.dbOf.b1).toBe(there('b1', s.clientDb!));
      // each new owner gets each db it receives
      expect(
        p.steps
          .filter((s): s is SchemaStep => s.op === 'schema')
          .map((s) => `${s.target} ${s.clientDb} ${s.createOnly}`)
          .sort(),
      ).toEqual(['c1 app true', 'c1 metrics true', 'c2 app true', 'c2 metrics true']);
    });

    it('reads which client dbs a "*" backend holds through its dbMap, never _internal', () => {
      expect(clientDatabasesOf(cfg.backends.b1, ['_internal', 'app_eu', 'metrics', 'app']).sort()).toEqual(['app', 'metrics']);
      expect(clientDatabasesOf(cfg.backends.a1, ['_internal', 'telegraf']).sort()).toEqual(['telegraf']);
      expect(listedDatabases({ proxies: { p1: { databases: ['x', 'y'] }, p2: { databases: '*' }, p3: {} } } as never)).toEqual({
        listed: ['x', 'y'],
        any: true,
      });
    });
  });
});
