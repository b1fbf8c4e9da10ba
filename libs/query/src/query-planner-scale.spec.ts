import { parseQuery } from '@app/influxql';
import { HASHED, routingTopology as topology, setNames } from '../../../test/support/routing-topology';
import { type PlannerTopology, type StatementPlan, planQuery } from './query-planner';

function statements(q: string, topo: PlannerTopology, db: string): StatementPlan[] {
  const p = planQuery(parseQuery(q), topo, db);
  if (p.kind !== 'plans') throw new Error(`refused: ${p.message}`);
  return p.statements;
}

describe('planQuery over hash groups (#17)', () => {
  const topo = topology(HASHED);
  const groupOf = (m: string) => topo.router.routeByName(m)!;

  it('sends a one-measurement SELECT to the replicas of its group only', () => {
    for (const m of ['m1', 'm2', 'm3', 'm4']) {
      const [s] = statements(`SELECT * FROM ${m}`, topo, 'x');
      expect(s.kind).toBe('single');
      expect(s.kind === 'single' && [...s.candidates].sort()).toEqual([...groupOf(m)].sort());
    }
  });

  it('asks SHOW MEASUREMENTS of one replica per backend set (each group, the pinned keymap), failing over within it', () => {
    const [s] = statements('SHOW MEASUREMENTS', topo, 'x');
    expect(s.kind).toBe('cover');
    if (s.kind !== 'cover') return;
    expect(s.groups.map(setNames).sort()).toEqual(['a1', 'a1+a2', 'b1+b2']);
    expect(s.merge).toEqual({ kind: 'rows', limit: undefined, offset: undefined });
  });

  it('covers every group for a regex SELECT, and the groups of the measurements a multi-measurement SELECT names', () => {
    const [re] = statements('SELECT count(v) FROM /.*/', topo, 'x');
    expect(re.kind).toBe('cover');
    const names = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    const groups = new Set(names.map((m) => groupOf(m).join(',')));
    const [multi] = statements(`SELECT count(v) FROM ${names.join(', ')}`, topo, 'x');
    expect(groups.size).toBe(2); // these names land in both groups
    expect(multi.kind).toBe('cover');
    expect(multi.kind === 'cover' && multi.groups.length).toBe(2);
  });
});

describe('planQuery while a rebalance runs (#16, #17)', () => {
  const coverOf = (q: string, topo: PlannerTopology) => {
    const [s] = statements(q, topo, 'x');
    // (one set: one replica of it answers, a 'single' plan)
    if (s.kind === 'single') return [setNames(s.candidates)];
    if (s.kind !== 'cover') throw new Error(`not a cover: ${s.kind}`);
    return s.groups.map(setNames).sort();
  };
  const shrunk = { keymaps: {}, hashKeymaps: { _default_: ['g1'] }, groups: HASHED.groups };
  const grown = { keymaps: {}, hashKeymaps: { _default_: ['g1', 'g2'] }, groups: HASHED.groups };

  it('asks the groups of the routing before the change for a read of any measurement (the history is there)', () => {
    expect(coverOf('SHOW MEASUREMENTS', topology(shrunk))).toEqual(['a1+a2']);
    // g2 leaves the default: its measurements are still only there until the copy is done
    expect(coverOf('SHOW MEASUREMENTS', topology(shrunk, undefined, grown))).toEqual(['a1+a2', 'b1+b2']);
    expect(coverOf('SELECT count(v) FROM /.*/', topology(shrunk, undefined, grown))).toEqual(['a1+a2', 'b1+b2']);
    // an explicit default moved from b1 to a1: read from b1 until then
    const moved = topology({ keymaps: { _default_: ['a1'] }, hashKeymaps: {}, groups: {} }, undefined, {
      keymaps: { _default_: ['b1'] },
      hashKeymaps: {},
      groups: {},
    });
    expect(coverOf('SELECT count(v) FROM /.*/', moved)).toEqual(['b1']);
  });
});

describe('planQuery on a proxy serving several databases (#17)', () => {
  const topo = topology({ keymaps: { 'app.cpu': ['a1'], _default_: ['b1'] }, hashKeymaps: {}, groups: {} }, ['metrics', 'app']);

  it('names the statement’s client db in its plan, and routes by the db’s own keys', () => {
    const [inApp] = statements('SELECT * FROM cpu', topo, 'app');
    expect(inApp).toMatchObject({ kind: 'single', candidates: [0], db: 'app' });
    const [inMetrics] = statements('SELECT * FROM cpu', topo, 'metrics');
    expect(inMetrics).toMatchObject({ kind: 'single', candidates: [2], db: 'metrics' });
    const [named] = statements('SELECT * FROM "app"."autogen"."cpu"', topo, 'metrics');
    expect(named).toMatchObject({ kind: 'single', candidates: [0], db: 'app' });
  });

  it('answers a db it does not serve as influxd answers an unknown one', () => {
    expect(statements('SELECT * FROM cpu', topo, 'other')).toEqual([{ kind: 'local', outcome: { error: 'database not found: other' } }]);
  });

  it('merges SHOW DATABASES from the backends, limited to the served ones', () => {
    expect(statements('SHOW DATABASES', topo, '')).toEqual([{ kind: 'databases', backends: [0, 1, 2, 3], allowed: ['metrics', 'app'] }]);
  });

  it('runs CREATE DATABASE of a served db on every backend, and refuses another with 403', () => {
    expect(statements('CREATE DATABASE app', topo, '')[0]).toMatchObject({ kind: 'all', db: 'app' });
    const refused = planQuery(parseQuery('CREATE DATABASE other'), topo, '');
    expect(refused).toMatchObject({ kind: 'refused', status: 403 });
  });
});
