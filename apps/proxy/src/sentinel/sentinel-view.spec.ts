import type { SentinelState } from '@app/cluster-store';
import { SentinelView } from './sentinel-view';

function state(seq: number, extra: Partial<SentinelState> = {}): SentinelState {
  return {
    seq,
    leader: 's1',
    term: 's1-a',
    at: 1_700_000_000_000 + seq, // the sentinel's clock: never compared with ours
    interval: 250,
    staleAfter: 1_000,
    slotTtl: 600,
    backends: { b: { up: true, since: 5, lastError: null, version: '1.6.7', checkedAt: 5, by: 's1', reason: null } },
    slots: {},
    cooling: {},
    ...extra,
  };
}

const slotFor = (proxy: string, id: string) => ({ b: { [proxy]: { id, grantedAt: 1 } } });

describe('SentinelView', () => {
  it('shuts replays until the first read has answered (or the wait is given up)', () => {
    const view = new SentinelView('p1');
    expect(view.mayReplay('b', 0)).toBe(false);
    view.decide();
    expect(view.mayReplay('b', 0)).toBe(true); // no sentinel known: replay on our own
  });

  it('follows a live sentinel’s health until no new publication has been seen for staleAfter', () => {
    const view = new SentinelView('p1');
    view.observe(
      state(1, {
        backends: { b: { up: false, since: 3, lastError: 'ping: ECONNREFUSED', version: null, checkedAt: 3, by: 's1', reason: 'probe' } },
      }),
      100,
    );
    expect(view.health('b', 150)).toEqual({ up: false, since: 3, lastError: 'ping: ECONNREFUSED', by: 's1', expiresAt: 1_100 });
    expect(view.health('other', 150)).toBeUndefined();
    view.observe(state(1), 900); // the same publication again: not a sign of life
    expect(view.live(1_099)).toBeDefined();
    expect(view.live(1_100)).toBeUndefined();
    expect(view.health('b', 1_100)).toBeUndefined();
    view.observe(state(2), 1_200);
    expect(view.health('b', 1_300)).toMatchObject({ up: true, expiresAt: 2_200 });
    expect(view.lastSeen).toBe(1_200);
  });

  it('replays only under its own slot, read within slotTtl, while a sentinel is live', () => {
    const view = new SentinelView('p1');
    view.observe(state(1, { slots: slotFor('p2', 'x-1') }), 0);
    expect(view.mayReplay('b', 10)).toBe(false); // p2 holds it
    expect(view.mayReplay('unknown-to-the-sentinel', 10)).toBe(true);
    view.observe(state(2, { slots: slotFor('p1', 'x-2') }), 100);
    expect(view.mayReplay('b', 150)).toBe(true);
    expect(view.held(150)).toEqual({ b: 'x-2' });
    expect(view.mayReplay('b', 699)).toBe(true);
    expect(view.mayReplay('b', 700)).toBe(false); // not confirmed for slotTtl: stop
  });

  it('stops at once when a read finds no slot or fails, and an old read finishing late changes nothing', () => {
    const view = new SentinelView('p1');
    view.observe(state(1, { slots: slotFor('p1', 'x-1') }), 0);
    view.readFailed(50);
    expect(view.mayReplay('b', 60)).toBe(false);
    view.observe(state(2, { slots: slotFor('p1', 'x-1') }), 100);
    view.observe(state(1, { slots: {} }), 90); // began before the newest: ignored
    expect(view.mayReplay('b', 110)).toBe(true);
    view.observe(state(3), 200);
    expect(view.mayReplay('b', 210)).toBe(false);
  });

  it('never uses a slot again once it gave it back', () => {
    const view = new SentinelView('p1');
    view.observe(state(1, { slots: slotFor('p1', 'x-1') }), 0);
    expect(view.release('b')).toBe('x-1');
    expect(view.release('b')).toBeUndefined();
    expect(view.mayReplay('b', 10)).toBe(false);
    expect(view.givenBack()).toEqual({ b: 'x-1' });
    expect(view.held(10)).toEqual({});
    view.observe(state(2, { slots: slotFor('p1', 'x-5') }), 100); // a new grant
    expect(view.mayReplay('b', 110)).toBe(true);
  });

  it('replays on its own again when the sentinel is gone', () => {
    const view = new SentinelView('p1');
    view.observe(state(1, { slots: slotFor('p2', 'x-1') }), 0);
    expect(view.mayReplay('b', 500)).toBe(false);
    view.observe(null, 600); // the publication expired in the store
    expect(view.mayReplay('b', 900)).toBe(false); // still within staleAfter of the last one seen
    expect(view.mayReplay('b', 1_000)).toBe(true);
  });
});
