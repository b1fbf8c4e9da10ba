import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { hostname } from 'node:os';
import type { ProxyOptions } from '../cli/proxy-options';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { WriteHandler } from '../write/write.handler';
import { buildSelfReport } from './self-report-lines';

/** How often a disabled self-report looks again at the (reloadable) config. */
const IDLE_CHECK_MS = 1000;

/**
 * The Go proxy's self-report: every `interval` seconds of the proxy's config (when `selfReport` is on),
 * the proxy's counters since the last report go as points to `selfReportMeasurement` through the
 * proxy's own write path — routed by the keymaps, batched, spooled when a backend is down — as if a
 * client had written them, but without HTTP. Config reloads take effect at the next tick.
 */
@Injectable()
export class SelfReportService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SelfReportService.name);
  private readonly host = hostname();
  private previous = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private warnedUnroutable = false;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly writer: WriteHandler,
    private readonly metrics: ProxyMetrics,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Writes one report now; resolves once every target backend took it (or it failed, which is logged). */
  async report(): Promise<void> {
    const topology = this.cluster.topology;
    const node = topology.node;
    const { body, totals } = buildSelfReport({
      measurement: node.selfReportMeasurement,
      tags: { proxy: this.options.node, host: this.host, addr: node.listenAddr },
      timestampNs: BigInt(Date.now()) * 1_000_000n,
      counters: await this.metrics.counterSamples(),
      previous: this.previous,
      backends: topology.backends.map((b) => ({ name: b.name, status: b.status() })),
    });
    this.previous = totals;
    const results = await this.writer.writeLocal(Buffer.from(body, 'utf8'));
    if (results.length === 0) {
      this.metrics.selfReports.labels('unroutable').inc();
      if (!this.warnedUnroutable) {
        this.warnedUnroutable = true;
        this.logger.warn(`self-report: no keymap (nor _default_) routes measurement "${node.selfReportMeasurement}"`);
      }
      return;
    }
    this.warnedUnroutable = false;
    const failed = results.filter((r) => r.outcome.kind !== 'ok');
    this.metrics.selfReports.labels(failed.length === 0 ? 'ok' : 'failed').inc();
    for (const f of failed) {
      const o = f.outcome;
      this.logger.warn(`self-report to backend ${f.backend} failed: ${'error' in o ? o.error : o.kind}`);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const node = this.enabledNode();
    const delay = node ? node.interval * 1000 : IDLE_CHECK_MS;
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      const run = this.enabledNode() ? this.report() : Promise.resolve();
      this.running = run
        .catch((err: unknown) => this.logger.error(`self-report failed: ${(err as Error)?.message ?? err}`))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, delay);
    this.timer.unref();
  }

  private enabledNode() {
    let node;
    try {
      node = this.cluster.topology.node;
    } catch {
      return undefined; // not started (yet)
    }
    return node.selfReport && node.interval > 0 ? node : undefined;
  }
}
