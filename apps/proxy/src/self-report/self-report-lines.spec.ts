import type { BackendStatus } from '@app/backend';
import { LineCursor, LineError, escapeTag, nextLine, unescapeMeasurement } from '@app/line-protocol';
import type { CounterSample } from '../metrics/proxy-metrics';
import { buildSelfReport } from './self-report-lines';

const status = (healthy: boolean, records = 0, bytes = 0, oldestAgeMs: number | null = null): BackendStatus => ({
  healthy,
  since: 0,
  spool: {
    records,
    bytes,
    oldestAt: null,
    oldestAgeMs,
    replaying: false,
    replayedRecords: 0,
    rejectedOnReplay: 0,
    maxBytes: 1e9,
    full: false,
  },
});

const counters = (writes204: number, received: number, routedA: number): CounterSample[] => [
  { name: 'influxdb_proxy_http_requests_total', labels: { endpoint: 'write', status: '204' }, value: writes204 },
  { name: 'influxdb_proxy_http_requests_total', labels: { endpoint: 'write', status: '400' }, value: 1 },
  { name: 'influxdb_proxy_http_requests_total', labels: { endpoint: 'query', status: '0' }, value: 2 },
  { name: 'influxdb_proxy_http_requests_total', labels: { endpoint: 'metrics', status: '200' }, value: 5 },
  { name: 'influxdb_proxy_points_received_total', labels: {}, value: received },
  { name: 'influxdb_proxy_points_dropped_total', labels: { reason: 'unroutable', backend: '' }, value: 1 },
  { name: 'influxdb_proxy_points_dropped_total', labels: { reason: 'spool_full', backend: 'a' }, value: 4 },
  { name: 'influxdb_proxy_points_routed_total', labels: { backend: 'a' }, value: routedA },
  { name: 'influxdb_proxy_points_written_total', labels: { backend: 'a' }, value: routedA },
];

function fields(line: string): Record<string, string> {
  const [, f] = line.split(/(?<!\\) /);
  return Object.fromEntries(f.split(',').map((kv) => kv.split('=') as [string, string]));
}

describe('buildSelfReport', () => {
  const base = {
    measurement: 'influx_proxy',
    tags: { proxy: 'p1', host: 'box 1', addr: '127.0.0.1:8087', empty: '' },
    timestampNs: 1_700_000_000_000_000_000n,
  };

  it('writes one point for the proxy and one per backend, counters as deltas since the last report', () => {
    const backends = [
      { name: 'a', status: status(true) },
      { name: 'b,c', status: status(false, 3, 2048, 1500) },
    ];
    const first = buildSelfReport({ ...base, counters: counters(10, 100, 90), previous: new Map(), backends });
    const lines = first.body.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0].startsWith('influx_proxy,addr=127.0.0.1:8087,host=box\\ 1,proxy=p1 ')).toBe(true);
    expect(lines[0].endsWith(' 1700000000000000000')).toBe(true);
    expect(fields(lines[0])).toMatchObject({
      writeRequests: '11i',
      writeRequestsFail: '1i',
      queryRequests: '2i',
      queryRequestsFail: '2i',
      pointsReceived: '100i',
      pointsUnroutable: '1i',
      backends: '2i',
      backendsUp: '1i',
    });
    expect(lines[1]).toContain(',backend=a ');
    expect(fields(lines[1])).toMatchObject({ pointsRouted: '90i', pointsWritten: '90i', pointsDropped: '4i', healthy: '1i' });
    expect(lines[2]).toContain(',backend=b\\,c ');
    expect(fields(lines[2])).toMatchObject({
      pointsRouted: '0i',
      healthy: '0i',
      spoolRecords: '3i',
      spoolBytes: '2048i',
      spoolOldestAgeMs: '1500i',
    });

    const second = buildSelfReport({ ...base, counters: counters(15, 160, 140), previous: first.totals, backends });
    const [proxy, a] = second.body.trimEnd().split('\n');
    expect(fields(proxy)).toMatchObject({ writeRequests: '5i', writeRequestsFail: '0i', pointsReceived: '60i', pointsUnroutable: '0i' });
    expect(fields(a)).toMatchObject({ pointsRouted: '50i', pointsDropped: '0i' });
  });

  it('is valid line protocol that the proxy’s own scanner reads back', () => {
    const { body } = buildSelfReport({
      ...base,
      measurement: 'proxy stats,x',
      counters: counters(1, 1, 1),
      previous: new Map(),
      backends: [{ name: 'a=b c', status: status(true) }],
    });
    const buf = Buffer.from(body);
    const cur = new LineCursor();
    let pos = 0;
    let n = 0;
    while (nextLine(buf, pos, buf.length, cur)) {
      pos = cur.next;
      expect(cur.error).toBe(LineError.None);
      expect(cur.hasTimestamp).toBe(true);
      expect(unescapeMeasurement(buf, cur.lineStart, cur.measurementEnd)).toBe('proxy stats,x');
      n++;
    }
    expect(n).toBe(2);
    expect(escapeTag('a=b c')).toBe('a\\=b\\ c');
  });
});
