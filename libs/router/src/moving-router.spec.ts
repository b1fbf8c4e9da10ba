import { DatabaseRouters } from './database-routers';
import type { Router } from './measurement-router';
import type { RoutingConfig } from './routing-table';

const INDEX = new Map([
  ['a', 0],
  ['b', 1],
  ['c', 2],
  ['d', 3],
]);
const unescape = (buf: Buffer, start: number, end: number) => buf.toString('latin1', start, end);
const NODE = { db: 'db', databases: undefined };

function raw(router: Router, measurement: string): readonly number[] | null {
  const buf = Buffer.from(`${measurement},t=1 v=1`, 'latin1');
  return router.routeRaw(buf, 0, measurement.length, measurement.length * 31);
}

function routerOf(after: RoutingConfig, before: RoutingConfig): Router {
  return new DatabaseRouters(after, NODE, INDEX, unescape, before).single;
}

const sorted = (route: readonly number[] | null) => [...(route ?? [])].sort();

describe('routes while a rebalance moves data (MovingRouter)', () => {
  const before = { keymaps: { _default_: ['a', 'b'], cpu: ['a'], mem: ['c'] } };
  const after = { keymaps: { _default_: ['a', 'b'], cpu: ['b'], mem: ['c'], disk: ['c'] } };
  const router = routerOf(after, before);

  it('writes a moving measurement to its old and new owners, reads it from the old ones', () => {
    expect(sorted(raw(router, 'cpu'))).toEqual([0, 1]);
    expect(sorted(router.writeRouteByName('cpu'))).toEqual([0, 1]);
    expect(router.routeByName('cpu')).toEqual([0]);
  });

  it('a measurement that newly has its own keymap is read where the old default sent it, written to both', () => {
    expect(sorted(raw(router, 'disk'))).toEqual([0, 1, 2]);
    expect(router.routeByName('disk')).toEqual([0, 1]);
  });

  it('routes an unmoved measurement as before', () => {
    expect(raw(router, 'mem')).toEqual([2]);
    expect(router.routeByName('mem')).toEqual([2]);
    expect(sorted(raw(router, 'other'))).toEqual([0, 1]);
  });

  it('leaves out an old owner that is no longer in the config', () => {
    const r = routerOf({ keymaps: { _default_: ['a'] } }, { keymaps: { _default_: ['a', 'gone'] } });
    expect(r.routeByName('x')).toEqual([0]);
    expect(raw(r, 'x')).toEqual([0]);
  });

  it('a group added to a hash keymap: a measurement the ring moves is written to both groups and read from its old one', () => {
    const groupsBefore = { g1: ['a'], g2: ['b'] };
    const hashBefore = { keymaps: {}, hashKeymaps: { _default_: ['g1', 'g2'] }, groups: groupsBefore };
    const hashAfter = { keymaps: {}, hashKeymaps: { _default_: ['g1', 'g2', 'g3'] }, groups: { ...groupsBefore, g3: ['c', 'd'] } };
    const plain = new DatabaseRouters(hashAfter, NODE, INDEX, unescape).single;
    const old = new DatabaseRouters(hashBefore, NODE, INDEX, unescape).single;
    const moving = routerOf(hashAfter, hashBefore);
    let moved = 0;
    for (let i = 0; i < 300; i++) {
      const m = `m${i}`;
      const now = plain.routeByName(m)!;
      const then = old.routeByName(m)!;
      expect(moving.routeByName(m)).toEqual(then);
      if (sorted(now).join() === sorted(then).join()) {
        expect(sorted(raw(moving, m))).toEqual(sorted(now));
      } else {
        moved++;
        expect(now).toEqual([2, 3]);
        expect(sorted(raw(moving, m))).toEqual(sorted([...now, ...then]));
      }
    }
    // about a third of the measurements move to the new group
    expect(moved).toBeGreaterThan(60);
    expect(moved).toBeLessThan(140);
  });
});
