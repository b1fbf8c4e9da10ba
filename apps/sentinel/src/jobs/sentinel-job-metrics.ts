import { JobMetrics } from '@app/data-movement/job-runner-metrics';
import { Registry } from 'prom-client';

/** The sentinel's Prometheus registry (GET /metrics): the data-movement jobs. */
export class SentinelJobMetrics extends JobMetrics {
  readonly registry: Registry;

  constructor() {
    const registry = new Registry();
    super(registry, 'influxdb_sentinel_');
    this.registry = registry;
  }
}
