import { Controller, Get, Header } from '@nestjs/common';
import { Registry } from 'prom-client';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { groupChannel } from '../workers/group-channel';
import { aggregateWorkerMetrics, type WorkerMetricsJson } from '../workers/group-metrics';
import { ProxyMetrics } from './proxy-metrics';

/** The group question whose answer is a worker's metrics (prom-client's JSON form). */
const METRICS_QUESTION = 'metrics';

/**
 * GET /metrics: the Prometheus text format; per-backend gauges are read from the backends at scrape time.
 * With `--workers N`, any worker answers for the whole proxy: every worker's registry is read (over the
 * supervisor) and merged by prom-client's AggregatorRegistry (counters and histograms summed; gauges as
 * group-metrics.ts says).
 */
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly cluster: ClusterStateService,
  ) {
    groupChannel.answer(METRICS_QUESTION, () => {
      this.metrics.observeBackends(this.cluster.topology.backends);
      return this.metrics.registry.getMetricsAsJSON();
    });
  }

  @Get('metrics')
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  async scrape(): Promise<string> {
    if (!groupChannel.inGroup) return this.metrics.render(this.cluster.topology.backends);
    const answers = await groupChannel.gather<WorkerMetricsJson>(METRICS_QUESTION);
    return aggregateWorkerMetrics(answers.map((a) => a.value));
  }
}
