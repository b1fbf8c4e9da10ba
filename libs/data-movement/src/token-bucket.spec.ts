import { TokenBucket, sleep } from './token-bucket';

describe('TokenBucket', () => {
  it('holds the long-run rate within a percent, even with batches larger than a second’s worth', () => {
    let now = 0;
    const bucket = new TokenBucket(1_000, undefined, () => now);
    let sent = 0;
    // a taker that sends 5 000-point batches as soon as the bucket lets it
    while (now < 60_000) {
      now += bucket.reserve(5_000);
      sent += 5_000;
    }
    const rate = (sent - 5_000) / (now / 1000);
    expect(Math.abs(rate - 1_000) / 1_000).toBeLessThan(0.01);
  });

  it('lets a small batch go at once after an idle spell, but no more than the burst', () => {
    let now = 0;
    const bucket = new TokenBucket(1_000, 100, () => now);
    expect(bucket.reserve(50)).toBe(0);
    now += 10_000; // idle: the bucket refills to its burst only
    expect(bucket.reserve(100)).toBe(0);
    expect(bucket.reserve(100)).toBe(0); // overdraws
    expect(bucket.reserve(1)).toBeCloseTo(100, 5); // repays 100 points at 1 000/s
  });

  it('is unlimited at 0', async () => {
    const bucket = new TokenBucket(0);
    expect(bucket.unlimited).toBe(true);
    expect(bucket.reserve(1e9)).toBe(0);
    await bucket.take(1e9);
  });

  it('stops waiting when aborted, with the signal’s reason', async () => {
    const bucket = new TokenBucket(1);
    bucket.reserve(1_000);
    const abort = new AbortController();
    const waiting = bucket.take(1, abort.signal);
    abort.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    await expect(sleep(10, abort.signal)).rejects.toThrow('cancelled');
  });
});
