import { MemberHeartbeat, MembershipStore, type ProxyMember } from '@app/cluster-store';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
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
 * Registers this proxy in the config store: a record with a TTL (`--membership-ttl`), written once the
 * proxy listens (main calls start(): a second proxy under the same --node whose port is taken writes,
 * and so deletes, nothing), refreshed every ttl/3 and at once when a backlog appears or empties, and
 * deleted on a graceful stop (Nest's onModuleDestroy runs on app.close(), before the store connection
 * is closed). /meta lists every live record, this proxy's own with its backlog as it is now.
 */
@Injectable()
export class MembershipService implements OnModuleDestroy {
  private readonly startedAt = Date.now();
  private readonly heartbeat: MemberHeartbeat<ProxyMember>;
  private requests?: Subscription;

  constructor(
    private readonly store: MembershipStore,
    private readonly cluster: ClusterStateService,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
    private readonly sentinel: SentinelViewService,
  ) {
    this.heartbeat = new MemberHeartbeat(store, options.node, options.membershipTtl, () => this.self(), new Logger(MembershipService.name));
  }

  get ttl(): number {
    return this.options.membershipTtl;
  }

  get scope(): 'store' | 'process' {
    return this.store.scope;
  }

  /** Writes the first record and keeps it alive; called once the listener is bound. */
  async start(): Promise<void> {
    // a released replay slot, a new backlog or failing writes: the leading sentinel should know at once
    this.requests = this.sentinel.beatRequests.subscribe(() => this.heartbeat.request());
    await this.heartbeat.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.requests?.unsubscribe();
    await this.heartbeat.stop();
  }

  /**
   * Live records (the last list read, with the error, when the store does not answer). This proxy's
   * own shows its backlog and failing writes as they are now, not as of its last heartbeat.
   */
  async members(): Promise<{ members: ProxyMember[]; error?: string }> {
    const read = await this.heartbeat.members();
    const i = read.members.findIndex((m) => m.name === this.options.node);
    if (i < 0) return read;
    const { backlog, failing } = this.self();
    const members = read.members.slice();
    members[i] = { ...members[i], backlog, failing };
    return { ...read, members };
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
      // while it reports failing writes, the feed rewrites this record that often (the sentinel counts a report only while fresh)
      ...(Object.keys(failing).length > 0 ? { reportEveryMs: this.sentinel.reportEveryMs(this.ttl) } : {}),
    };
  }
}
