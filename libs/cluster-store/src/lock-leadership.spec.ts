import { type LeaderLock, LockLeadership } from './lock-leadership';

/** The store's side of the lock, with the same semantics as the Lua scripts. */
class MemoryLock implements LeaderLock {
  holder?: { claim: string; until: number };

  private live() {
    if (this.holder && this.holder.until <= Date.now()) this.holder = undefined;
    return this.holder;
  }

  async acquire(claim: string, ttlMs: number) {
    const h = this.live();
    if (!h) {
      this.holder = { claim, until: Date.now() + ttlMs };
      return { acquired: true as const };
    }
    return { acquired: false as const, remainingMs: h.until - Date.now() };
  }

  async extend(claim: string, ttlMs: number) {
    const h = this.live();
    if (h?.claim !== claim) return false;
    h.until = Date.now() + ttlMs;
    return true;
  }

  async release(claim: string) {
    if (this.live()?.claim === claim) this.holder = undefined;
  }
}

/** One sentinel's connection to the store: when cut, its calls never answer (a partition or a frozen process). */
function connection(lock: LeaderLock) {
  const link = { cut: false };
  const hang = <T>(call: () => Promise<T>): Promise<T> => (link.cut ? new Promise<T>(() => {}) : call());
  const view: LeaderLock = {
    acquire: (c, t) => hang(() => lock.acquire(c, t)),
    extend: (c, t) => hang(() => lock.extend(c, t)),
    release: (c) => hang(() => lock.release(c)),
  };
  return { view, link };
}

function candidate(lock: LeaderLock, name: string, ttl = 3_000) {
  const log: string[] = [];
  const leadership = new LockLeadership(lock, name, ttl, {
    elected: () => log.push(`elected ${Date.now()}`),
    deposed: (reason) => log.push(`deposed ${Date.now()}: ${reason}`),
  });
  return { leadership, log };
}

describe('LockLeadership', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('lets exactly one of two candidates lead, and only the holder can renew', async () => {
    const lock = new MemoryLock();
    const a = candidate(lock, 's1');
    const b = candidate(lock, 's2');
    a.leadership.start();
    await jest.advanceTimersByTimeAsync(5);
    b.leadership.start();
    await jest.advanceTimersByTimeAsync(30_000);
    expect(a.leadership.leading).toBe(true);
    expect(b.leadership.leading).toBe(false);
    expect(a.log).toEqual(['elected 0']);
    expect(b.log).toEqual([]);
    expect(JSON.parse(lock.holder!.claim)).toMatchObject({ name: 's1' });
    expect(await lock.extend(b.leadership.claim, 3_000)).toBe(false);
  });

  it('a follower takes over within the TTL of a leader that stopped renewing, and that leader steps down by itself before', async () => {
    const lock = new MemoryLock();
    const conn = connection(lock);
    const a = candidate(conn.view, 's1');
    const b = candidate(lock, 's2');
    a.leadership.start();
    await jest.advanceTimersByTimeAsync(5);
    b.leadership.start();
    await jest.advanceTimersByTimeAsync(2_000);
    conn.link.cut = true; // s1's last renewal started at 2000 ms at the latest
    const cutAt = Date.now();
    await jest.advanceTimersByTimeAsync(4_000);
    const elected = Number(b.log[0].split(' ')[1]);
    const deposed = parseInt(a.log[1].split(' ')[1], 10);
    expect(b.leadership.leading).toBe(true);
    expect(a.leadership.leading).toBe(false);
    expect(elected - cutAt).toBeLessThanOrEqual(3_000 + 20); // within the TTL (plus one retry tick)
    expect(deposed).toBeLessThanOrEqual(elected); // never two leaders by their own account
    expect(a.log[1]).toMatch(/could not renew the leader lock within its TTL/);
  });

  it('stops leading when renewals go unanswered for a TTL, and leads again without an election if the store still held its claim', async () => {
    const lock = new MemoryLock();
    // a slow store: every call is applied at once, but its answer arrives only when we let it through
    const held: (() => void)[] = [];
    let slow = false;
    const delayed = <T>(call: () => Promise<T>): Promise<T> =>
      call().then((value) => (slow ? new Promise<T>((resolve) => held.push(() => resolve(value))) : value));
    const view: LeaderLock = {
      acquire: (c, t) => delayed(() => lock.acquire(c, t)),
      extend: (c, t) => delayed(() => lock.extend(c, t)),
      release: (c) => delayed(() => lock.release(c)),
    };
    const a = candidate(view, 's1');
    a.leadership.start();
    await jest.advanceTimersByTimeAsync(5);
    const claim = a.leadership.claim;
    slow = true;
    await jest.advanceTimersByTimeAsync(3_500);
    expect(a.leadership.leading).toBe(false);
    expect(a.log[1]).toMatch(/could not renew the leader lock within its TTL/);
    slow = false;
    held.splice(0).forEach((answer) => answer());
    await jest.advanceTimersByTimeAsync(1_100);
    expect(a.leadership.leading).toBe(true);
    expect(a.leadership.claim).toBe(claim); // the same claim: there was no new election
    expect(a.log).toHaveLength(3);
    expect(a.log[2]).toMatch(/^elected/);
  });

  it('gives the lock up on stop, so a follower takes over without waiting for the TTL', async () => {
    const lock = new MemoryLock();
    const a = candidate(lock, 's1', 9_000);
    const b = candidate(lock, 's2', 9_000);
    a.leadership.start();
    await jest.advanceTimersByTimeAsync(5);
    b.leadership.start();
    await jest.advanceTimersByTimeAsync(1_000);
    const stoppedAt = Date.now();
    await a.leadership.stop();
    await jest.advanceTimersByTimeAsync(3_100);
    expect(b.leadership.leading).toBe(true);
    expect(Number(b.log[0].split(' ')[1]) - stoppedAt).toBeLessThanOrEqual(3_000 + 20);
  });

  it('is deposed at once when the store says the lock is no longer its own, and campaigns again with a new claim', async () => {
    const lock = new MemoryLock();
    const a = candidate(lock, 's1');
    a.leadership.start();
    await jest.advanceTimersByTimeAsync(5);
    const claim = a.leadership.claim;
    lock.holder = { claim: '{"name":"intruder","id":"x"}', until: Date.now() + 3_000 };
    a.leadership.lost('a fenced write found another claim');
    expect(a.leadership.leading).toBe(false);
    expect(a.leadership.claim).not.toBe(claim);
    expect(a.log[1]).toMatch(/deposed \d+: a fenced write found another claim/);
    await jest.advanceTimersByTimeAsync(3_100);
    expect(a.leadership.leading).toBe(true); // the intruder's lock expired
    expect(lock.holder!.claim).toBe(a.leadership.claim);
  });
});
