import { Backend } from '@app/backend';
import type { ClusterConfig, ProxyNodeConfig } from '@app/config';
import { unescapeMeasurement } from '@app/line-protocol';
import { DatabaseRouters, type Router, type RoutingConfig } from '@app/router';

/**
 * One consistent view of the cluster for this proxy: its node config, the backends and the router
 * built over them. Replaced whole on a config change, so a request sees one topology from start to end.
 */
export class Topology {
  readonly backends: readonly Backend[];
  readonly byName: ReadonlyMap<string, number>;
  /** The single-database router (writes route with routeRaw/writeRouteByName, queries with routeByName). */
  readonly router: Router;
  /** Routers per client database (a proxy with `databases`); `router` is the single-database one. */
  readonly routers: DatabaseRouters;

  /**
   * `routingBefore`: the routing before the change an unfinished rebalance job is following (from the
   * job store); while it runs, writes go to old and new owners and queries to the old ones.
   */
  constructor(
    readonly config: ClusterConfig,
    readonly node: ProxyNodeConfig,
    backends: Backend[],
    readonly routingBefore?: RoutingConfig,
  ) {
    this.backends = backends;
    this.byName = new Map(backends.map((b, i) => [b.name, i]));
    this.routers = new DatabaseRouters(config, node, this.byName, unescapeMeasurement, routingBefore);
    this.router = this.routers.single;
  }

  /** The version a healthy backend last answered with (what /ping and every response report). */
  get version(): string {
    let fallback: string | undefined;
    for (const b of this.backends) {
      const v = b.version;
      if (!v) continue;
      if (b.isHealthy) return v;
      fallback ??= v;
    }
    return fallback ?? 'unknown';
  }
}
