import { type DynamicModule, Module } from '@nestjs/common';
import { METRICS_OPTIONS, type MetricsOptions } from './metrics.options';
import { ProxyMetrics } from './proxy-metrics';

/**
 * The proxy's Prometheus registry and counters (ProxyMetrics). Global, so that every part of the app
 * that counts something can inject it; GET /metrics is served by MetricsController in the admin module,
 * which also sees the cluster's backends.
 */
@Module({})
export class MetricsModule {
  static forRoot(options: MetricsOptions = {}): DynamicModule {
    return {
      module: MetricsModule,
      global: true,
      providers: [{ provide: METRICS_OPTIONS, useValue: options }, ProxyMetrics],
      exports: [ProxyMetrics],
    };
  }
}
