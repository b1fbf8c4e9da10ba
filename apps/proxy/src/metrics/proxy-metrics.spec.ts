import type { Backend, BackendStatus } from '@app/backend';
import { Test } from '@nestjs/testing';
import { MetricsModule } from './metrics.module';
import { endpointOf, ProxyMetrics } from './proxy-metrics';

async function metrics(): Promise<ProxyMetrics> {
  const moduleRef = await Test.createTestingModule({ imports: [MetricsModule.forRoot({ defaultMetrics: false })] }).compile();
  return moduleRef.get(ProxyMetrics);
}

function backend(name: string, healthy: boolean, spool: Partial<BackendStatus['spool']> = {}): Backend {
  const status: BackendStatus = {
    healthy,
    since: 0,
    spool: {
      records: 0,
      bytes: 0,
      oldestAt: null,
      oldestAgeMs: null,
      replaying: false,
      replayedRecords: 0,
      rejectedOnReplay: 0,
      maxBytes: 1000,
      full: false,
      ...spool,
    },
  };
  return { name, status: () => status } as unknown as Backend;
}

/** The value of one series in the text format, or undefined. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('ProxyMetrics', () => {
  it('counts a backend’s batches: sent, refused, spooled, replayed, set aside, dropped by an operator', async () => {
    const m = await metrics();
    const a = m.forBackend('a');
    expect(m.forBackend('a')).toBe(a); // pre-bound once per name
    a.batchSent(10, 0.004, { kind: 'ok' });
    a.batchSent(3, 0.002, { kind: 'rejected', status: 400, error: 'bad' });
    a.batchSent(5, 1.5, { kind: 'unavailable', error: 'down' });
    a.spooled(5);
    a.spoolRefused(7, 'full');
    a.spoolRefused(1, 'disk');
    a.replayed(5, { kind: 'ok' });
    a.setAside(2);
    a.rejectedDropped(2);
    const text = await m.render([]);
    expect(valueOf(text, 'influxdb_proxy_points_written_total{backend="a"}')).toBe(15);
    expect(valueOf(text, 'influxdb_proxy_points_spooled_total{backend="a"}')).toBe(5);
    expect(valueOf(text, 'influxdb_proxy_replayed_points_total{backend="a"}')).toBe(5);
    expect(valueOf(text, 'influxdb_proxy_replayed_records_total{backend="a"}')).toBe(2);
    expect(valueOf(text, 'influxdb_proxy_points_dropped_total{reason="rejected",backend="a"}')).toBe(3);
    expect(valueOf(text, 'influxdb_proxy_points_set_aside_total{backend="a"}')).toBe(2);
    expect(valueOf(text, 'influxdb_proxy_points_dropped_total{reason="operator",backend="a"}')).toBe(2);
    expect(valueOf(text, 'influxdb_proxy_points_dropped_total{reason="spool_full",backend="a"}')).toBe(7);
    expect(valueOf(text, 'influxdb_proxy_points_dropped_total{reason="spool_error",backend="a"}')).toBe(1);
    expect(valueOf(text, 'influxdb_proxy_batch_flush_duration_seconds_count{backend="a"}')).toBe(3);
    expect(valueOf(text, 'influxdb_proxy_batch_flush_duration_seconds_bucket{le="0.005",backend="a"}')).toBe(2);
  });

  it('counts requests by endpoint and status, 0 for a client that went away', async () => {
    const m = await metrics();
    m.requestDone(endpointOf('/write'), 204, 0.01);
    m.requestDone(endpointOf('/write'), 204, 0.02);
    m.requestDone(endpointOf('/write'), 400, 0.001);
    m.requestDone(endpointOf('/query'), 0, 1);
    m.requestDone(endpointOf('/nope'), 404, 0.001);
    const text = await m.render([]);
    expect(valueOf(text, 'influxdb_proxy_http_requests_total{endpoint="write",status="204"}')).toBe(2);
    expect(valueOf(text, 'influxdb_proxy_http_requests_total{endpoint="write",status="400"}')).toBe(1);
    expect(valueOf(text, 'influxdb_proxy_http_requests_total{endpoint="query",status="0"}')).toBe(1);
    expect(valueOf(text, 'influxdb_proxy_http_requests_total{endpoint="other",status="404"}')).toBe(1);
    expect(valueOf(text, 'influxdb_proxy_http_request_duration_seconds_count{endpoint="write"}')).toBe(3);
  });

  it('reads backend health and spool backlog at scrape time; removed backends disappear', async () => {
    const m = await metrics();
    let text = await m.render([
      backend('a', true),
      backend('b', false, { records: 3, bytes: 900, oldestAt: 1, oldestAgeMs: 2500, full: false }),
    ]);
    expect(valueOf(text, 'influxdb_proxy_backend_healthy{backend="a"}')).toBe(1);
    expect(valueOf(text, 'influxdb_proxy_backend_healthy{backend="b"}')).toBe(0);
    expect(valueOf(text, 'influxdb_proxy_spool_backlog_bytes{backend="b"}')).toBe(900);
    expect(valueOf(text, 'influxdb_proxy_spool_backlog_records{backend="b"}')).toBe(3);
    expect(valueOf(text, 'influxdb_proxy_spool_oldest_age_seconds{backend="b"}')).toBe(2.5);
    expect(valueOf(text, 'influxdb_proxy_spool_max_bytes{backend="b"}')).toBe(1000);
    text = await m.render([backend('a', true)]);
    expect(valueOf(text, 'influxdb_proxy_backend_healthy{backend="b"}')).toBeUndefined();
  });

  it('lists every counter series for the self-report', async () => {
    const m = await metrics();
    m.pointsReceived.inc(4);
    m.forBackend('a').routed.inc(4);
    m.fanout(3);
    const samples = await m.counterSamples();
    expect(samples).toEqual(
      expect.arrayContaining([
        { name: 'influxdb_proxy_points_received_total', labels: {}, value: 4 },
        { name: 'influxdb_proxy_points_routed_total', labels: { backend: 'a' }, value: 4 },
        { name: 'influxdb_proxy_query_fanouts_total', labels: {}, value: 1 },
        { name: 'influxdb_proxy_query_fanout_backend_requests_total', labels: {}, value: 3 },
      ]),
    );
  });

  it('gives /meta its write stats from the same cells /metrics reads, each event counted once', async () => {
    const m = await metrics();
    m.writeRequests.inc();
    m.writeRequests.inc();
    m.pointsReceived.inc(10);
    m.droppedUnparsable.inc(2);
    m.droppedUnroutable.inc(3);
    m.writePartsRefused.inc();
    m.writesUnavailable.inc();
    m.forBackend('a').lostAfterAck.inc();
    m.forBackend('b').lostAfterAck.inc(2);
    expect(JSON.stringify(m.writeStats())).toBe(
      JSON.stringify({
        requests: 2,
        linesAccepted: 5,
        droppedUnparsable: 2,
        droppedUnroutable: 3,
        backendRejected: 1,
        backendUnavailable: 1,
        droppedAfterBufferedAck: 3,
      }),
    );
    const text = await m.render([]);
    expect(text).toContain('influxdb_proxy_points_dropped_total{reason="unparsable",backend=""} 2');
    expect(text).toContain('influxdb_proxy_batches_lost_after_ack_total{backend="b"} 2');
    // the /meta-only cells are no Prometheus series (they would change /metrics and the self-report)
    expect((await m.counterSamples()).reduce((sum, c) => sum + c.value, 0)).toBe(10 + 2 + 3 + 1 + 2);
  });

  it('counts guard refusals once: /metrics and /meta read the same series', async () => {
    const m = await metrics();
    m.guardRefusals.labels('unbounded-raw-select').inc();
    m.guardRefusals.labels('max-select-buckets').inc();
    m.guardRefusals.labels('unbounded-raw-select').inc();
    expect(m.guardRefusals.byLabel()).toEqual({ 'unbounded-raw-select': 2, 'max-select-buckets': 1 });
    const text = await m.render([]);
    expect(text).toContain('influxdb_proxy_query_guard_refusals_total{reason="unbounded-raw-select"} 2');
    expect(text).toContain('influxdb_proxy_query_guard_refusals_total{reason="max-select-buckets"} 1');
    // a scrape copies nothing: a second one reads the same
    expect(await m.render([])).toBe(text);
  });

  it('includes event-loop lag among the default metrics', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [MetricsModule.forRoot()] }).compile();
    const text = await moduleRef.get(ProxyMetrics).render([]);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).toMatch(/^process_resident_memory_bytes /m);
  });
});
