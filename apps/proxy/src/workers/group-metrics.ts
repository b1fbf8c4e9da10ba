import { type Aggregator, AggregatorRegistry, type Registry } from 'prom-client';
import { METRIC } from '../metrics/proxy-metrics';

/**
 * How a gauge of several workers becomes the proxy's: prom-client sums by default, which is right for
 * backlogs, connections, spool caps (each worker has its own) and the process metrics, but not for
 * these. A backend is healthy for the proxy only while every worker sees it up; it refuses, and its
 * oldest spooled write is as old, as in the worst worker.
 */
const GAUGE_AGGREGATORS: Record<string, Aggregator> = {
  [METRIC.backendHealthy]: 'min',
  [METRIC.backendRefusing]: 'max',
  [METRIC.spoolOldestAgeSeconds]: 'max',
};

export type WorkerMetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The Prometheus text of the whole group from each worker's `registry.getMetricsAsJSON()`. */
export function aggregateWorkerMetrics(perWorker: WorkerMetricsJson[]): Promise<string> {
  const adjusted = perWorker.map((metrics) =>
    metrics.map((m) => (m.name in GAUGE_AGGREGATORS ? { ...m, aggregator: GAUGE_AGGREGATORS[m.name] } : m)),
  );
  return AggregatorRegistry.aggregate(adjusted).metrics();
}
