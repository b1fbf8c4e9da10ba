import type { PlannerBackend } from '@app/query';
import { candidates } from '@app/query';
import { BackendReadFence } from '../sentinel/read-fence';
import { RebalanceRouter } from './rebalance-router';

const INDEX = new Map([
  ['a', 0],
  ['b', 1],
  ['c', 2],
]);
const unescape = (buf: Buffer, start: number, end: number) => buf.toString('latin1', start, end);

function raw(router: RebalanceRouter, measurement: string): readonly number[] | null {
  const buf = Buffer.from(`${measurement},t=1 v=1`, 'latin1');
  return router.routeRaw(buf, 0, measurement.length, measurement.length * 31);
}

describe('RebalanceRouter', () => {
  const before = { _default_: ['a', 'b'], cpu: ['a'], mem: ['c'] };
  const after = { _default_: ['a', 'b'], cpu: ['b'], mem: ['c'], disk: ['c'] };
  const router = new RebalanceRouter(after, before, INDEX, unescape);

  it('writes a moving measurement to its old and new owners, reads it from the old ones', () => {
    expect([...raw(router, 'cpu')!].sort()).toEqual([0, 1]);
    expect(router.routeByName('cpu')).toEqual([0]);
  });

  it('a measurement that newly has its own keymap is read where the old default sent it, written to both', () => {
    expect([...raw(router, 'disk')!].sort()).toEqual([0, 1, 2]);
    expect(router.routeByName('disk')).toEqual([0, 1]);
  });

  it('routes an unmoved measurement as before', () => {
    expect(raw(router, 'mem')).toEqual([2]);
    expect(router.routeByName('mem')).toEqual([2]);
    expect([...raw(router, 'other')!].sort()).toEqual([0, 1]);
  });

  it('leaves out an old owner that is no longer in the config', () => {
    const r = new RebalanceRouter({ _default_: ['a'] }, { _default_: ['a', 'gone'] }, INDEX, unescape);
    expect(r.routeByName('x')).toEqual([0]);
    expect(raw(r, 'x')).toEqual([0]);
  });
});

describe('BackendReadFence under recovery', () => {
  const backend = (name: string) => ({ name, isHealthy: true, config: { writeOnly: false, zone: '' } }) as unknown as PlannerBackend;
  const topology = {
    backends: [backend('a'), backend('b')],
    node: { db: 'db', zone: '', forbiddenStatements: [], fanoutCreate: false },
    router: { routeByName: () => [0, 1] },
    config: { keymaps: {} },
  };

  it('keeps queries off a backend being recovered while a replica can answer, behind any backlog', () => {
    const f = new BackendReadFence('p1');
    expect(candidates([1, 0], topology, f)).toEqual([1, 0]);
    expect(f.setRecovering(['b'])).toBe(true);
    expect(f.setRecovering(['b'])).toBe(false);
    expect(f.active).toBe(true);
    expect(candidates([1, 0], topology, f)).toEqual([0]);
    // a has a backlog too: it is still ahead of the one being refilled
    f.update(new Map([['a', 5]]), undefined);
    expect(candidates([1, 0], topology, f)).toEqual([0, 1]);
    expect(f.recoveringBackends()).toEqual(['b']);
    expect(f.describeBehind(backend('b'))).toBe('b (being recovered)');
    expect(f.describeBehind(backend('a'))).toBe('a (5 records waiting)');
    f.update(new Map([['a', 0]]), undefined);
    expect(f.setRecovering([])).toBe(true);
    expect(f.active).toBe(false);
    expect(candidates([1, 0], topology, f)).toEqual([1, 0]);
  });
});
