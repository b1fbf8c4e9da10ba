/** How many failed password checks one client address may make (a token bucket). */
export interface FailureLimits {
  /** Failures allowed in a burst (the bucket's size). */
  readonly burst: number;
  /** How fast failures are allowed again, per minute (the bucket's refill rate). */
  readonly perMinute: number;
}

interface Bucket {
  /** Failures this address may still make (fractional while refilling). */
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
  /** Password checks of this address queued or running now. */
  pending: number;
}

/** Addresses remembered at most; past it, settled buckets are forgotten first (they start full again). */
const MAX_ADDRESSES = 10_000;

/**
 * Per client address, a token bucket of failed password checks. A failure takes a token; an address
 * without a whole token is refused at once (no scrypt work is spent on it) until the bucket refills.
 * An address also cannot have more checks pending than it has tokens, so a thousand guesses sent at
 * once cost at most `burst` checks, not a thousand. Successes take nothing: a client whose password
 * is right is never slowed down by this.
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** True when `address` has used up its failures: refuse without checking. */
  exhausted(address: string, limits: FailureLimits): boolean {
    const bucket = this.buckets.get(address);
    return bucket !== undefined && this.refill(bucket, limits) < 1;
  }

  /**
   * Books one check for `address`; false when it already has as many pending as it may fail (the
   * caller sheds the request). Every true must be followed by one settle().
   */
  reserve(address: string, limits: FailureLimits): boolean {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      this.makeRoom();
      bucket = { tokens: limits.burst, at: this.now(), pending: 0 };
      this.buckets.set(address, bucket);
    }
    if (bucket.pending >= Math.floor(this.refill(bucket, limits))) return false;
    bucket.pending++;
    return true;
  }

  /** A reserved check is over. */
  settle(address: string, limits: FailureLimits): void {
    const bucket = this.buckets.get(address);
    if (!bucket) return;
    bucket.pending--;
    this.forgetIfFull(address, bucket, limits);
  }

  /** A check for `address` failed: it takes a token. */
  failed(address: string, limits: FailureLimits): void {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      this.makeRoom();
      bucket = { tokens: limits.burst, at: this.now(), pending: 0 };
      this.buckets.set(address, bucket);
    }
    bucket.tokens = Math.max(0, this.refill(bucket, limits) - 1);
  }

  /** Addresses with a bucket not yet full (for tests and /metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(bucket: Bucket, limits: FailureLimits): number {
    const now = this.now();
    const burst = limits.burst;
    if (bucket.tokens < burst) bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * limits.perMinute) / 60_000);
    else if (bucket.tokens > burst) bucket.tokens = burst; // a smaller burst from a reloaded config
    bucket.at = now;
    return bucket.tokens;
  }

  private forgetIfFull(address: string, bucket: Bucket, limits: FailureLimits): void {
    if (bucket.pending === 0 && this.refill(bucket, limits) >= limits.burst) this.buckets.delete(address);
  }

  /** Keeps the map bounded: forgets idle buckets, oldest first (a forgotten bucket starts full again). */
  private makeRoom(): void {
    if (this.buckets.size < MAX_ADDRESSES) return;
    for (const [address, bucket] of this.buckets) {
      if (bucket.pending === 0) this.buckets.delete(address);
      if (this.buckets.size < MAX_ADDRESSES * 0.9) return;
    }
  }
}
