import { FailureLimiter } from './failure-limiter';

describe('FailureLimiter', () => {
  const limits = { burst: 2, perMinute: 30 };

  it('allows a burst of failures, then one per 60/perMinute seconds', () => {
    let now = 0;
    const limiter = new FailureLimiter(() => now);
    expect(limiter.exhausted('a', limits)).toBe(false);
    limiter.failed('a', limits);
    limiter.failed('a', limits);
    expect(limiter.exhausted('a', limits)).toBe(true);
    expect(limiter.exhausted('b', limits)).toBe(false);
    now += 1_999;
    expect(limiter.exhausted('a', limits)).toBe(true);
    now += 1;
    expect(limiter.exhausted('a', limits)).toBe(false);
  });

  it('books no more pending checks than the address has failures left', () => {
    const limiter = new FailureLimiter(() => 0);
    expect(limiter.reserve('a', limits)).toBe(true);
    expect(limiter.reserve('a', limits)).toBe(true);
    expect(limiter.reserve('a', limits)).toBe(false);
    limiter.settle('a', limits);
    expect(limiter.reserve('a', limits)).toBe(true);
  });

  it('forgets an address whose checks succeeded (its bucket is full again)', () => {
    const limiter = new FailureLimiter(() => 0);
    limiter.reserve('a', limits);
    limiter.settle('a', limits);
    expect(limiter.size).toBe(0);
    limiter.reserve('b', limits);
    limiter.failed('b', limits);
    limiter.settle('b', limits);
    expect(limiter.size).toBe(1);
  });
});
