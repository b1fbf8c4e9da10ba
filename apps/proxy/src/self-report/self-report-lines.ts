import type { BackendStatus } from '@app/backend';
import { escapeFieldKey, escapeMeasurement, escapeTag } from '@app/line-protocol';
import { type CounterSample, METRIC, seriesKey } from '../metrics/proxy-metrics';

export interface SelfReportInput {
  measurement: string;
  /** Tags of every point (empty values are left out: line protocol has no empty tag values). */
  tags: Readonly<Record<string, string>>;
  /** The points' time, in ns. */
  timestampNs: bigint;
  /** Current counter values (ProxyMetrics.counterSamples()). */
  counters: readonly CounterSample[];
  /** Counter values at the previous report, by seriesKey (empty for the first). */
  previous: ReadonlyMap<string, number>;
  backends: readonly { name: string; status: BackendStatus }[];
}

export interface SelfReport {
  /** Line protocol, one point for the proxy and one per backend, each ending in '\n'. */
  body: string;
  /** The counter values this report was taken from (the next report's `previous`). */
  totals: Map<string, number>;
}

/**
 * The Go proxy's self-report, as line protocol: what happened since the previous report (counters as
 * deltas, like the Go proxy's statistics) and the state now (backend health, spool backlog).
 *
 *   <measurement>,proxy=p1,host=h,addr=:8087 writeRequests=…i,writeRequestsFail=…i,queryRequests=…i,…
 *   <measurement>,proxy=p1,host=h,addr=:8087,backend=a pointsRouted=…i,pointsWritten=…i,healthy=1i,spoolBytes=…i,…
 */
export function buildSelfReport(input: SelfReportInput): SelfReport {
  const totals = new Map<string, number>();
  const sums = new Map<string, number>();
  const add = (key: string, v: number) => sums.set(key, (sums.get(key) ?? 0) + v);
  for (const c of input.counters) {
    const key = seriesKey(c.name, c.labels);
    totals.set(key, c.value);
    const delta = c.value - (input.previous.get(key) ?? 0);
    if (delta === 0) continue;
    const l = c.labels;
    switch (c.name) {
      case METRIC.httpRequestsTotal: {
        const endpoint = String(l.endpoint);
        if (endpoint !== 'write' && endpoint !== 'query' && endpoint !== 'ping') break;
        add(`${endpoint}Requests`, delta);
        const status = Number(l.status);
        if (status === 0 || status >= 400) add(`${endpoint}RequestsFail`, delta);
        break;
      }
      case METRIC.pointsReceivedTotal:
        add('pointsReceived', delta);
        break;
      case METRIC.pointsDroppedTotal:
        if (l.backend) add(`${l.backend}\0pointsDropped`, delta);
        else if (l.reason === 'unparsable') add('pointsUnparsable', delta);
        else if (l.reason === 'unroutable') add('pointsUnroutable', delta);
        break;
      case METRIC.pointsRoutedTotal:
        add(`${l.backend}\0pointsRouted`, delta);
        break;
      case METRIC.pointsWrittenTotal:
        add(`${l.backend}\0pointsWritten`, delta);
        break;
      case METRIC.pointsSpooledTotal:
        add(`${l.backend}\0pointsSpooled`, delta);
        break;
      case METRIC.replayedPointsTotal:
        add(`${l.backend}\0pointsReplayed`, delta);
        break;
      case METRIC.queryFanoutsTotal:
        add('queryFanouts', delta);
        break;
      case METRIC.configReloadsTotal:
        add('configReloads', delta);
        break;
      case METRIC.configReloadFailuresTotal:
        add('configReloadFailures', delta);
        break;
    }
  }

  const ts = input.timestampNs.toString();
  const key = escapeMeasurement(input.measurement) + tagString(input.tags);
  const sum = (name: string) => sums.get(name) ?? 0;
  const proxyFields: [string, number][] = [
    ['writeRequests', sum('writeRequests')],
    ['writeRequestsFail', sum('writeRequestsFail')],
    ['queryRequests', sum('queryRequests')],
    ['queryRequestsFail', sum('queryRequestsFail')],
    ['pingRequests', sum('pingRequests')],
    ['pointsReceived', sum('pointsReceived')],
    ['pointsUnparsable', sum('pointsUnparsable')],
    ['pointsUnroutable', sum('pointsUnroutable')],
    ['queryFanouts', sum('queryFanouts')],
    ['configReloads', sum('configReloads')],
    ['configReloadFailures', sum('configReloadFailures')],
    ['backends', input.backends.length],
    ['backendsUp', input.backends.filter((b) => b.status.healthy).length],
  ];
  let body = `${key} ${fieldString(proxyFields)} ${ts}\n`;
  for (const b of input.backends) {
    const s = b.status;
    const fields: [string, number][] = [
      ['pointsRouted', sum(`${b.name}\0pointsRouted`)],
      ['pointsWritten', sum(`${b.name}\0pointsWritten`)],
      ['pointsSpooled', sum(`${b.name}\0pointsSpooled`)],
      ['pointsReplayed', sum(`${b.name}\0pointsReplayed`)],
      ['pointsDropped', sum(`${b.name}\0pointsDropped`)],
      ['healthy', s.healthy ? 1 : 0],
      ['spoolRecords', s.spool.records],
      ['spoolBytes', s.spool.bytes],
      ['spoolOldestAgeMs', s.spool.oldestAgeMs ?? 0],
    ];
    body += `${key},backend=${escapeTag(b.name)} ${fieldString(fields)} ${ts}\n`;
  }
  return { body, totals };
}

function tagString(tags: Readonly<Record<string, string>>): string {
  let out = '';
  for (const k of Object.keys(tags).sort()) {
    if (tags[k] === '') continue;
    out += `,${escapeTag(k)}=${escapeTag(tags[k])}`;
  }
  return out;
}

function fieldString(fields: [string, number][]): string {
  return fields.map(([k, v]) => `${escapeFieldKey(k)}=${Math.round(v)}i`).join(',');
}
