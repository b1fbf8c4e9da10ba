import { DEFAULT_FORBIDDEN_STATEMENTS } from '@app/config';
import { parseQuery } from '@app/influxql';
import { BackendReadFence } from './read-fence';
import { type PlannerBackend, type PlannerTopology, type StatementPlan, candidates, planQuery } from '@app/query';

/** a and b hold `cpu` (a in the proxy's zone), c alone holds `disk`; `_default_` is a and b. */
function topology(zone = 'za'): PlannerTopology {
  const backends: PlannerBackend[] = [
    { name: 'a', config: { url: 'http://a:8086', db: 'db', zone: 'za', writeOnly: false }, isHealthy: true },
    { name: 'b', config: { url: 'http://b:8086', db: 'db', zone: 'zb', writeOnly: false }, isHealthy: true },
    { name: 'c', config: { url: 'http://c:8086', db: 'db', zone: 'zb', writeOnly: false }, isHealthy: true },
  ];
  const routes: Record<string, number[]> = { cpu: [0, 1], disk: [2], _default_: [0, 1] };
  return {
    backends,
    node: { db: 'mydb', zone, forbiddenStatements: DEFAULT_FORBIDDEN_STATEMENTS, fanoutCreate: true },
    router: { routeByName: (m) => routes[m] ?? routes._default_ },
    config: { keymaps: { cpu: ['a', 'b'], disk: ['c'], _default_: ['a', 'b'] } },
  };
}

/** A fence with `own` records spooled here and nothing known of the fleet. */
function fence(own: Record<string, number>): BackendReadFence {
  const f = new BackendReadFence('p1');
  f.update(new Map(Object.entries(own)), undefined);
  return f;
}

function plan(q: string, f: BackendReadFence, topo = topology()) {
  const p = planQuery(parseQuery(q), topo, 'mydb', f);
  if (p.kind !== 'plans') throw new Error(`refused: ${p.message}`);
  return p;
}

describe('the query planner’s read fence', () => {
  it('leaves a read-behind replica out while a caught-up one can answer, even one in another zone', () => {
    const topo = topology('za');
    expect(candidates([0, 1], topo, fence({}))).toEqual([0, 1]);
    expect(candidates([0, 1], topo, fence({ a: 5 }))).toEqual([1]);
    const p = plan('SELECT * FROM cpu', fence({ a: 5 }), topo);
    expect(p.stream?.candidates).toEqual([1]);
    expect(p.readBehind).toBeUndefined();
  });

  it('reads the least-behind when every replica is behind, and names it in the header value', () => {
    const p = plan('SELECT * FROM cpu', fence({ a: 50, b: 7 }));
    expect(p.stream?.candidates).toEqual([1, 0]);
    expect(p.readBehind).toBe('b (7 records waiting)');
  });

  it('keeps the zone order among replicas equally behind', () => {
    expect(candidates([1, 0], topology('za'), fence({ a: 3, b: 3 }))).toEqual([0, 1]);
  });

  it('a replica that is down is no candidate: the behind one that is up answers, with the header', () => {
    const topo = topology();
    (topo.backends[0] as { isHealthy: boolean }).isHealthy = false;
    const p = plan('SELECT * FROM cpu', fence({ b: 9 }), topo);
    expect(p.stream?.candidates).toEqual([1]);
    expect(p.readBehind).toBe('b (9 records waiting)');
  });

  it('fences each group of a multi-measurement SELECT', () => {
    const p = plan('SELECT * FROM cpu, disk', fence({ a: 2, c: 4 }));
    const cover = p.statements[0] as Extract<StatementPlan, { kind: 'cover' }>;
    expect(cover.kind).toBe('cover');
    expect(cover.groups).toEqual([[1], [2]]);
    expect(p.readBehind).toBe('c (4 records waiting)');
  });

  it('a fan-out leaves out a behind replica whose sets all have a caught-up member, keeps one that alone holds a set', () => {
    const p = plan('SHOW MEASUREMENTS', fence({ a: 2, c: 4 }));
    const fanout = p.statements[0] as Extract<StatementPlan, { kind: 'fanout' }>;
    expect(fanout.kind).toBe('fanout');
    expect(fanout.backends).toEqual([1, 2]);
    expect(p.readBehind).toBe('c (4 records waiting)');
    const clear = plan('SHOW MEASUREMENTS', fence({})).statements[0] as Extract<StatementPlan, { kind: 'fanout' }>;
    expect(clear.backends).toEqual([0, 1, 2]);
  });

  it('writes and DDL are not fenced: every backend runs them', () => {
    const p = plan('CREATE DATABASE mydb', fence({ a: 1, b: 1, c: 1 }));
    expect(p.statements[0]).toMatchObject({ kind: 'all', backends: [0, 1, 2] });
    expect(p.readBehind).toBeUndefined();
  });
});
