import type { PlannerTopology } from '@app/query';
import { HASHED, routingTopology as topology, setNames as names } from '../../../test/support/routing-topology';
import { keymapSets, planReadQuery } from './read-plan';
import type { PromLabelMatcher, PromQuery } from './remote-messages';

const GUARD = { maxRangeWithoutNameSeconds: 0 };
const name = (value: string, type: PromLabelMatcher['type'] = 'EQ'): PromLabelMatcher => ({ type, name: '__name__', value });
const query = (matchers: PromLabelMatcher[]): PromQuery => ({ startTimestampMs: 0, endTimestampMs: 60_000, matchers });

describe('planReadQuery over hash groups and databases (#17)', () => {
  it('reads a named metric from the replicas of the group its name hashes to', () => {
    const topo = topology(HASHED);
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const plan = planReadQuery(query([name(`m${i}`)]), topo, GUARD);
      expect(plan.kind).toBe('single');
      if (plan.kind !== 'single') continue;
      expect(names(plan.candidates)).toBe(names(topo.router.routeByName(`m${i}`)!));
      seen.add(names(plan.candidates));
    }
    expect([...seen].sort()).toEqual(['a1+a2', 'b1+b2']);
  });

  it('fans a read without a name out to every group of the hash keymap, each leaving out the names pinned elsewhere', () => {
    const sets = keymapSets(topology(HASHED));
    const byMembers = new Map(sets.map((s) => [names(s.members), s.matcher]));
    expect([...byMembers.keys()].sort()).toEqual(['a1', 'a1+a2', 'b1+b2']);
    expect(byMembers.get('a1')).toEqual({ type: 'RE', name: '__name__', value: '^(?:pinned)$' });
    expect(byMembers.get('a1+a2')).toEqual({ type: 'NRE', name: '__name__', value: '^(?:pinned)$' });
    expect(byMembers.get('b1+b2')).toEqual({ type: 'NRE', name: '__name__', value: '^(?:pinned)$' });
  });

  it("routes by the client's db on a proxy serving several: its own keys first, the hash of (db, name)", () => {
    const topo = topology(
      {
        keymaps: { 'app.cpu': ['b1'], 'other.mem': ['b2'] },
        hashKeymaps: { _default_: ['g1', 'g2'], 'app._default_': ['g1'] },
        groups: HASHED.groups,
      },
      ['app', 'metrics'],
    );
    // app: cpu pinned to b1, everything else in g1 (the db's own default wins over the plain one)
    const cpu = planReadQuery(query([name('cpu')]), topo, GUARD, undefined, 'app');
    expect(cpu.kind === 'single' && names(cpu.candidates)).toBe('b1');
    // (`other.mem` is also the key of a measurement named "other.mem" in any db, as the routing table reads it)
    const appSets = keymapSets(topo, 'app').map((s) => `${names(s.members)} ${s.matcher?.type ?? ''} ${s.matcher?.value ?? ''}`);
    expect(appSets.sort()).toEqual(['a1+a2 NRE ^(?:cpu|other\\.mem)$', 'b1 RE ^(?:cpu)$', 'b2 RE ^(?:other\\.mem)$']);
    // metrics: the plain hash default over both groups; app's own keys name nothing here
    const metricsSets = keymapSets(topo, 'metrics').map((s) => `${names(s.members)} ${s.matcher?.type ?? ''} ${s.matcher?.value ?? ''}`);
    expect(metricsSets.sort()).toEqual(
      [
        'a1+a2 NRE ^(?:app\\.cpu|other\\.mem)$',
        'b1 RE ^(?:app\\.cpu)$',
        'b2 RE ^(?:other\\.mem)$',
        'b1+b2 NRE ^(?:app\\.cpu|other\\.mem)$',
      ].sort(),
    );
    for (let i = 0; i < 20; i++) {
      const plan = planReadQuery(query([name(`m${i}`)]), topo, GUARD, undefined, 'metrics');
      expect(plan.kind === 'single' && names(plan.candidates)).toBe(names(topo.routers!.forDb('metrics')!.routeByName(`m${i}`)!));
    }
  });

  it('reads by pattern from the groups of the routing before the change while a rebalance runs, where every point still is', () => {
    const shrunk = { keymaps: {}, hashKeymaps: { _default_: ['g1'] }, groups: HASHED.groups };
    const grown = { keymaps: {}, hashKeymaps: { _default_: ['g1', 'g2'] }, groups: HASHED.groups };
    const sets = (topo: PlannerTopology) =>
      keymapSets(topo)
        .map((s) => names(s.members))
        .sort();
    expect(sets(topology(shrunk))).toEqual(['a1+a2']);
    // g2 leaves the default: until its measurements are copied to g1, they are read where they were
    expect(sets(topology(shrunk, undefined, grown))).toEqual(['a1+a2', 'b1+b2']);
    // g2 joins: nothing has moved into it yet, and every write of the move still reaches g1
    expect(sets(topology(grown, undefined, shrunk))).toEqual(['a1+a2']);
  });
});
