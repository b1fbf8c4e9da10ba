import { type BackendConfig, ConfigProvider, type ProxyMember } from '@app/config';
import { MASK, maskSecretKeys, maskUrlPassword } from '@app/logging';
import { Controller, Get, Header, Inject } from '@nestjs/common';
import type { ProxyOptions } from '../cli/proxy-options';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { MembershipService } from '../cluster/membership.service';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { QueryStats } from '../query/query-stats';
import { SentinelFeedService } from '../sentinel/sentinel-feed.service';
import { SentinelViewService } from '../sentinel/sentinel-view.service';
import { WriteStats } from '../write/write-stats';

/**
 * GET /meta: the seed's document (config and backend status) plus what this proxy sees, and the
 * live membership of every proxy sharing the store, so monitoring can poll any one proxy.
 */
@Controller()
export class MetaController {
  constructor(
    private readonly cluster: ClusterStateService,
    private readonly provider: ConfigProvider,
    private readonly stats: WriteStats,
    private readonly membership: MembershipService,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
    private readonly queryStats: QueryStats,
    private readonly sentinel: SentinelFeedService,
    private readonly view: SentinelViewService,
  ) {}

  @Get('meta')
  @Header('Cache-Control', 'no-store')
  async meta() {
    const [{ members, error }, sentinel] = await Promise.all([this.membership.members(), this.sentinel.describe()]);
    const topology = this.cluster.topology;
    const backends: Record<string, Omit<BackendConfig, 'password'> & { password?: string }> = {};
    const backendStatus: Record<string, boolean> = {};
    const backendDetail: Record<string, unknown> = {};
    for (const b of topology.backends) {
      backends[b.name] = maskBackend(b.config);
      backendStatus[b.name] = b.isHealthy;
      backendDetail[b.name] = { ...b.status(), batches: b.batcher.pending };
    }
    return {
      node: this.options.node,
      proxies: proxiesWithMembership(topology.config.proxies, members),
      membership: { scope: this.membership.scope, ttl: this.membership.ttl, ...(error ? { error } : {}) },
      sentinel,
      /** Backends with replay backlog waiting (fleet-wide with a live sentinel, else this proxy's spools): no query goes to them while a caught-up replica can answer. */
      readBehind: this.view.readFence.describe(),
      backends,
      backendStatus,
      backendDetail,
      measurementToBackends: topology.config.keymaps,
      provider: this.provider.describe(),
      writeStats: this.stats,
      queryGuard: {
        maxSelectBuckets: topology.node.maxSelectBuckets,
        maxUnboundedRawSelect: topology.node.maxUnboundedRawSelect,
        forbiddenStatements: topology.node.forbiddenStatements,
        refusals: this.queryStats.guardRefusals,
      },
    };
  }
}

/** A backend's config as shown: its password and the password in its URL masked. */
function maskBackend(config: BackendConfig): BackendConfig {
  const url = maskUrlPassword(config.url);
  if (config.password === undefined && url === config.url) return config;
  return { ...config, url, ...(config.password === undefined ? {} : { password: MASK }) };
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
