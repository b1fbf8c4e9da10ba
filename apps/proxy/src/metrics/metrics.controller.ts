import { Controller, Get, Header } from '@nestjs/common';
import { Registry } from 'prom-client';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { ProxyMetrics } from './proxy-metrics';

/** GET /metrics: the Prometheus text format; per-backend gauges are read from the backends at scrape time. */
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly cluster: ClusterStateService,
  ) {}

  @Get('metrics')
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.render(this.cluster.topology.backends);
  }
}
