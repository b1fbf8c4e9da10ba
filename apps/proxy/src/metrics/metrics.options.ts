/** Options of MetricsModule.forRoot. */
export interface MetricsOptions {
  /** Also collect prom-client's process and Node.js metrics (event-loop lag, heap, RSS…); default true. */
  defaultMetrics?: boolean;
}

/** Injection token of the MetricsOptions. */
export const METRICS_OPTIONS = Symbol('METRICS_OPTIONS');
