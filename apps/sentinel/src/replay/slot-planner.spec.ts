import type { SentinelState } from '@app/cluster-store';
import { HeartbeatFreshness, type ProxyReport, SlotPlanner } from './slot-planner';

const up = { b: { up: true, timeoutMs: 1_000 } };

function proxy(
  name: string,
  records: number,
  extra: Partial<ProxyReport> = {},
  oldestAt: number | null = records ? 100 : null,
): ProxyReport {
  return { name, heartbeatAgeMs: 0, beatEveryMs: 1_000, backlog: { b: { records, oldestAt } }, released: {}, failing: {}, ...extra };
}

function planner(perBackend = 1) {
  return new SlotPlanner({ perBackend, slotTtl: 3_000, idPrefix: 't' });
}

describe('SlotPlanner', () => {
  it('grants one slot per backend to the proxy with the oldest backlog, and the next one when it is given back', () => {
    const p = planner();
    const first = p.plan(0, up, [proxy('p1', 5, {}, 200), proxy('p2', 9, {}, 100), proxy('p3', 0)]);
    expect(first.slots).toEqual({ b: { p2: { id: 't-1', grantedAt: 0 } } });
    expect(first.events).toEqual([{ kind: 'granted', backend: 'b', proxy: 'p2', id: 't-1', records: 9 }]);

    // p2 still replaying: nothing changes
    expect(p.plan(10, up, [proxy('p1', 5), proxy('p2', 3)]).events).toEqual([]);

    // p2 gives it back: p1 gets the next one in the same round
    const handover = p.plan(20, up, [proxy('p1', 5), proxy('p2', 0, { released: { b: 't-1' } })]);
    expect(handover.events).toEqual([
      { kind: 'released', backend: 'b', proxy: 'p2', id: 't-1', heldMs: 20 },
      { kind: 'granted', backend: 'b', proxy: 'p1', id: 't-2', records: 5 },
    ]);
    expect(handover.slots).toEqual({ b: { p1: { id: 't-2', grantedAt: 20 } } });
  });

  it('grants as many slots as configured per backend', () => {
    const plan = planner(2).plan(0, up, [proxy('p1', 1), proxy('p2', 1), proxy('p3', 1)]);
    expect(Object.keys(plan.slots.b).sort()).toEqual(['p1', 'p2']);
  });

  it('grants nothing while the backend is down, and keeps a slot already held until the backend is back', () => {
    const p = planner();
    expect(p.plan(0, { b: { up: false, timeoutMs: 1_000 } }, [proxy('p1', 4)]).slots).toEqual({});
    p.plan(1, up, [proxy('p1', 4)]);
    const down = p.plan(2, { b: { up: false, timeoutMs: 1_000 } }, [proxy('p1', 4), proxy('p2', 4)]);
    expect(down.slots).toEqual({ b: { p1: { id: 't-1', grantedAt: 1 } } });
    expect(down.events).toEqual([]);
  });

  it('takes a slot back from a proxy that stopped heartbeating and keeps it busy for the slot TTL plus the write timeout', () => {
    const p = planner();
    p.plan(0, up, [proxy('p1', 4), proxy('p2', 4, {}, 500)]);
    const revoked = p.plan(100, up, [proxy('p1', 4, { heartbeatAgeMs: 3_000 }), proxy('p2', 4, {}, 500)]);
    expect(revoked.events).toEqual([{ kind: 'revoked', backend: 'b', proxy: 'p1', id: 't-1', reason: 'no heartbeat within the slot TTL' }]);
    expect(revoked.slots).toEqual({});
    expect(revoked.cooling).toEqual({ b: { p1: { id: 't-1', remainingMs: 4_000 } } });
    expect(p.plan(4_099, up, [proxy('p2', 4)]).slots).toEqual({});
    const after = p.plan(4_100, up, [proxy('p2', 4)]);
    expect(after.events).toEqual([{ kind: 'granted', backend: 'b', proxy: 'p2', id: 't-2', records: 4 }]);
    expect(after.cooling).toEqual({});
  });

  it('grants to a proxy that heartbeats as seldom as its membership TTL says, but takes a slot back after one silent slot TTL', () => {
    const p = planner();
    // an idle proxy with a 30 s membership TTL heartbeats every 10 s: it is alive for 20 s after one
    const idle = (age: number, records = 4) => proxy('p1', records, { heartbeatAgeMs: age, beatEveryMs: 10_000 });
    expect(p.plan(0, up, [idle(19_000)]).slots).toEqual({ b: { p1: { id: 't-1', grantedAt: 0 } } });
    expect(p.plan(1, up, [idle(2_999)]).events).toEqual([]);
    expect(p.plan(2, up, [idle(3_000)]).events).toEqual([
      { kind: 'revoked', backend: 'b', proxy: 'p1', id: 't-1', reason: 'no heartbeat within the slot TTL' },
    ]);
    const q = planner();
    expect(q.plan(0, up, [idle(20_000)]).slots).toEqual({}); // silent for two periods: presumed dead
  });

  it('takes a slot back when its proxy’s record expired or its writes fail, and never grants to a failing proxy', () => {
    const p = planner(2);
    p.plan(0, up, [proxy('p1', 4), proxy('p2', 4)]);
    const plan = p.plan(10, up, [proxy('p2', 4, { failing: { b: { since: 5, error: 'x' } } }), proxy('p3', 4, { failing: { b: {} } })]);
    expect(plan.events).toEqual([
      { kind: 'revoked', backend: 'b', proxy: 'p1', id: 't-1', reason: 'its membership record expired' },
      { kind: 'revoked', backend: 'b', proxy: 'p2', id: 't-2', reason: 'its writes to the backend fail' },
    ]);
    expect(plan.slots).toEqual({});
  });

  it('a new leader carries on with the published slots and cooling ones', () => {
    const state = {
      slots: { b: { p1: { id: 'old-7', grantedAt: 5 } } },
      cooling: { b: { p2: { id: 'old-6', remainingMs: 1_000 } } },
    } as unknown as SentinelState;
    const p = planner(2);
    p.adopt(state, 1_000, 500);
    const plan = p.plan(1_000, up, [proxy('p1', 3), proxy('p2', 3), proxy('p3', 3)]);
    expect(plan.slots).toEqual({ b: { p1: { id: 'old-7', grantedAt: 5 } } }); // p2 cools, so no room for p3
    expect(plan.events).toEqual([]);
    expect(p.plan(2_000, up, [proxy('p1', 0, { released: { b: 'old-7' } }), proxy('p2', 3), proxy('p3', 3)]).slots.b).toEqual({
      p2: { id: 't-1', grantedAt: 2_000 },
      p3: { id: 't-2', grantedAt: 2_000 },
    });
  });

  it('a new leader that finds no publication grants nothing for a slot TTL plus the longest write timeout', () => {
    const p = planner();
    p.adopt(null, 1_000, 500);
    expect(p.plan(4_499, up, [proxy('p1', 3)]).slots).toEqual({});
    expect(p.plan(4_500, up, [proxy('p1', 3)]).slots).toEqual({ b: { p1: { id: 't-1', grantedAt: 4_500 } } });
  });

  it('forgets slots of a backend that left the config', () => {
    const p = planner();
    p.plan(0, up, [proxy('p1', 3)]);
    const plan = p.plan(1, {}, [proxy('p1', 3)]);
    expect(plan.events).toEqual([{ kind: 'revoked', backend: 'b', proxy: 'p1', id: 't-1', reason: 'the backend is no longer configured' }]);
    expect(plan).toMatchObject({ slots: {}, cooling: {} });
  });
});

describe('HeartbeatFreshness', () => {
  it('judges by when a new heartbeat value was seen on this clock, not by the proxy’s clock', () => {
    const f = new HeartbeatFreshness();
    f.update([{ name: 'p1', lastHeartbeat: 5_000_000 }], 0); // p1's clock is far ahead: irrelevant
    expect(f.ageMs('p1', 999)).toBe(999);
    f.update([{ name: 'p1', lastHeartbeat: 5_000_000 }], 999); // same record again
    expect(f.ageMs('p1', 1_000)).toBe(1_000);
    f.update([{ name: 'p1', lastHeartbeat: 5_000_400 }], 1_200);
    expect(f.ageMs('p1', 2_100)).toBe(900);
    f.update([], 2_200);
    expect(f.ageMs('p1', 2_200)).toBe(Infinity);
  });
});
