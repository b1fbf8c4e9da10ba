import { MemberHeartbeat, MembershipStore, type ProxyMember } from '@app/cluster-store';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { PROJECT_ROOT, type ProxyOptions } from '../cli/proxy-options';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { SentinelViewService } from '../sentinel/sentinel-view.service';
import type { WriteStats } from '../metrics/proxy-metrics';
import { groupChannel } from '../workers/group-channel';
import {
  MEMBER_BEAT_QUESTION,
  MEMBER_PART_QUESTION,
  mergeMemberParts,
  type WorkerMemberPart,
  type WorkerMetaPart,
} from '../workers/group-meta';
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
 *
 * With `--workers N` the proxy is still ONE member: worker 0 alone writes the record, with what every
 * worker reports (backlogs summed, failing writes, slots: group-meta.ts), gathered every second and
 * at once when any worker asks for a heartbeat; the other workers only read.
 */
@Injectable()
export class MembershipService implements OnModuleDestroy {
  private readonly startedAt = Date.now();
  private readonly heartbeat: MemberHeartbeat<ProxyMember>;
  private requests?: Subscription;
  /** Whether this is a worker of a group whose record other proxies and sentinels read (a Redis or etcd store). */
  private readonly shared: boolean;
  /** Whether this process writes the record: a single process, worker 0 of a group, or any worker with a store of its own. */
  private readonly writer: boolean;
  /** The group's merged parts (worker 0 of a group only), and their refresh timer. */
  private group?: WorkerMemberPart;
  private groupTimer?: NodeJS.Timeout;
  private groupKey = '';

  constructor(
    private readonly store: MembershipStore,
    private readonly cluster: ClusterStateService,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
    private readonly sentinel: SentinelViewService,
  ) {
    this.shared = groupChannel.inGroup && store.scope === 'store';
    this.writer = !this.shared || groupChannel.slot === 0;
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
    this.requests = this.sentinel.beatRequests.subscribe(() => this.beatNow());
    // a store of this process only (the file config's): nobody else reads it, each worker keeps its own
    if (!this.shared) return this.heartbeat.start();
    groupChannel.answer(MEMBER_PART_QUESTION, (): WorkerMemberPart => this.ownPart());
    groupChannel.answer(MEMBER_BEAT_QUESTION, () => {
      if (this.writer && this.groupTimer) void this.refreshGroup(true);
      return null;
    });
    if (!this.writer) return;
    await this.refreshGroup(false);
    this.groupTimer = setInterval(() => void this.refreshGroup(false), Math.min(1_000, (this.ttl * 1000) / 3));
    this.groupTimer.unref();
    await this.heartbeat.start();
  }

  /** A heartbeat now; in a group, worker 0 writes it, with every worker's news. */
  private beatNow(): void {
    if (!this.shared) return this.heartbeat.request();
    if (this.writer) void this.refreshGroup(true);
    else void groupChannel.gather(MEMBER_BEAT_QUESTION);
  }

  /** Reads every worker's part; beats when asked to, or when the news changed (a backlog appeared or emptied, a slot, a failure). */
  private async refreshGroup(beat: boolean): Promise<void> {
    const parts = await groupChannel.gather<WorkerMemberPart>(MEMBER_PART_QUESTION);
    const group = mergeMemberParts(parts.map((p) => p.value));
    const key = JSON.stringify([
      Object.entries(group.backlog).map(([name, b]) => [name, b.records > 0]),
      Object.keys(group.failing ?? {}),
      group.slots,
      group.released,
    ]);
    const changed = this.group !== undefined && key !== this.groupKey;
    this.group = group;
    this.groupKey = key;
    if (beat || changed) this.heartbeat.request();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.groupTimer);
    this.groupTimer = undefined;
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

  /** This process's part of its group's /meta (with --workers N, one worker's). */
  metaPart(writeStats: WriteStats): WorkerMetaPart {
    return { pid: process.pid, startedAt: this.startedAt, backlog: this.own().backlog, writeStats };
  }

  /** This process's part of its group's record. */
  private ownPart(): WorkerMemberPart {
    const { backlog, failing, slots, released } = this.own();
    return { backlog, failing, slots, released };
  }

  /** This proxy's record as of now (in a group's worker 0, with the group's news as last gathered). */
  self(): ProxyMember {
    const own = this.own();
    if (!this.group) return own;
    const failing = this.group.failing ?? {};
    return {
      ...own,
      ...this.group,
      ...(Object.keys(failing).length > 0 ? { reportEveryMs: this.sentinel.reportEveryMs(this.ttl) } : { reportEveryMs: undefined }),
    };
  }

  /** This process's own record as of now. */
  private own(): ProxyMember {
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
