import { MemberHeartbeat, type SentinelMember, SentinelStore } from '@app/cluster-store';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { hostname } from 'node:os';
import type { Subscription } from 'rxjs';
import { SENTINEL_VERSION, type SentinelOptions } from '../cli/sentinel-options';
import { SENTINEL_OPTIONS } from '../sentinel-options.token';
import { SentinelService } from '../sentinel.service';

/**
 * This sentinel's record in the store (name, address, whether it leads), refreshed every ttl/3 and at
 * once when its role changes, deleted on a graceful stop. Lists every live sentinel for /meta.
 * Written only once the sentinel listens (main calls start()): a second sentinel started under the same
 * name whose port is taken never touches the running one's record.
 */
@Injectable()
export class SentinelMembershipService implements OnModuleDestroy {
  private readonly startedAt = Date.now();
  private readonly heartbeat: MemberHeartbeat<SentinelMember>;
  private roles?: Subscription;

  constructor(
    store: SentinelStore,
    private readonly sentinel: SentinelService,
    @Inject(SENTINEL_OPTIONS) private readonly options: SentinelOptions,
  ) {
    this.heartbeat = new MemberHeartbeat(store, options.name, options.membershipTtl, () => this.self(), new Logger('SentinelMembership'));
  }

  /** The last heartbeat's error, while the store does not take them. */
  get failing(): string | undefined {
    return this.heartbeat.failing;
  }

  /** Writes the first record and keeps it alive (after the listener is bound). */
  async start(): Promise<void> {
    this.roles = this.sentinel.roleChanges.subscribe(() => this.heartbeat.request()); // a new role: say so at once
    await this.heartbeat.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.roles?.unsubscribe();
    await this.heartbeat.stop();
  }

  /** Live records (the last list read, with the error, when the store does not answer). */
  members(): Promise<{ members: SentinelMember[]; error?: string }> {
    return this.heartbeat.members();
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
}
