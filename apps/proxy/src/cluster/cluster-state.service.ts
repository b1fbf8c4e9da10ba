import { Backend, BufferPool, checkBackendFiles, ReplayGate } from '@app/backend';
import { type ClusterConfig, ConfigProvider, ConfigValidationError } from '@app/config';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { type Observable, Subject, type Subscription } from 'rxjs';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { PROXY_OPTIONS } from '../proxy-options.token';
import type { ProxyOptions } from '../cli/proxy-options';
import { JobWatch } from '../jobs/job-watch.service';
import { Topology } from './topology';

/**
 * Holds the current Topology and swaps it when the ConfigProvider reports a new config. Unchanged
 * backends are carried over (their batches and connections live on); removed or changed ones are
 * drained in the background: their buffered writes are still sent, never dropped.
 */
@Injectable()
export class ClusterStateService implements OnApplicationShutdown {
  private readonly logger = new Logger(ClusterStateService.name);
  private current?: Topology;
  private subscription?: Subscription;
  private readonly changed = new Subject<Topology>();
  /**
   * Each topology applied after start(), as it takes over (a reload, or a config the store pushed);
   * completes on shutdown. Who adapts to a new config subscribes here instead of polling `topology`.
   */
  readonly changes: Observable<Topology> = this.changed.asObservable();

  constructor(
    private readonly provider: ConfigProvider,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
    private readonly pool: BufferPool,
    private readonly metrics: ProxyMetrics,
    /** Whether a backlog may be replayed now (the sentinel's replay slots). */
    private readonly replayGate: ReplayGate,
    /** The data-movement jobs: a rebalance under way changes the routes. */
    private readonly jobs: JobWatch,
  ) {}

  /** Loads the first config; fails (start-up error) when it is invalid or names no such node. */
  async start(): Promise<Topology> {
    const config = await this.provider.load();
    await this.jobs.refresh();
    this.current = await this.build(config);
    this.subscription = this.provider.watch().subscribe((next) => {
      this.apply(next).catch(() => {
        // apply() has logged why; the last good config stays
      });
    });
    this.subscription.add(
      this.jobs.rebalanceChanges.subscribe(() => {
        // the same config, routed as the rebalance now asks (a config change re-reads the jobs itself)
        if (this.current) this.apply(this.current.config, 'jobs').catch(() => undefined);
      }),
    );
    return this.current;
  }

  get topology(): Topology {
    if (!this.current) throw new Error('cluster state used before start()');
    return this.current;
  }

  /**
   * Applies a new config, or throws ConfigValidationError and keeps the current one. The jobs are read
   * first: new keymaps that a rebalance follows are applied with its routes (`why` 'jobs': the jobs
   * changed, not the config).
   */
  async apply(config: ClusterConfig, why: 'config' | 'jobs' = 'config'): Promise<Topology> {
    let next: Topology;
    try {
      if (why === 'config') await this.jobs.refresh();
      next = await this.build(config);
    } catch (err) {
      if (why === 'jobs') {
        this.logger.error(`could not re-route for the rebalance: ${(err as Error).message}`);
        throw err;
      }
      this.metrics.configReloadFailures.inc();
      this.logger.error(`config refused, keeping the last good one: ${(err as Error).message}`);
      throw err;
    }
    if (why === 'config') this.metrics.configReloads.inc();
    const previous = this.current;
    this.current = next;
    if (previous) this.retire(previous, next);
    this.logger.log(
      `${why === 'config' ? 'config applied' : 'routes rebuilt'}: ${next.backends.length} backends, ${Object.keys(config.keymaps).length} keymaps${next.routingBefore ? ' (rebalance under way: writes to old and new owners, queries to the old)' : ''}`,
    );
    this.changed.next(next);
    return next;
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscription?.unsubscribe();
    this.changed.complete();
    await this.provider.close();
    if (this.current) await Promise.all(this.current.backends.map((b) => b.drain()));
  }

  private async build(config: ClusterConfig): Promise<Topology> {
    const node = config.proxies[this.options.node];
    if (!node) {
      throw new ConfigValidationError(`proxies.${this.options.node}: no such proxy in the config (--node)`);
    }
    if (this.current && node.listenAddr !== this.current.node.listenAddr) {
      throw new ConfigValidationError(`proxies.${this.options.node}.listenAddr: cannot change while running (restart the proxy)`);
    }
    checkBackendFiles(config.backends); // an unreadable caFile refuses the config before any backend is built
    const current = new Map(this.current?.backends.map((b) => [b.name, b]));
    const chosen = new Map<string, Backend>();
    const added: Backend[] = [];
    const changed: { old: Backend; next: Backend }[] = [];
    for (const [name, cfg] of Object.entries(config.backends)) {
      const old = current.get(name);
      if (old && JSON.stringify(old.config) === JSON.stringify(cfg)) {
        chosen.set(name, old);
        continue;
      }
      const next = new Backend(name, cfg, this.pool, this.metrics.forBackend(name), this.replayGate);
      chosen.set(name, next);
      if (old) changed.push({ old, next });
      else added.push(next);
    }
    // New names first: when one cannot start (its spool dir), the config is refused with nothing
    // handed over yet, and the ones that did start are closed again.
    const starts = await Promise.allSettled(added.map((b) => b.start(this.spoolDirOf(b.name))));
    const failed = starts.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      await Promise.all(added.filter((_b, i) => starts[i].status === 'fulfilled').map((b) => b.drain().catch(() => undefined)));
      const { name } = added[failed];
      const reason = (starts[failed] as PromiseRejectedResult).reason as Error;
      throw new ConfigValidationError(`backends.${name}: cannot open its spool ${this.spoolDirOf(name)}: ${reason?.message ?? reason}`);
    }
    // A changed backend keeps its name and so its spool directory: the old one lets go of it first,
    // and hands the writes that arrive meanwhile to its replacement once that has started.
    await Promise.all(
      changed.map(({ old, next }) =>
        old.handOver(async () => {
          await next.start(this.spoolDirOf(next.name));
          return next;
        }),
      ),
    );
    const backends = [...chosen.values()];
    // a buffered proxy lets a backend's batches gather for its `interval`; a durable 204 cannot wait
    for (const b of backends) b.batcher.linger = node.ackMode === 'buffered' ? (b.config.interval ?? 0) : 0;
    return new Topology(config, node, backends, this.jobs.routingBefore);
  }

  private spoolDirOf(name: string): string {
    return join(this.options.spoolDir, encodeURIComponent(name));
  }

  private retire(previous: Topology, next: Topology): void {
    const kept = new Set(next.backends);
    for (const b of previous.backends) {
      if (kept.has(b)) continue;
      if (next.byName.has(b.name)) continue; // changed: drained in build()
      this.logger.log(`backend ${b.name} removed: draining it`);
      b.drain().catch((err) => this.logger.error(`draining backend ${b.name} failed: ${err}`));
    }
  }
}
