import type { Backend, BackendObserver, WriteOutcome } from '@app/backend';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { CounterCell, type HistogramCell, HotCounter, HotHistogram } from './hot-metrics';
import { METRICS_OPTIONS, type MetricsOptions } from './metrics.options';

/** The endpoints requests are counted by; anything else is `other`. */
export const ENDPOINTS = ['write', 'query', 'ping', 'health', 'metrics', 'meta', 'reload', 'other'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** Why lines were not delivered to a backend (the `reason` label of points_dropped_total). */
export type DropReason =
  /** The line could not be parsed (no backend label). */
  | 'unparsable'
  /** No keymap (nor `_default_`) names a backend for its measurement (no backend label). */
  | 'unroutable'
  /** The backend answered 4xx for the batch (final: influxd kept the good lines, the count is the batch's). */
  | 'rejected'
  /** The backend's spool had no room (or failed): the client got 503 and may retry. */
  | 'spool_full'
  /** The backend's spool disk failed (no space, I/O error): the client got 503 and may retry. */
  | 'spool_error'
  /** An operator dropped records the backend had refused on replay (POST /admin/rejected/drop). */
  | 'operator';

const PREFIX = 'influxdb_proxy_';
/** Batch sends on loopback take ~1–50 ms; slow or overloaded backends seconds. */
const FLUSH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The names of the proxy's own metrics. */
export const METRIC = {
  httpRequestsTotal: `${PREFIX}http_requests_total`,
  httpRequestDurationSeconds: `${PREFIX}http_request_duration_seconds`,
  pointsReceivedTotal: `${PREFIX}points_received_total`,
  pointsRoutedTotal: `${PREFIX}points_routed_total`,
  pointsWrittenTotal: `${PREFIX}points_written_total`,
  pointsSpooledTotal: `${PREFIX}points_spooled_total`,
  pointsDroppedTotal: `${PREFIX}points_dropped_total`,
  batchFlushDurationSeconds: `${PREFIX}batch_flush_duration_seconds`,
  batchesLostAfterAckTotal: `${PREFIX}batches_lost_after_ack_total`,
  replayedPointsTotal: `${PREFIX}replayed_points_total`,
  replayedRecordsTotal: `${PREFIX}replayed_records_total`,
  backendHealthy: `${PREFIX}backend_healthy`,
  spoolBacklogBytes: `${PREFIX}spool_backlog_bytes`,
  spoolBacklogRecords: `${PREFIX}spool_backlog_records`,
  spoolMaxBytes: `${PREFIX}spool_max_bytes`,
  spoolOldestAgeSeconds: `${PREFIX}spool_oldest_age_seconds`,
  pointsSetAsideTotal: `${PREFIX}points_set_aside_total`,
  rejectedRecords: `${PREFIX}rejected_records`,
  backendRefusing: `${PREFIX}backend_refusing`,
  queryFanoutsTotal: `${PREFIX}query_fanouts_total`,
  queryFanoutBackendRequestsTotal: `${PREFIX}query_fanout_backend_requests_total`,
  configReloadsTotal: `${PREFIX}config_reloads_total`,
  configReloadFailuresTotal: `${PREFIX}config_reload_failures_total`,
  queryGuardRefusalsTotal: `${PREFIX}query_guard_refusals_total`,
  selfReportsTotal: `${PREFIX}self_reports_total`,
  clientAbortedWritesTotal: `${PREFIX}client_aborted_writes_total`,
  rawFrontWritesTotal: `${PREFIX}raw_front_writes_total`,
  authChecksTotal: `${PREFIX}auth_checks_total`,
  clientConnections: `${PREFIX}client_connections`,
  clientConnectionsDroppedTotal: `${PREFIX}client_connections_dropped_total`,
  acceptErrorsTotal: `${PREFIX}accept_errors_total`,
} as const;

type CounterChild = CounterCell;
type HistogramChild = HistogramCell;

/**
 * One backend's pre-bound metric children. It is also the backend's observer: the hot path calls
 * inc()/observe() on children made once per backend name, never building a label object per batch.
 */
export class BackendMetrics implements BackendObserver {
  readonly routed: CounterChild;
  readonly written: CounterChild;
  readonly spooledPoints: CounterChild;
  readonly replayedPoints: CounterChild;
  readonly replayedRecords: CounterChild;
  readonly dropped: Record<'rejected' | 'spool_full' | 'spool_error' | 'operator', CounterChild>;
  readonly setAsidePoints: CounterChild;
  readonly lostAfterAck: CounterChild;
  readonly flush: HistogramChild;

  constructor(
    m: ProxyMetrics,
    readonly name: string,
  ) {
    this.routed = m.pointsRouted.labels(name);
    this.written = m.pointsWritten.labels(name);
    this.spooledPoints = m.pointsSpooled.labels(name);
    this.replayedPoints = m.replayedPoints.labels(name);
    this.replayedRecords = m.replayedRecords.labels(name);
    this.dropped = {
      rejected: m.pointsDropped.labels('rejected', name),
      spool_full: m.pointsDropped.labels('spool_full', name),
      spool_error: m.pointsDropped.labels('spool_error', name),
      operator: m.pointsDropped.labels('operator', name),
    };
    this.setAsidePoints = m.pointsSetAside.labels(name);
    this.lostAfterAck = m.batchesLostAfterAck.labels(name);
    this.flush = m.flushSeconds.labels(name);
  }

  batchSent(lines: number, seconds: number, outcome: WriteOutcome): void {
    this.flush.observe(seconds);
    if (outcome.kind === 'ok') this.written.inc(lines);
    else if (outcome.kind === 'rejected') this.dropped.rejected.inc(lines);
    // unavailable: the batch goes on to the spool, and is counted there (spooled or spool_full)
  }

  spooled(lines: number): void {
    this.spooledPoints.inc(lines);
  }

  spoolRefused(lines: number, why: 'full' | 'disk'): void {
    (why === 'full' ? this.dropped.spool_full : this.dropped.spool_error).inc(lines);
  }

  replayed(lines: number, outcome: WriteOutcome): void {
    this.replayedRecords.inc();
    if (outcome.kind === 'ok') {
      this.replayedPoints.inc(lines);
      this.written.inc(lines);
    }
  }

  setAside(lines: number): void {
    this.replayedRecords.inc();
    this.setAsidePoints.inc(lines);
  }

  rejectedDropped(lines: number): void {
    this.dropped.operator.inc(lines);
  }
}

/**
 * The proxy's Prometheus metrics, in one prom-client Registry (no global state: tests may build as
 * many as they like). Counters and histograms are hot-metrics cells, bumped where things happen for
 * the cost of an addition; the per-backend gauges (health, spool backlog) are read from the backends
 * when /metrics is scraped (observeBackends).
 */
@Injectable()
export class ProxyMetrics {
  readonly registry = new Registry();

  readonly requests = new HotCounter(
    METRIC.httpRequestsTotal,
    'HTTP requests answered, by endpoint and status (status "0": the client went away before the answer)',
    ['endpoint', 'status'],
    this.registry,
  );
  readonly requestSeconds = new HotHistogram(
    METRIC.httpRequestDurationSeconds,
    'Time from the request to the end of its answer, by endpoint',
    ['endpoint'],
    REQUEST_BUCKETS,
    this.registry,
  );
  readonly pointsReceived = new HotCounter(
    METRIC.pointsReceivedTotal,
    'Lines of line protocol received in /write bodies (comments and blank lines excluded)',
    [],
    this.registry,
  );
  readonly pointsRouted = new HotCounter(
    METRIC.pointsRoutedTotal,
    'Lines routed to a backend (a line replicated to two backends counts once for each)',
    ['backend'],
    this.registry,
  );
  readonly pointsWritten = new HotCounter(
    METRIC.pointsWrittenTotal,
    'Lines the backend acknowledged, sent directly or replayed from its spool',
    ['backend'],
    this.registry,
  );
  readonly pointsSpooled = new HotCounter(
    METRIC.pointsSpooledTotal,
    "Lines fsynced in the backend's spool (backend down, failing, or behind a backlog)",
    ['backend'],
    this.registry,
  );
  readonly pointsDropped = new HotCounter(
    METRIC.pointsDroppedTotal,
    'Lines not delivered, by reason (unparsable and unroutable lines have no backend)',
    ['reason', 'backend'],
    this.registry,
  );
  readonly flushSeconds = new HotHistogram(
    METRIC.batchFlushDurationSeconds,
    'Time to send one batch to a backend and read its answer',
    ['backend'],
    FLUSH_BUCKETS,
    this.registry,
  );
  readonly batchesLostAfterAck = new HotCounter(
    METRIC.batchesLostAfterAckTotal,
    'Batches that failed after a buffered-mode 204 (their lines are also in points_dropped_total)',
    ['backend'],
    this.registry,
  );
  readonly replayedPoints = new HotCounter(
    METRIC.replayedPointsTotal,
    'Lines delivered from the spool by the replay loop (rate() of it is the replay rate)',
    ['backend'],
    this.registry,
  );
  readonly replayedRecords = new HotCounter(
    METRIC.replayedRecordsTotal,
    'Spool records the replay loop finished with (delivered, or refused for good and set aside)',
    ['backend'],
    this.registry,
  );
  readonly pointsSetAside = new HotCounter(
    METRIC.pointsSetAsideTotal,
    'Lines of spooled records the backend refused for good on replay, moved to its rejected-record store (kept, not dropped)',
    ['backend'],
    this.registry,
  );
  readonly rejectedRecordsHeld = backendGauge(
    this.registry,
    METRIC.rejectedRecords,
    "Records waiting in the backend's rejected-record store for an operator (GET /admin/rejected)",
  );
  readonly backendRefusing = backendGauge(
    this.registry,
    METRIC.backendRefusing,
    "1 while the backend refuses the proxy's writes for its state (database missing, credentials refused); its writes wait in the spool",
  );
  readonly backendHealthy = backendGauge(this.registry, METRIC.backendHealthy, '1 when this proxy sees the backend up, 0 when down');
  readonly spoolBytes = backendGauge(this.registry, METRIC.spoolBacklogBytes, "Bytes waiting in the backend's spool");
  readonly spoolRecords = backendGauge(this.registry, METRIC.spoolBacklogRecords, "Batches waiting in the backend's spool");
  readonly spoolMaxBytes = backendGauge(
    this.registry,
    METRIC.spoolMaxBytes,
    "The backend's spool cap (spoolMaxBytes); writes are answered 503 when the backlog reaches it",
  );
  readonly spoolOldestAge = backendGauge(
    this.registry,
    METRIC.spoolOldestAgeSeconds,
    "Age of the oldest batch waiting in the backend's spool (0 when empty)",
  );
  readonly queryFanouts = new HotCounter(
    METRIC.queryFanoutsTotal,
    'Query statements sent to several backends and merged',
    [],
    this.registry,
  );
  readonly queryFanoutBackends = new HotCounter(
    METRIC.queryFanoutBackendRequestsTotal,
    'Backend requests made by fanned-out statements',
    [],
    this.registry,
  );
  readonly configReloads = new HotCounter(METRIC.configReloadsTotal, 'New configurations applied after start-up', [], this.registry);
  readonly configReloadFailures = new HotCounter(
    METRIC.configReloadFailuresTotal,
    'Configurations refused (invalid, or unreadable); the last good one stayed',
    [],
    this.registry,
  );
  readonly guardRefusals = new HotCounter(
    METRIC.queryGuardRefusalsTotal,
    'Queries the query guard refused before any backend saw them, by reason',
    ['reason'],
    this.registry,
  );
  readonly selfReports = new HotCounter(
    METRIC.selfReportsTotal,
    'Self-report points written through the write path, by result',
    ['result'],
    this.registry,
  );

  readonly clientAbortedWrites = new HotCounter(
    METRIC.clientAbortedWritesTotal,
    'Write requests whose client went away before its body had arrived (logged at debug)',
    [],
    this.registry,
  );
  readonly rawFrontWrites = new HotCounter(
    METRIC.rawFrontWritesTotal,
    'Write requests the raw write front served from the socket (small POST /write on plain-HTTP keep-alive connections); the rest go through node:http',
    [],
    this.registry,
  );
  readonly authChecks = new HotCounter(
    METRIC.authChecksTotal,
    'Credentials checked, by result: remembered (a password verified before), verified (scrypt), failed, ' +
      "rate_limited (401 at once: the client's address used up its failed checks), busy (503 at once: too many checks waiting)",
    ['result'],
    this.registry,
  );
  readonly clientConnections = new Gauge({
    name: METRIC.clientConnections,
    help: 'Client connections open on the listener now (TLS handshakes in progress included)',
    registers: [this.registry],
  });
  readonly clientConnectionsDropped = new HotCounter(
    METRIC.clientConnectionsDroppedTotal,
    'Client connections the listener closed itself, by reason: address_cap (over maxConnectionsPerAddress), ' +
      'handshake_timeout (no TLS handshake within headersTimeout), tls_error (a failed handshake), shutdown (open past the drain)',
    ['reason'],
    this.registry,
  );
  readonly acceptErrors = new HotCounter(
    METRIC.acceptErrorsTotal,
    'Connections the listener could not accept (EMFILE/ENFILE: out of file descriptors), by code',
    ['code'],
    this.registry,
  );

  /*
   * Write events /meta shows that have no Prometheus series (one would change /metrics and the
   * self-report): plain cells, bumped where the event happens and read by writeStats() only.
   */
  /** POST /write requests (counted before the body is read). */
  readonly writeRequests = new CounterCell({});
  /** Parts of write requests a backend refused (4xx, or refusing for its state). */
  readonly writePartsRefused = new CounterCell({});
  /** Write requests answered 503 because a backend could neither take nor spool their lines. */
  readonly writesUnavailable = new CounterCell({});

  private readonly backends = new Map<string, BackendMetrics>();
  /** Per endpoint, the request counter child per status code (made on first use). */
  private readonly byStatus: CounterChild[][] = ENDPOINTS.map(() => []);
  /** Per endpoint, its duration histogram (made on first use). */
  private readonly durations: (HistogramChild | undefined)[] = [];
  readonly droppedUnparsable: CounterChild;
  readonly droppedUnroutable: CounterChild;

  constructor(@Optional() @Inject(METRICS_OPTIONS) options: MetricsOptions = {}) {
    if (options.defaultMetrics !== false) {
      // process and Node.js metrics, event-loop lag (nodejs_eventloop_lag_*) among them
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    }
    this.droppedUnparsable = this.pointsDropped.labels('unparsable', '');
    this.droppedUnroutable = this.pointsDropped.labels('unroutable', '');
  }

  /** The pre-bound metrics (and observer) of the backend called `name`; the same object for the same name. */
  forBackend(name: string): BackendMetrics {
    let m = this.backends.get(name);
    if (!m) {
      m = new BackendMetrics(this, name);
      this.backends.set(name, m);
    }
    return m;
  }

  /** Counts one answered request. `status` 0: the client went away first. */
  requestDone(endpoint: number, status: number, seconds: number): void {
    const children = this.byStatus[endpoint];
    let child = children[status];
    if (!child) {
      child = this.requests.labels(ENDPOINTS[endpoint], String(status));
      children[status] = child;
    }
    child.inc();
    (this.durations[endpoint] ??= this.requestSeconds.labels(ENDPOINTS[endpoint])).observe(seconds);
  }

  /** A statement fanned out to `backends` backends. */
  fanout(backends: number): void {
    this.queryFanouts.inc();
    this.queryFanoutBackends.inc(backends);
  }

  /** Sets the per-backend gauges from the backends of the current topology (removed backends disappear). */
  observeBackends(backends: readonly Backend[]): void {
    this.backendHealthy.reset();
    this.spoolBytes.reset();
    this.spoolRecords.reset();
    this.spoolMaxBytes.reset();
    this.spoolOldestAge.reset();
    this.rejectedRecordsHeld.reset();
    this.backendRefusing.reset();
    for (const b of backends) {
      const s = b.status();
      this.backendHealthy.labels(b.name).set(s.healthy ? 1 : 0);
      this.spoolBytes.labels(b.name).set(s.spool.bytes);
      this.spoolRecords.labels(b.name).set(s.spool.records);
      this.spoolMaxBytes.labels(b.name).set(s.spool.maxBytes);
      this.spoolOldestAge.labels(b.name).set((s.spool.oldestAgeMs ?? 0) / 1000);
      this.rejectedRecordsHeld.labels(b.name).set(s.rejected?.records ?? 0);
      this.backendRefusing.labels(b.name).set(s.refusing ? 1 : 0);
    }
  }

  /**
   * /meta's `writeStats`: read from the counters above and the three write cells, so each event is
   * counted once (lines accepted are the lines received less those dropped unparsable or unroutable).
   */
  writeStats(): WriteStats {
    const unparsable = this.droppedUnparsable.value;
    const unroutable = this.droppedUnroutable.value;
    return {
      requests: this.writeRequests.value,
      linesAccepted: this.pointsReceived.total() - unparsable - unroutable,
      droppedUnparsable: unparsable,
      droppedUnroutable: unroutable,
      backendRejected: this.writePartsRefused.value,
      backendUnavailable: this.writesUnavailable.value,
      droppedAfterBufferedAck: this.batchesLostAfterAck.total(),
    };
  }

  /** The text exposition format (what GET /metrics answers). */
  render(backends: readonly Backend[]): Promise<string> {
    this.observeBackends(backends);
    return this.registry.metrics();
  }

  /** Every series of the proxy's own counters with its current value (what the self-report reads). */
  async counterSamples(): Promise<CounterSample[]> {
    const out: CounterSample[] = [];
    for (const metric of await this.registry.getMetricsAsJSON()) {
      if (String(metric.type) !== 'counter' || !metric.name.startsWith(PREFIX)) continue;
      for (const v of metric.values) out.push({ name: metric.name, labels: v.labels, value: v.value });
    }
    return out;
  }
}

/** The write path's counts as /meta shows them (`writeStats`). */
export interface WriteStats {
  requests: number;
  linesAccepted: number;
  droppedUnparsable: number;
  droppedUnroutable: number;
  backendRejected: number;
  backendUnavailable: number;
  /** Batches that failed after a buffered-mode 204 (4xx, or the spool was full). */
  droppedAfterBufferedAck: number;
}

/** One series of a counter and its value. */
export interface CounterSample {
  name: string;
  labels: Partial<Record<string, string | number>>;
  value: number;
}

/** `name{a="x",b="y"}` with labels in the order given; the plain name when there are none. */
export function seriesKey(name: string, labels: Partial<Record<string, string | number>>): string {
  const parts: string[] = [];
  for (const k in labels) parts.push(`${k}="${labels[k]}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

/** Index of an endpoint in ENDPOINTS from a request path. */
export function endpointOf(path: string): number {
  switch (path) {
    case '/write':
      return 0;
    case '/query':
      return 1;
    case '/ping':
      return 2;
    case '/health':
      return 3;
    case '/metrics':
      return 4;
    case '/meta':
      return 5;
    case '/reload':
      return 6;
    default:
      return 7;
  }
}

/** A gauge per backend (the `backend` label), set from its status when /metrics is read. */
function backendGauge(registry: Registry, name: string, help: string): Gauge<'backend'> {
  return new Gauge({ name, help, labelNames: ['backend'] as const, registers: [registry] });
}
