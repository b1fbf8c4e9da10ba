import type { ContextLogger } from '@app/logging';
import { withTimeout } from './store-errors';

/** Where member records live: the proxies' MembershipStore or the sentinels' SentinelStore. */
export interface MemberRecords<M> {
  heartbeat(member: M): Promise<void>;
  leave(name: string): Promise<void>;
  members(): Promise<M[]>;
}

/**
 * A member record kept alive in the store (the proxy's and the sentinel's): written at start, every
 * ttl/3 and whenever asked (one asked for while another is on its way follows it: it may carry newer
 * news), deleted on a graceful stop. A failing store is logged once until a heartbeat goes through.
 */
export class MemberHeartbeat<M> {
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private again = false;
  private running = false;
  private lastKnown: M[] = [];
  /** The last heartbeat's error, while the store does not take them. */
  failing?: string;

  constructor(
    private readonly records: MemberRecords<M>,
    private readonly name: string,
    private readonly ttlSeconds: number,
    /** This member's record as of now. */
    private readonly record: () => M,
    private readonly logger: ContextLogger,
  ) {}

  /** Writes the first record, then keeps it alive. */
  async start(): Promise<void> {
    this.running = true;
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(200, (this.ttlSeconds * 1000) / 3));
    this.timer.unref();
  }

  /** A heartbeat now (or right after the one on its way). */
  request(): void {
    void this.beat();
  }

  /** Stops the heartbeats and deletes the record (it would expire after its TTL anyway). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    await this.beating;
    try {
      await withTimeout(this.records.leave(this.name), 2_000, 'no answer within 2 s');
      this.logger.log(`left the membership of the config store`);
    } catch (err) {
      this.logger.warn(
        `could not remove the membership record of ${this.name} (it expires in ${this.ttlSeconds} s): ${(err as Error).message}`,
      );
    }
  }

  /** Live records (the last list read, with the error, when the store does not answer). */
  async members(): Promise<{ members: M[]; error?: string }> {
    try {
      this.lastKnown = await withTimeout(this.records.members(), 2_000, 'no answer within 2 s');
      return { members: this.lastKnown };
    } catch (err) {
      return { members: this.lastKnown, error: (err as Error).message };
    }
  }

  private beat(): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (this.beating) {
      this.again = true;
      return this.beating;
    }
    this.beating = this.beatOnce().finally(() => {
      this.beating = undefined;
      if (this.again) {
        this.again = false;
        void this.beat();
      }
    });
    return this.beating;
  }

  private async beatOnce(): Promise<void> {
    try {
      await withTimeout(this.records.heartbeat(this.record()), 5_000, 'no answer within 5 s');
      if (this.failing) this.logger.log('membership heartbeat written again');
      this.failing = undefined;
    } catch (err) {
      if (!this.failing)
        this.logger.warn(`membership heartbeat failed (retrying every ${this.ttlSeconds / 3} s): ${(err as Error).message}`);
      this.failing = (err as Error).message;
    }
  }
}
