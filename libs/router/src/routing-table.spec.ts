import fc from 'fast-check';
import { HashRing } from './hash-ring';
import { MeasurementRouter } from './measurement-router';
import { planMoves } from './plan-moves';
import { RoutingTable } from './routing-table';

const names = (n: number, prefix = 'm') => Array.from({ length: n }, (_v, i) => `${prefix}${i}`);

describe('RoutingTable', () => {
  const config = {
    keymaps: { 'app.cpu': ['x'], cpu: ['y'], 'app._default_': ['z'], _default_: ['w'], 'cpu.load': ['v'] },
    hashKeymaps: {},
    groups: {},
  };

  it('on a multi-database proxy, prefers db.measurement, then measurement, then db._default_, then _default_', () => {
    const table = new RoutingTable(config, true);
    expect(table.resolve('app', 'cpu')?.backends).toEqual(['x']);
    expect(table.resolve('telegraf', 'cpu')?.backends).toEqual(['y']);
    expect(table.resolve('app', 'mem')?.backends).toEqual(['z']);
    expect(table.resolve('telegraf', 'mem')?.backends).toEqual(['w']);
  });

  it('on a single-database proxy, reads keys as measurement names only (a dot in a name keeps its meaning)', () => {
    const table = new RoutingTable(config, false);
    expect(table.resolve('app', 'cpu')?.backends).toEqual(['y']);
    expect(table.resolve('cpu', 'load')?.backends).toEqual(['w']);
    expect(table.resolve('', 'cpu.load')?.backends).toEqual(['v']);
    expect(table.resolve('app', 'mem')?.backends).toEqual(['w']);
  });

  it('lets an explicit entry win over a hash keymap, and places the rest in one group each', () => {
    const table = new RoutingTable(
      { keymaps: { pinned: ['a1'] }, hashKeymaps: { _default_: ['g1', 'g2'] }, groups: { g1: ['a1', 'a2'], g2: ['b1', 'b2'] } },
      false,
    );
    expect(table.resolve('', 'pinned')).toEqual({ backends: ['a1'], key: 'pinned' });
    for (const m of names(50)) {
      const p = table.resolve('', m)!;
      expect(['g1', 'g2']).toContain(p.group);
      expect(p.backends).toEqual(p.group === 'g1' ? ['a1', 'a2'] : ['b1', 'b2']);
    }
  });

  it('hashes the db in on a multi-database proxy only', () => {
    const hashed = {
      keymaps: {},
      hashKeymaps: { _default_: ['g1', 'g2', 'g3', 'g4'] },
      groups: { g1: ['a'], g2: ['b'], g3: ['c'], g4: ['d'] },
    };
    const single = new RoutingTable(hashed, false);
    const multi = new RoutingTable(hashed, true);
    // a single-database proxy's clients may name the db differently: the data lands in one place
    for (const m of names(40)) expect(single.resolve('one', m)?.group).toBe(single.resolve('other', m)?.group);
    const differs = names(40).filter((m) => multi.resolve('one', m)?.group !== multi.resolve('other', m)?.group);
    expect(differs.length).toBeGreaterThan(0);
  });
});

describe('HashRing', () => {
  it('gives the same group for a key whatever order the groups are listed in, and in every process', () => {
    const one = new HashRing(['g1', 'g2', 'g3']);
    const other = new HashRing(['g3', 'g1', 'g2']);
    for (const m of names(200)) expect(one.locate(m)).toBe(other.locate(m));
    // pinned values: a change of the hash or of the virtual nodes would move users' data
    expect(['m0', 'm1', 'm2', 'm3'].map((m) => one.locate(m))).toMatchInlineSnapshot(`
     [
       "g3",
       "g1",
       "g1",
       "g1",
     ]
    `);
  });

  it('spreads 1000 measurements over two groups within 45/55', () => {
    const ring = new HashRing(['g1', 'g2']);
    const inG1 = names(1000).filter((m) => ring.locate(m) === 'g1').length;
    expect(inG1).toBeGreaterThanOrEqual(450);
    expect(inG1).toBeLessThanOrEqual(550);
  });

  it('moves about 1/(N+1) of the keys when a group is added, all of them to the new group', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.string({ minLength: 1, maxLength: 6 }), (n, newName) => {
        const groups = names(n, 'g');
        fc.pre(!groups.includes(newName));
        const before = new HashRing(groups);
        const after = new HashRing([...groups, newName]);
        const keys = names(2000, 'cpu_');
        const moved = keys.filter((k) => before.locate(k) !== after.locate(k));
        for (const k of moved) expect(after.locate(k)).toBe(newName);
        const share = moved.length / keys.length;
        expect(share).toBeGreaterThan(1 / (n + 1) / 2);
        expect(share).toBeLessThan((1 / (n + 1)) * 1.6);
      }),
      { numRuns: 30 },
    );
  });

  it('moves only the removed group’s keys when any group (not only the last) is removed', () => {
    const groups = ['g1', 'g2', 'g3', 'g4'];
    const before = new HashRing(groups);
    const after = new HashRing(['g1', 'g3', 'g4']);
    for (const k of names(1000)) {
      if (before.locate(k) !== 'g2') expect(after.locate(k)).toBe(before.locate(k));
    }
  });
});

describe('MeasurementRouter over a hash keymap', () => {
  const index = new Map([
    ['a1', 0],
    ['a2', 1],
    ['b1', 2],
    ['b2', 3],
  ]);
  const plain = (buf: Buffer, s: number, e: number) => buf.toString('utf8', s, e);
  const table = new RoutingTable(
    { keymaps: {}, hashKeymaps: { _default_: ['g1', 'g2'] }, groups: { g1: ['a1', 'a2'], g2: ['b1', 'b2'] } },
    false,
  );

  it('answers raw bytes with the group’s backends, hashing once per measurement (then from its cache)', () => {
    const unescape = jest.fn(plain);
    const router = new MeasurementRouter(table, index, unescape);
    const buf = Buffer.from('m7');
    const first = router.routeRaw(buf, 0, 2, 7);
    for (let i = 0; i < 100; i++) expect(router.routeRaw(buf, 0, 2, 7)).toBe(first);
    expect(unescape).toHaveBeenCalledTimes(1);
    expect([
      [0, 1],
      [2, 3],
    ]).toContainEqual(first);
  });
});

describe('planMoves', () => {
  const base = {
    keymaps: { pinned: ['a1'] },
    hashKeymaps: { _default_: ['g1', 'g2'] },
    groups: { g1: ['a1', 'a2'], g2: ['b1', 'b2'] },
    proxies: {},
  };
  const grown = { ...base, hashKeymaps: { _default_: ['g1', 'g2', 'g3'] }, groups: { ...base.groups, g3: ['c1'] } };
  const measurements = [...names(300), 'pinned'].map((name) => ({ db: 'metrics', name }));

  it('names the measurements a new group takes, from where to where, and leaves pinned ones alone', () => {
    const plan = planMoves(base, grown, measurements);
    expect(plan.total).toBe(301);
    expect(plan.moves.length).toBeGreaterThan(60);
    expect(plan.moves.length).toBeLessThan(140);
    for (const m of plan.moves) {
      expect(m.toGroup).toBe('g3');
      expect(m.to).toEqual(['c1']);
      expect(m.from).toEqual(m.fromGroup === 'g1' ? ['a1', 'a2'] : ['b1', 'b2']);
    }
    expect(plan.moves.map((m) => m.name)).not.toContain('pinned');
  });

  it('moves nothing between equal configs, and reports what a new config routes nowhere', () => {
    expect(planMoves(base, base, measurements).moves).toEqual([]);
    const strict = { ...base, hashKeymaps: {}, keymaps: { pinned: ['a1'] } };
    const plan = planMoves(base, strict, measurements);
    expect(plan.unroutable.length).toBe(300);
    expect(plan.moves).toEqual([]);
  });
});
