import { type SentinelMember, SentinelStore, withTimeout } from '@app/config';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { hostname } from 'node:os';
import type { Subscription } from 'rxjs';
import { SENTINEL_VERSION, type SentinelOptions } from '../cli/sentinel-options';
import { SENTINEL_OPTIONS } from '../sentinel-options.token';
import { SentinelService } from '../sentinel.service';

/**
 * This sentinel's record in the store (name, address, whether it leads), refreshed every ttl/3 and at
 * once when its role changes, deleted on a graceful stop. Lists every live sentinel for /meta.
 */
@Injectable()
export class SentinelMembershipService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SentinelMembership');
  private readonly startedAt = Date.now();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private again = false;
  private running = false;
  private roles?: Subscription;
  private lastKnown: SentinelMember[] = [];
  /** The last heartbeat's error, while the store does not take them. */
  failing?: string;

  constructor(
    private readonly store: SentinelStore,
    private readonly sentinel: SentinelService,
    @Inject(SENTINEL_OPTIONS) private readonly options: SentinelOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.running = true;
    this.roles = this.sentinel.roleChanges.subscribe(() => void this.beat());
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(200, (this.options.membershipTtl * 1000) / 3));
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    this.roles?.unsubscribe();
    await this.beating;
    try {
      await withTimeout(this.store.leave(this.options.name), 2_000, 'no answer within 2 s');
    } catch (err) {
      this.logger.warn(`could not remove this sentinel's record (it expires in ${this.options.membershipTtl} s): ${(err as Error).message}`);
    }
  }

  /** Live records (the last list read, with the error, when the store does not answer). */
  async members(): Promise<{ members: SentinelMember[]; error?: string }> {
    try {
      this.lastKnown = await withTimeout(this.store.members(), 2_000, 'no answer within 2 s');
      return { members: this.lastKnown };
    } catch (err) {
      return { members: this.lastKnown, error: (err as Error).message };
    }
  }

  self(): SentinelMember {
    return {
      name: this.options.name,
      address: `${this.options.listen.host}:${this.options.listen.port}`,
      version: SENTINEL_VERSION,
      pid: process.pid,
      hostname: hostname(),
      startedAt: this.startedAt,
      lastHeartbeat: Date.now(),
      ttl: this.options.membershipTtl,
      leading: this.sentinel.leading,
    };
  }

  /** One heartbeat at a time; one asked for during another follows it (it may carry a new role). */
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
      await withTimeout(this.store.heartbeat(this.self()), 5_000, 'no answer within 5 s');
      if (this.failing) this.logger.log('heartbeat written again');
      this.failing = undefined;
    } catch (err) {
      if (!this.failing) this.logger.warn(`heartbeat failed (retrying): ${(err as Error).message}`);
      this.failing = (err as Error).message;
    }
  }
}
