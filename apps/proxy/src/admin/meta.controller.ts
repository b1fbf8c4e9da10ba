import { type ProxyMember } from '@app/cluster-store';
import { type BackendConfig, ConfigProvider } from '@app/config';
import { maskBackendPasswords, maskSecretKeys } from '@app/logging';
import { Controller, Get, Header, Inject } from '@nestjs/common';
import type { ProxyOptions } from '../cli/proxy-options';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { MembershipService } from '../cluster/membership.service';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { JobWatch } from '../jobs/job-watch.service';
import { jobsForMeta } from '@app/data-movement/job-runner-admin';
import { SentinelFeedService } from '../sentinel/sentinel-feed.service';
import { SentinelViewService } from '../sentinel/sentinel-view.service';
import { groupChannel } from '../workers/group-channel';
import { type WorkerMetaPart, groupMetaFields, META_PART_QUESTION } from '../workers/group-meta';

/**
 * GET /meta: the seed's document (config and backend status) plus what this proxy sees, and the
 * live membership of every proxy sharing the store, so monitoring can poll any one proxy.
 */
@Controller()
export class MetaController {
  constructor(
    private readonly cluster: ClusterStateService,
    private readonly provider: ConfigProvider,
    private readonly metrics: ProxyMetrics,
    private readonly membership: MembershipService,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
    private readonly sentinel: SentinelFeedService,
    private readonly view: SentinelViewService,
    private readonly jobWatch: JobWatch,
  ) {
    groupChannel.answer(META_PART_QUESTION, (): WorkerMetaPart => this.membership.metaPart(this.metrics.writeStats()));
  }

  @Get('meta')
  @Header('Cache-Control', 'no-store')
  async meta() {
    const [{ members, error }, sentinel, parts] = await Promise.all([
      this.membership.members(),
      this.sentinel.describe(),
      groupChannel.inGroup ? groupChannel.gather<WorkerMetaPart>(META_PART_QUESTION) : undefined,
    ]);
    // with --workers N, this proxy is its whole group: its backlog and write counts are every worker's summed
    const group = parts && groupMetaFields(parts);
    const listed = group ? members.map((m) => (m.name === this.options.node ? { ...m, backlog: group.backlog } : m)) : members;
    const topology = this.cluster.topology;
    const backends: Record<string, Omit<BackendConfig, 'password'> & { password?: string }> = {};
    const backendStatus: Record<string, boolean> = {};
    const backendDetail: Record<string, unknown> = {};
    for (const b of topology.backends) {
      backends[b.name] = maskBackendPasswords(b.config);
      backendStatus[b.name] = b.isHealthy;
      backendDetail[b.name] = { ...b.status(), batches: b.batcher.pending };
    }
    return {
      node: this.options.node,
      proxies: proxiesWithMembership(topology.config.proxies, listed),
      membership: { scope: this.membership.scope, ttl: this.membership.ttl, ...(error ? { error } : {}) },
      sentinel,
      /** Backends with replay backlog waiting (fleet-wide with a live sentinel, else this proxy's spools): no query goes to them while a caught-up replica can answer. */
      readBehind: this.view.readFence.describe(),
      /** Backends an unfinished `recover` job is refilling: read-behind too, whatever their backlog. */
      recovering: this.view.readFence.recoveringBackends(),
      /** Data-movement jobs as last read from the job store: every unfinished one and the last few finished. */
      jobs: jobsForMeta(this.jobWatch.jobs.jobs),
      ...(this.jobWatch.jobs.error ? { jobsError: this.jobWatch.jobs.error } : {}),
      backends,
      backendStatus,
      backendDetail,
      measurementToBackends: topology.config.keymaps,
      /** Databases, groups and hash keymaps (#17); the moves a new config would make: POST /admin/plan. */
      routing: {
        databases: topology.node.databases ?? (topology.node.db !== '' ? [topology.node.db] : '*'),
        multiDb: topology.routers.multiDb,
        groups: topology.config.groups ?? {},
        hashKeymaps: topology.config.hashKeymaps ?? {},
      },
      provider: this.provider.describe(),
      writeStats: group ? group.writeStats : this.metrics.writeStats(),
      ...(group ? { workers: group.workers } : {}),
      queryGuard: {
        maxSelectBuckets: topology.node.maxSelectBuckets,
        maxUnboundedRawSelect: topology.node.maxUnboundedRawSelect,
        forbiddenStatements: topology.node.forbiddenStatements,
        refusals: this.metrics.guardRefusals.byLabel(),
      },
    };
  }
}

/**
 * Each configured proxy with what its membership record says (alive, lastSeen, address, version,
 * backlog per backend); a live record whose name is not in the config is listed too (configured: false).
 */
function proxiesWithMembership(configured: Record<string, object>, members: ProxyMember[]) {
  const live = new Map(members.map((m) => [m.name, m]));
  const out: Record<string, object> = {};
  const view = (m: ProxyMember | undefined) => ({
    alive: m !== undefined,
    lastSeen: m?.lastHeartbeat ?? null,
    address: m?.address ?? null,
    version: m?.version ?? null,
    startedAt: m?.startedAt ?? null,
    hostname: m?.hostname ?? null,
    pid: m?.pid ?? null,
    backlog: m?.backlog ?? {},
  });
  for (const [name, config] of Object.entries(configured)) {
    out[name] = { ...maskSecretKeys(config), configured: true, ...view(live.get(name)) };
  }
  for (const m of members) {
    if (!(m.name in out)) out[m.name] = { zone: m.zone, configured: false, ...view(m) };
  }
  return out;
}
