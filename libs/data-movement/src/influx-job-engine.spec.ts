import type { ClusterConfig } from '@app/config';
import { RoutingTable } from '@app/router';
import type { BackendInventory, ClusterDiscovery } from './backend-discovery';
import { InfluxJobEngine } from './influx-job-engine';
import type { CopyStep } from './job-model';

/**
 * The engine's discovery on a fleet serving `"*"` over hash groups, against a fake ClusterDiscovery
 * (the planning itself is job-planner.spec's; the real backends are the e2e tests').
 */
describe('InfluxJobEngine.plan on a "*" fleet over hash groups', () => {
  const groupsBefore = { g1: ['a1', 'a2'], g2: ['b1'] };
  const config = {
    backends: Object.fromEntries(
      ['a1', 'a2', 'b1', 'c1'].map((n) => [
        n,
        { url: `http://127.0.0.1:1/${n}`, db: `own_${n}`, ...(n === 'b1' ? { dbMap: { app: 'app_b' } } : {}) },
      ]),
    ),
    keymaps: {},
    hashKeymaps: { _default_: ['g1', 'g2', 'g3'] },
    groups: { ...groupsBefore, g3: ['c1'] },
    proxies: { p1: { databases: '*' } },
  } as unknown as ClusterConfig;
  const before = new RoutingTable({ keymaps: {}, hashKeymaps: { _default_: ['g1', 'g2'] }, groups: groupsBefore }, true);
  const after = new RoutingTable(config, true);
  const names = Array.from({ length: 60 }, (_v, i) => `m${i}`);
  const inGroup = (db: string, g: string) => names.filter((m) => before.resolve(db, m)?.group === g);
  /** backend → its dbs (as named there) → measurements. */
  const data: Record<string, Record<string, string[]>> = {
    a1: { _internal: ['runtime'], tele: inGroup('tele', 'g1'), app: inGroup('app', 'g1') },
    a2: { _internal: ['runtime'], tele: inGroup('tele', 'g1'), app: inGroup('app', 'g1') },
    b1: { _internal: ['runtime'], tele: inGroup('tele', 'g2'), app_b: inGroup('app', 'g2') },
    c1: { _internal: ['runtime'] },
  };

  it('finds the served dbs on the backends (through dbMap, never _internal) and counts only the moving measurements', async () => {
    const inventoried: string[] = [];
    const fake: ClusterDiscovery = {
      databases: async (backend) => Object.keys(data[backend]),
      measurements: async (backend, db) => data[backend][db] ?? [],
      inventory: async (backend, db, only): Promise<BackendInventory> => {
        const there = (data[backend][db] ?? []).filter((m) => !only || only.length === 0 || only.includes(m));
        inventoried.push(...there.map((m) => `${backend}:${db}.${m}`));
        const holdings = there.map((measurement) => ({
          rp: 'autogen',
          measurement,
          points: 10,
          firstMs: 0,
          lastMs: 1_000,
          avgLineBytes: 40,
        }));
        return { backend, db, reachable: true, hasDb: db in data[backend], retentionPolicies: [], holdings };
      },
    };
    const engine = new InfluxJobEngine({ discovery: () => fake });
    try {
      const plan = await engine.plan(
        { kind: 'rebalance', keymapsBefore: {}, hashKeymapsBefore: { _default_: ['g1', 'g2'] }, groupsBefore },
        config,
      );
      const moving = ['app', 'tele'].flatMap((db) => names.filter((m) => after.resolve(db, m)?.group === 'g3').map((m) => `${db}.${m}`));
      expect(moving.length).toBeGreaterThan(20);
      const copies = plan.steps.filter((s): s is CopyStep => s.op === 'copy');
      expect(copies.map((s) => `${s.clientDb}.${s.measurement}`).sort()).toEqual(moving.sort());
      for (const s of copies) {
        expect(s.targets).toEqual(['c1']);
        if (s.sources.includes('b1')) expect(s.dbOf).toEqual({ b1: s.clientDb === 'app' ? 'app_b' : 'tele', c1: s.clientDb });
      }
      // only the moving measurements were counted, each on the backends holding it; nothing of _internal or the backends' own db
      const expected = moving.flatMap((ref) => {
        const [db, m] = ref.split('.');
        const g = before.resolve(db, m)!.group!;
        return groupsBefore[g as 'g1' | 'g2'].map((b) => `${b}:${b === 'b1' && db === 'app' ? 'app_b' : db}.${m}`);
      });
      expect(inventoried.sort()).toEqual(expected.sort());
    } finally {
      await engine.close();
    }
  });
});
