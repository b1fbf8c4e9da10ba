import type { PlannerBackend } from '@app/query';
import { candidates } from '@app/query';
import { BackendReadFence } from '../sentinel/read-fence';

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
