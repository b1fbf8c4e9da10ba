import { parseQuery } from '@app/influxql';
import { DEFAULT_FORBIDDEN_STATEMENTS } from '@app/config';
import { type PlannerBackend, type PlannerTopology, type StatementPlan, goRegex, planQuery } from './query-planner';

interface FakeBackend {
  name: string;
  url?: string;
  db?: string;
  zone?: string;
  writeOnly?: boolean;
  healthy?: boolean;
}

function topology(
  backends: FakeBackend[],
  keymaps: Record<string, string[]>,
  node: Partial<PlannerTopology['node']> = {},
): PlannerTopology {
  const list: PlannerBackend[] = backends.map((b) => ({
    name: b.name,
    config: { url: b.url ?? `http://${b.name}:8086`, db: b.db ?? `db_${b.name}`, zone: b.zone ?? '', writeOnly: b.writeOnly ?? false },
    isHealthy: b.healthy ?? true,
  }));
  const index = new Map(backends.map((b, i) => [b.name, i]));
  const routes = new Map(Object.entries(keymaps).map(([m, names]) => [m, names.map((n) => index.get(n)!)]));
  return {
    backends: list,
    node: { db: 'mydb', zone: '', forbiddenStatements: DEFAULT_FORBIDDEN_STATEMENTS, fanoutCreate: true, ...node },
    router: { routeByName: (m) => routes.get(m) ?? routes.get('_default_') ?? null },
    config: { keymaps },
  };
}

const AB = () => topology([{ name: 'a' }, { name: 'b' }], { cpu: ['a'], temperature: ['b'], _default_: ['a', 'b'] });

function plan(q: string, topo: PlannerTopology = AB(), db = 'mydb') {
  return planQuery(parseQuery(q), topo, db);
}

function statements(q: string, topo: PlannerTopology = AB(), db = 'mydb'): StatementPlan[] {
  const p = plan(q, topo, db);
  if (p.kind !== 'plans') throw new Error(`refused: ${p.message}`);
  return p.statements;
}

function only(q: string, topo: PlannerTopology = AB(), db = 'mydb'): StatementPlan {
  const s = statements(q, topo, db);
  expect(s).toHaveLength(1);
  return s[0];
}

describe('planQuery: forbidden statements', () => {
  it.each([
    'DROP DATABASE mydb',
    'SELECT * FROM cpu; DROP DATABASE x',
    'SELECT * FROM cpu; drop   measurement cpu;',
    'DELETE FROM cpu',
    'GRANT ALL TO bob',
    'REVOKE ALL FROM bob',
    'ALTER RETENTION POLICY autogen ON mydb DURATION 1d',
    'KILL QUERY 1',
    "SET PASSWORD FOR bob = 'x'",
    "CREATE USER bob WITH PASSWORD 'x'",
    'CREATE CONTINUOUS QUERY cq ON mydb BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(1m) END',
    'DROP CONTINUOUS QUERY cq ON mydb',
    "CREATE SUBSCRIPTION s ON mydb.autogen DESTINATIONS ALL 'udp://h:1'",
    'DROP SERIES FROM cpu',
    'SHOW DATABASES; SHOW MEASUREMENTS; DROP RETENTION POLICY autogen ON mydb',
  ])('refuses the whole request for %j', (q) => {
    const p = plan(q);
    expect(p.kind).toBe('refused');
    if (p.kind === 'refused') expect(p.message).toMatch(/forbidden/);
  });

  it('names the statement and its position', () => {
    expect(plan('SELECT * FROM cpu; DROP DATABASE x')).toEqual({
      kind: 'refused',
      message: 'DROP DATABASE is forbidden by this proxy (statement 2 of 2); no statement was executed',
    });
  });

  it('follows the configured list', () => {
    const topo = topology([{ name: 'a' }], { _default_: ['a'] }, { forbiddenStatements: ['select'] });
    expect(plan('SHOW DATABASES', topo).kind).toBe('plans');
    expect(plan('SELECT * FROM cpu', topo).kind).toBe('refused');
  });

  it('refuses CREATE DATABASE / RETENTION POLICY when fanoutCreate is off', () => {
    const topo = topology([{ name: 'a' }], { _default_: ['a'] }, { fanoutCreate: false });
    expect(plan('CREATE DATABASE mydb', topo)).toMatchObject({ kind: 'refused', message: expect.stringMatching(/fanoutCreate/) });
    expect(plan('CREATE RETENTION POLICY r ON mydb DURATION 1d REPLICATION 1', topo).kind).toBe('refused');
  });
});

describe('planQuery: routing', () => {
  it('sends a single-measurement SELECT to the backend holding it, streamed', () => {
    const p = plan('SELECT mean(v) FROM cpu WHERE time > now() - 1h GROUP BY time(1m)');
    expect(p).toMatchObject({ kind: 'plans', stream: { candidates: [0] } });
    expect(only('SELECT * FROM temperature')).toMatchObject({ kind: 'single', candidates: [1] });
  });

  it('uses _default_ for a measurement no keymap names, and no prefix match', () => {
    expect(only('SELECT * FROM mem')).toMatchObject({ kind: 'single', candidates: [0, 1] });
    expect(only('SELECT * FROM "cpu.load"')).toMatchObject({ kind: 'single', candidates: [0, 1] });
  });

  it('puts backends of the proxy zone first, and skips write-only and unhealthy ones', () => {
    const topo = topology(
      [
        { name: 'a', zone: 'east' },
        { name: 'b', zone: 'west' },
        { name: 'c', zone: 'west', writeOnly: true },
        { name: 'd', zone: 'west', healthy: false },
      ],
      { _default_: ['a', 'b', 'c', 'd'] },
      { zone: 'west' },
    );
    expect(only('SELECT * FROM m', topo)).toMatchObject({ kind: 'single', candidates: [1, 0] });
  });

  it('answers 503 (unavailable) when no backend of the route can answer', () => {
    const topo = topology(
      [
        { name: 'a', healthy: false },
        { name: 'b', writeOnly: true },
      ],
      { _default_: ['a', 'b'] },
    );
    expect(only('SELECT * FROM m', topo)).toEqual({ kind: 'unavailable', message: 'no backend can answer: a (down), b (write-only)' });
  });

  it('streams several statements in one request when they share backends', () => {
    const p = plan('SELECT * FROM cpu; SELECT count(v) FROM cpu');
    expect(p).toMatchObject({ kind: 'plans', stream: { candidates: [0] } });
    if (p.kind === 'plans') expect(p.stream!.text('dba')).toBe('SELECT * FROM cpu; SELECT count(v) FROM cpu');
  });

  it('runs statements for different backends one by one', () => {
    const p = plan('SELECT * FROM cpu; SELECT * FROM temperature');
    expect(p.kind === 'plans' && p.stream).toBeFalsy();
  });

  it('forwards a multi-measurement SELECT whose measurements share a backend set as is', () => {
    const topo = topology([{ name: 'a' }, { name: 'b' }], { cpu: ['a'], mem: ['a'], _default_: ['b'] });
    expect(only('SELECT * FROM cpu, mem', topo)).toMatchObject({ kind: 'single', candidates: [0] });
  });

  it('covers a multi-measurement SELECT over different backend sets, one backend per set', () => {
    const p = only('SELECT * FROM cpu, temperature SLIMIT 2 SOFFSET 1');
    // SLIMIT/SOFFSET work per measurement in influxd: sent as written, not re-applied.
    expect(p).toMatchObject({ kind: 'cover', groups: [[0], [1]], merge: { kind: 'select' } });
    if (p.kind === 'cover') expect(p.text('dba')).toBe('SELECT * FROM cpu, temperature SLIMIT 2 SOFFSET 1');
  });

  it('routes a regex SELECT by the keymap names it matches plus _default_', () => {
    expect(only('SELECT * FROM /^cpu$/')).toMatchObject({ kind: 'cover', groups: [[0], [0, 1]] });
    const topo = topology([{ name: 'a' }, { name: 'b' }], { cpu: ['a'], temperature: ['b'], _default_: ['a'] });
    expect(only('SELECT * FROM /^cpu/', topo)).toMatchObject({ kind: 'single', candidates: [0] });
    expect(only('SELECT * FROM /.*/', topo)).toMatchObject({ kind: 'cover' });
  });

  it('routes subquery sources', () => {
    expect(only('SELECT max(v) FROM (SELECT v FROM temperature)')).toMatchObject({ kind: 'single', candidates: [1] });
  });

  it('fans out cluster-wide SHOWs to every backend, deduplicated by URL and db', () => {
    const topo = topology(
      [{ name: 'a' }, { name: 'a2', url: 'http://a:8086/', db: 'db_a' }, { name: 'b' }, { name: 'w', writeOnly: true }],
      { cpu: ['a'], _default_: ['b', 'w'] },
    );
    for (const q of ['SHOW MEASUREMENTS', 'SHOW TAG KEYS', 'SHOW FIELD KEYS FROM /c/', 'SHOW SERIES FROM cpu, mem']) {
      expect(only(q, topo)).toMatchObject({ kind: 'fanout', backends: [0, 2], required: [[0], [2]] });
    }
    expect(only('SHOW RETENTION POLICIES', topo)).toMatchObject({ kind: 'fanout', merge: { kind: 'retention-policies' } });
  });

  it('sends SHOW … FROM one measurement to the backend holding it', () => {
    expect(only('SHOW TAG VALUES FROM "temperature" WITH KEY = "host"')).toMatchObject({ kind: 'single', candidates: [1] });
    expect(only('SHOW FIELD KEYS FROM "autogen"."cpu"')).toMatchObject({ kind: 'single', candidates: [0] });
  });

  it('widens LIMIT by OFFSET for the backends and re-applies both after the merge', () => {
    const p = only('SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/ LIMIT 2 OFFSET 3');
    expect(p).toMatchObject({ kind: 'fanout', merge: { kind: 'rows', limit: 2, offset: 3 } });
    if (p.kind === 'fanout') expect(p.text('x')).toBe('SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/ LIMIT 5 ');
    const q = only('SHOW TAG KEYS ON "mydb" OFFSET 1');
    if (q.kind === 'fanout') expect(q.text('db_a')).toBe('SHOW TAG KEYS ON db_a ');
  });

  it('answers SHOW DATABASES with the proxy db', () => {
    expect(only('SHOW DATABASES')).toEqual({
      kind: 'local',
      outcome: { series: [{ name: 'databases', columns: ['name'], values: [['mydb']] }] },
    });
  });

  it('runs CREATE DATABASE / RETENTION POLICY on every backend in its own db', () => {
    const topo = topology(
      [{ name: 'a' }, { name: 'b', healthy: false }, { name: 'w', writeOnly: true }, { name: 'a2', url: 'http://a:8086', db: 'db_a' }],
      { _default_: ['a'] },
    );
    const create = only('CREATE DATABASE "mydb" WITH DURATION 7d', topo);
    expect(create).toMatchObject({ kind: 'all', backends: [0, 1, 2] });
    if (create.kind === 'all') expect(create.text('db b')).toBe('CREATE DATABASE "db b" WITH DURATION 7d');
    const rp = only('CREATE RETENTION POLICY "r1" ON "mydb" DURATION 1d REPLICATION 1', topo);
    if (rp.kind === 'all') expect(rp.text('db_b')).toBe('CREATE RETENTION POLICY "r1" ON db_b DURATION 1d REPLICATION 1');
    expect(only('CREATE DATABASE other', topo)).toMatchObject({ kind: 'local', outcome: { error: expect.stringMatching(/mydb/) } });
  });

  it('rewrites db.rp.m sources to each backend db', () => {
    const p = only('SELECT * FROM "mydb"."autogen"."cpu" WHERE host = \'a\'');
    expect(p).toMatchObject({ kind: 'single', candidates: [0] });
    if (p.kind === 'single') expect(p.text('db_a')).toBe('SELECT * FROM db_a."autogen"."cpu" WHERE host = \'a\'');
  });
});

describe('planQuery: databases', () => {
  it('answers database not found for another db, as influxd does', () => {
    expect(only('SELECT * FROM cpu', AB(), 'other')).toEqual({ kind: 'local', outcome: { error: 'database not found: other' } });
    expect(only('SELECT * FROM other..cpu')).toEqual({ kind: 'local', outcome: { error: 'database not found: other' } });
    expect(only('SHOW TAG KEYS', AB(), 'other')).toEqual({ kind: 'local', outcome: { error: 'database not found: other' } });
    expect(only('SHOW RETENTION POLICIES ON other')).toEqual({ kind: 'local', outcome: { error: 'database not found: other' } });
    // influxd: SHOW MEASUREMENTS on a missing database is an empty result
    expect(only('SHOW MEASUREMENTS', AB(), 'other')).toEqual({ kind: 'local', outcome: {} });
  });

  it('answers database name required without a db', () => {
    expect(only('SELECT * FROM cpu', AB(), '')).toEqual({ kind: 'local', outcome: { error: 'database name required' } });
    expect(only('SELECT * FROM mydb..cpu', AB(), '')).toMatchObject({ kind: 'single' });
    expect(only('SHOW DATABASES', AB(), '')).toMatchObject({ kind: 'local' });
  });

  it('accepts any db when the proxy has none set', () => {
    const topo = topology([{ name: 'a' }], { _default_: ['a'] }, { db: '' });
    expect(only('SELECT * FROM cpu', topo, 'anything')).toMatchObject({ kind: 'single' });
  });
});

describe('goRegex', () => {
  it('translates the RE2 forms InfluxQL users write', () => {
    expect(goRegex('(?i)^CPU')!.test('cpu_load')).toBe(true);
    expect(goRegex('(?P<x>a)b')!.test('ab')).toBe(true);
    expect(goRegex('[')).toBeNull();
  });
});

describe('planQuery: SELECT … INTO', () => {
  it('runs the SELECT part without its INTO clause on the backends of the source, renaming the db', () => {
    const p = only('SELECT mean(usage) INTO "mydb"."autogen"."cpu_1h" FROM "mydb"."autogen".cpu GROUP BY time(1h), *');
    expect(p).toMatchObject({ kind: 'into', groups: [[0]], target: { name: 'cpu_1h', rp: 'autogen' } });
    if (p.kind !== 'into') throw new Error(p.kind);
    expect(p.text('db_a')).toBe('SELECT mean(usage) FROM db_a."autogen".cpu GROUP BY time(1h), * fill(none)');
  });

  it('runs it with fill(none) where influxd would fill with null (an empty bucket writes nothing, not a count of 0)', () => {
    const text = (q: string) => {
      const p = only(q);
      if (p.kind !== 'into') throw new Error(p.kind);
      return p.text('db_a');
    };
    expect(text('SELECT count(v) INTO x FROM mydb..cpu WHERE time > now() - 1h GROUP BY time(10m), host ORDER BY time DESC LIMIT 5')).toBe(
      'SELECT count(v) FROM db_a..cpu WHERE time > now() - 1h GROUP BY time(10m), host fill(none) ORDER BY time DESC LIMIT 5',
    );
    expect(text('SELECT count(v) INTO x FROM cpu GROUP BY time(10m) fill(null) LIMIT 5')).toBe(
      'SELECT count(v) FROM cpu GROUP BY time(10m) fill(none) LIMIT 5',
    );
    // another fill, or no time buckets at all, is left as written
    expect(text('SELECT count(v) INTO x FROM cpu GROUP BY time(10m) fill(0)')).toBe('SELECT count(v) FROM cpu GROUP BY time(10m) fill(0)');
    expect(text('SELECT count(v) INTO x FROM cpu GROUP BY host')).toBe('SELECT count(v) FROM cpu GROUP BY host');
    expect(text('SELECT * INTO x FROM cpu')).toBe('SELECT * FROM cpu');
  });

  it('keeps no target name for :MEASUREMENT, and is never streamed as is', () => {
    const q = 'SELECT * INTO mydb.autogen.:MEASUREMENT FROM temperature';
    expect(only(q)).toMatchObject({ kind: 'into', groups: [[1]], target: { rp: 'autogen' } });
    expect((only(q) as { target: object }).target).not.toHaveProperty('name');
    const whole = plan(q);
    expect(whole.kind === 'plans' && whole.stream).toBeFalsy();
  });

  it('answers another target database the way influxd does', () => {
    expect(only('SELECT * INTO other..x FROM cpu')).toEqual({ kind: 'local', outcome: { error: 'database not found: other' } });
  });

  it('refuses an INTO whose sources live on different backend sets: its written count could not be influxd’s', () => {
    expect(plan('SELECT * INTO mydb.autogen.:MEASUREMENT FROM cpu, temperature')).toMatchObject({
      kind: 'refused',
      message: expect.stringContaining('its sources live on different backend sets ([a] and [b])'),
    });
  });

  it('refuses top()/bottom() INTO with a clear 400: influxd writes them differently than it answers them', () => {
    expect(plan('SELECT top(v, host, 2) INTO x FROM cpu')).toMatchObject({
      kind: 'refused',
      message: expect.stringMatching(/^SELECT … INTO cannot run exactly through this proxy \(statement 1 of 1\): top\(\)/),
    });
  });

  it('finds top()/bottom() anywhere in a field’s tree, first as written, and only as calls', () => {
    expect(plan('SELECT max(v), 2 * (BOTTOM(v, 3)) + top(v, 1) INTO x FROM cpu')).toMatchObject({
      kind: 'refused',
      message: expect.stringContaining('): bottom() writes differently into a target than it answers'),
    });
    expect(only('SELECT "top", bottom AS top INTO x FROM cpu')).toMatchObject({ kind: 'into' });
  });
});
