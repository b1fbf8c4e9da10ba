import { MembershipStore, type ProxyMember, withTimeout } from '@app/config';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { PROJECT_ROOT, type ProxyOptions } from '../cli/proxy-options';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { SentinelViewService } from '../sentinel/sentinel-view.service';
import { ClusterStateService } from './cluster-state.service';

/** influxdb-proxy's own version, as package.json says. */
export const PROXY_VERSION: string = (() => {
  try {
    return String(JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
})();

/**
 * Registers this proxy in the config store: a record with a TTL (`--membership-ttl`), refreshed
 * every ttl/3 once the app has started, and deleted on a graceful stop (Nest's onModuleDestroy runs
 * on app.close(), before the store connection is closed). /meta lists every live record.
 */
@Injectable()
export class MembershipService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(MembershipService.name);
  private readonly startedAt = Date.now();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private running = false;
  private failing = false;
  private lastKnown: ProxyMember[] = [];
  /** A heartbeat asked for while one was on its way: written right after it (it may carry newer news). */
  private again = false;
  private requests?: Subscription;

  constructor(
    private readonly store: MembershipStore,
    private readonly cluster: ClusterStateService,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
    private readonly sentinel: SentinelViewService,
  ) {}

  get ttl(): number {
    return this.options.membershipTtl;
  }

  get scope(): 'store' | 'process' {
    return this.store.scope;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.running = true;
    // a released replay slot, a new backlog or failing writes: the leading sentinel should know at once
    this.requests = this.sentinel.beatRequests.subscribe(() => {
      if (this.beating) this.again = true;
      else void this.beat();
    });
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(200, (this.ttl * 1000) / 3));
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    this.requests?.unsubscribe();
    await this.beating;
    try {
      await withTimeout(this.store.leave(this.options.node), 2_000, 'no answer within 2 s');
      this.logger.log(`left the membership of the config store`);
    } catch (err) {
      this.logger.warn(`could not remove this proxy's membership record (it expires in ${this.ttl} s): ${(err as Error).message}`);
    }
  }

  /** Live records (the last list read, with the error, when the store does not answer). */
  async members(): Promise<{ members: ProxyMember[]; error?: string }> {
    try {
      this.lastKnown = await withTimeout(this.store.members(), 2_000, 'no answer within 2 s');
      return { members: this.lastKnown };
    } catch (err) {
      return { members: this.lastKnown, error: (err as Error).message };
    }
  }

  /** This proxy's record as of now. */
  self(): ProxyMember {
    const topology = this.cluster.topology;
    const backlog: ProxyMember['backlog'] = {};
    const failing: NonNullable<ProxyMember['failing']> = {};
    for (const b of topology.backends) {
      const status = b.status();
      const { records, bytes, oldestAt } = status.spool;
      backlog[b.name] = { records, bytes, oldestAt };
      if (status.own?.writeFailed) failing[b.name] = { since: status.own.since, error: status.own.lastError ?? 'write failed' };
    }
    return {
      name: this.options.node,
      address: topology.node.listenAddr,
      version: PROXY_VERSION,
      zone: topology.node.zone,
      pid: process.pid,
      hostname: hostname(),
      startedAt: this.startedAt,
      lastHeartbeat: Date.now(),
      ttl: this.ttl,
      backlog,
      ...this.sentinel.memberFields(),
      failing,
    };
  }

  private beat(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.beating ??= this.beatOnce().finally(() => {
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
      if (this.failing) this.logger.log('membership heartbeat written again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn(`membership heartbeat failed (retrying every ${this.ttl / 3} s): ${(err as Error).message}`);
      this.failing = true;
    }
  }
}
