import type { PlannerBackend } from '@app/query';
import { BackendReadFence } from './read-fence';

const backend = (name: string) => ({ name }) as PlannerBackend;

describe('BackendReadFence', () => {
  it('is inactive while nothing is behind, and looks nothing up then', () => {
    const f = new BackendReadFence('p1');
    expect(f.update(new Map([['a', 0]]), undefined)).toBe(false);
    expect(f.active).toBe(false);
    expect(f.behind(backend('a'))).toBe(0);
  });

  it('without a fleet view, the own spool decides', () => {
    const f = new BackendReadFence('p1');
    expect(
      f.update(
        new Map([
          ['a', 0],
          ['b', 12],
        ]),
        undefined,
      ),
    ).toBe(true);
    expect(f.active).toBe(true);
    expect(f.behind(backend('b'))).toBe(12);
    expect(f.describe()).toEqual({ b: 12 });
    expect(f.update(new Map([['b', 11]]), undefined)).toBe(false); // still behind: no change of set
    expect(f.update(new Map([['b', 0]]), undefined)).toBe(true);
    expect(f.active).toBe(false);
  });

  it('adds the other proxies’ published backlog to the own spool as it is now', () => {
    const f = new BackendReadFence('p1');
    // the publication still shows p1's 40 records from its last heartbeat; p1's spool now holds 10
    f.update(new Map([['b', 10]]), { b: { records: 70, proxies: { p1: 40, p2: 30 } } });
    expect(f.behind(backend('b'))).toBe(40);
    // p1 replayed everything: only p2's 30 remain
    f.update(new Map([['b', 0]]), { b: { records: 70, proxies: { p1: 40, p2: 30 } } });
    expect(f.behind(backend('b'))).toBe(30);
    // a backlog held only by this proxy and already replayed counts no more
    f.update(new Map([['b', 0]]), { b: { records: 40, proxies: { p1: 40 } } });
    expect(f.active).toBe(false);
  });

  it('a backend behind only at another proxy is behind here too', () => {
    const f = new BackendReadFence('p2');
    f.update(
      new Map([
        ['a', 0],
        ['b', 0],
      ]),
      { b: { records: 5, proxies: { p1: 5 } } },
    );
    expect(f.describe()).toEqual({ b: 5 });
  });
});
