import { Backend } from '@app/backend';
import type { ClusterConfig, ProxyNodeConfig } from '@app/config';
import { unescapeMeasurement } from '@app/line-protocol';
import { MeasurementRouter } from '@app/router';
import { RebalanceRouter } from '../jobs/rebalance-router';

/**
 * One consistent view of the cluster for this proxy: its node config, the backends and the router
 * built over them. Replaced whole on a config change, so a request sees one topology from start to end.
 */
export class Topology {
  readonly backends: readonly Backend[];
  readonly byName: ReadonlyMap<string, number>;
  /** Writes route with routeRaw, queries with routeByName (they differ while a rebalance moves data). */
  readonly router: Pick<MeasurementRouter, 'routeRaw' | 'routeByName'>;

  /**
   * `keymapsBefore`: the keymaps before the change an unfinished rebalance job is following (from the
   * job store); while it runs, writes go to old and new owners and queries to the old ones.
   */
  constructor(
    readonly config: ClusterConfig,
    readonly node: ProxyNodeConfig,
    backends: Backend[],
    readonly keymapsBefore?: Readonly<Record<string, readonly string[]>>,
  ) {
    this.backends = backends;
    this.byName = new Map(backends.map((b, i) => [b.name, i]));
    this.router = keymapsBefore
      ? new RebalanceRouter(config.keymaps, keymapsBefore, this.byName, unescapeMeasurement)
      : new MeasurementRouter(config.keymaps, this.byName, unescapeMeasurement);
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
