import { type CampaignListener, campaignId } from './sentinel-store';

/** A lock with a TTL in some store; every operation is atomic there (Redis: one Lua script each). */
export interface LeaderLock {
  /** Takes the lock for `ttlMs` if nobody holds it; otherwise says how long the holder's lease still runs. */
  acquire(claim: string, ttlMs: number): Promise<{ acquired: true } | { acquired: false; remainingMs: number }>;
  /** Extends the lock to `ttlMs` from now if and only if `claim` still holds it (check-and-extend). */
  extend(claim: string, ttlMs: number): Promise<boolean>;
  /** Deletes the lock if and only if `claim` holds it. */
  release(claim: string): Promise<void>;
}

/**
 * Leadership over a lock with a TTL. Followers try to take it (again as soon as the holder's TTL runs
 * out); the leader renews it every ttl/3 and nobody else can. The leader counts itself leading only
 * until `ttl` after the start of its last successful renewal: a leader that cannot reach the store
 * stops leading by itself before the lock can expire there and another sentinel take it. It keeps
 * trying to renew: if the store still holds its claim (nobody else can have taken the lock), it leads
 * again; if not, it campaigns with a new claim like any follower.
 */
export class LockLeadership {
  private claimText: string;
  /** Our claim may still be in the lock. */
  private holding = false;
  /** Holding, but unconfirmed for a whole TTL: not leading until a renewal succeeds. */
  private suspended = false;
  /** Local time until which the last successful take or renewal guarantees the lock. */
  private validUntil = 0;
  private running = false;
  private timer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
  private round?: Promise<void>;

  constructor(
    private readonly lock: LeaderLock,
    private readonly name: string,
    private readonly ttlMs: number,
    private readonly listener: CampaignListener,
    private readonly now: () => number = Date.now,
  ) {
    this.claimText = this.newClaim();
  }

  /** The value stored in the lock while this process holds it: the fence of every publication. */
  get claim(): string {
    return this.claimText;
  }

  get leading(): boolean {
    return this.holding && this.now() < this.validUntil;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Called when the store says the lock is no longer ours (e.g. a fenced write found another claim). */
  lost(reason: string): void {
    if (!this.holding) return;
    const told = this.suspended;
    this.holding = false;
    this.suspended = false;
    clearTimeout(this.deadline);
    this.claimText = this.newClaim(); // the old claim is dead for good
    if (!told) this.listener.deposed(reason);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    await this.round;
    if (!this.holding) return;
    this.holding = false;
    await this.lock.release(this.claimText);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.round = this.step().finally(() => {
        this.round = undefined;
      });
    }, ms);
    this.timer.unref?.();
  }

  private async step(): Promise<void> {
    const started = this.now();
    const every = Math.max(50, Math.floor(this.ttlMs / 3));
    let next = every;
    if (this.holding) {
      let kept: boolean | undefined;
      try {
        kept = await this.lock.extend(this.claimText, this.ttlMs);
      } catch {
        kept = undefined; // no answer: still leading until validUntil, then the deadline deposes
      }
      if (kept === true) {
        this.confirm(started);
        if (this.suspended) {
          this.suspended = false; // the store still held our claim: nobody else led meanwhile
          if (this.running) this.listener.elected();
        }
      } else if (kept === false) this.lost('the leader lock is held by another sentinel');
    } else {
      try {
        const result = await this.lock.acquire(this.claimText, this.ttlMs);
        if (result.acquired) {
          this.holding = true;
          this.confirm(started);
          if (this.running) this.listener.elected();
        } else {
          // try again as soon as the holder's TTL runs out (it renews before that if it is alive)
          next = Math.min(every, Math.max(10, result.remainingMs + 10));
        }
      } catch {
        /* the store did not answer: try again next round */
      }
    }
    this.schedule(Math.max(0, next - (this.now() - started)));
  }

  private confirm(started: number): void {
    this.validUntil = started + this.ttlMs;
    clearTimeout(this.deadline);
    this.deadline = setTimeout(
      () => {
        if (!this.holding || this.suspended || this.now() < this.validUntil) return;
        this.suspended = true;
        this.listener.deposed(`could not renew the leader lock within its TTL (${this.ttlMs} ms)`);
      },
      Math.max(0, this.validUntil - this.now()),
    );
    this.deadline.unref?.();
  }

  private newClaim(): string {
    return JSON.stringify({ name: this.name, id: campaignId() });
  }
}
