import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { ENDPOINTS, ProxyMetrics } from '../metrics/proxy-metrics';
import { groupChannel } from '../workers/group-channel';
import {
  type ExpvarMembers,
  type ExpvarStatistic,
  type ProcessFigures,
  memstatsOf,
  mergeMemstats,
  mergeStatistics,
  renderExpvar,
} from './expvar';

/** The group question whose answer is a worker's own figures (with `--workers N`). */
const VARS_QUESTION = 'debug-vars';

/** One process's part of /debug/vars. */
interface WorkerVars {
  memstats: Record<string, number | boolean>;
  statistics: ExpvarStatistic[];
}

/**
 * GET /debug/vars: the proxy's own figures in influxd's expvar JSON. Every counter is read from the
 * cell ProxyMetrics keeps for /metrics (or from the backend's status, as /metrics' gauges are), so
 * each event is counted in one place and the two endpoints agree. With `--workers N` any worker answers
 * for the whole proxy: every worker's figures are gathered over the supervisor and merged (expvar.ts).
 */
@Injectable()
export class DebugVarsService implements OnModuleDestroy {
  private readonly started = new Date();
  private readonly gc = { count: 0, pauseTotalNs: 0, lastEndNs: 0 };
  private readonly gcWatch: PerformanceObserver;

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly cluster: ClusterStateService,
  ) {
    // Node's gc performance entries carry each collection's pause (duration, ms) and start time
    this.gcWatch = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gc.count++;
        this.gc.pauseTotalNs += Math.round(entry.duration * 1e6);
        this.gc.lastEndNs = Math.round((performance.timeOrigin + entry.startTime + entry.duration) * 1e6);
      }
    });
    this.gcWatch.observe({ entryTypes: ['gc'] });
    groupChannel.answer(VARS_QUESTION, () => this.own());
  }

  onModuleDestroy(): void {
    this.gcWatch.disconnect();
  }

  async render(): Promise<string> {
    const now = new Date();
    const parts = groupChannel.inGroup ? (await groupChannel.gather<WorkerVars>(VARS_QUESTION)).map((a) => a.value) : [await this.own()];
    const members: ExpvarMembers = [
      ['system', { currentTime: now.toISOString(), started: this.started.toISOString(), uptime: Math.floor(process.uptime()) }],
      ['cmdline', process.argv],
      ['memstats', mergeMemstats(parts.map((p) => p.memstats))],
    ];
    for (const stat of mergeStatistics(parts.map((p) => p.statistics))) members.push([keyOf(stat), stat]);
    return renderExpvar(members);
  }

  /** This process's figures. */
  private async own(): Promise<WorkerVars> {
    const figures: ProcessFigures = { memory: process.memoryUsage(), gc: this.gc };
    return { memstats: memstatsOf(figures), statistics: await this.statistics() };
  }

  /** httpd, write, query, spool, replay, process and one `backend` per configured backend. */
  private async statistics(): Promise<ExpvarStatistic[]> {
    const m = this.metrics;
    const topology = this.cluster.topology;
    const out: ExpvarStatistic[] = [await this.httpd(topology.node.listenAddr)];

    const w = m.writeStats();
    out.push({
      name: 'write',
      tags: null,
      values: {
        req: w.requests,
        pointsReceived: m.pointsReceived.total(),
        pointsAccepted: w.linesAccepted,
        droppedUnparsable: w.droppedUnparsable,
        droppedUnroutable: w.droppedUnroutable,
        backendRejected: w.backendRejected,
        backendUnavailable: w.backendUnavailable,
        droppedAfterBufferedAck: w.droppedAfterBufferedAck,
        clientAborted: m.clientAbortedWrites.total(),
      },
    });
    out.push({
      name: 'query',
      tags: null,
      values: {
        fanouts: m.queryFanouts.total(),
        fanoutBackendRequests: m.queryFanoutBackends.total(),
        guardRefusals: m.guardRefusals.total(),
      },
    });

    // the spool and replay sums over the backends (each backend's own figures follow, under `backend`)
    const spool = { pointsSpooled: 0, backlogBytes: 0, backlogRecords: 0, maxBytes: 0, droppedFull: 0, droppedError: 0 };
    const replay = { pointsReplayed: 0, recordsReplayed: 0, pointsSetAside: 0, rejectedRecords: 0 };
    const backends: ExpvarStatistic[] = [];
    for (const backend of topology.backends) {
      const s = backend.status();
      const b = m.forBackend(backend.name);
      const values = {
        healthy: s.healthy ? 1 : 0,
        refusing: s.refusing ? 1 : 0,
        pointsRouted: b.routed.value,
        pointsWritten: b.written.value,
        pointsSpooled: b.spooledPoints.value,
        pointsDroppedRejected: b.dropped.rejected.value,
        pointsDroppedSpoolFull: b.dropped.spool_full.value,
        pointsDroppedSpoolError: b.dropped.spool_error.value,
        pointsDroppedOperator: b.dropped.operator.value,
        batchesLostAfterAck: b.lostAfterAck.value,
        batchesSent: b.flush.count,
        batchSendNs: Math.round(b.flush.sum * 1e9),
        spoolBacklogBytes: s.spool.bytes,
        spoolBacklogRecords: s.spool.records,
        spoolMaxBytes: s.spool.maxBytes,
        spoolOldestAgeMs: s.spool.oldestAgeMs ?? 0,
        pointsReplayed: b.replayedPoints.value,
        recordsReplayed: b.replayedRecords.value,
        pointsSetAside: b.setAsidePoints.value,
        rejectedRecords: s.rejected?.records ?? 0,
      };
      backends.push({ name: 'backend', tags: { backend: backend.name, url: backend.config.url }, values });
      spool.pointsSpooled += values.pointsSpooled;
      spool.backlogBytes += values.spoolBacklogBytes;
      spool.backlogRecords += values.spoolBacklogRecords;
      spool.maxBytes += values.spoolMaxBytes;
      spool.droppedFull += values.pointsDroppedSpoolFull;
      spool.droppedError += values.pointsDroppedSpoolError;
      replay.pointsReplayed += values.pointsReplayed;
      replay.recordsReplayed += values.recordsReplayed;
      replay.pointsSetAside += values.pointsSetAside;
      replay.rejectedRecords += values.rejectedRecords;
    }
    out.push({ name: 'spool', tags: null, values: spool });
    out.push({ name: 'replay', tags: null, values: replay });
    out.push(processStatistic());
    return out.concat(backends);
  }

  /** Requests by endpoint and by class of status, read from http_requests_total's series. */
  private async httpd(bind: string): Promise<ExpvarStatistic> {
    const values: Record<string, number> = { req: 0, clientError: 0, serverError: 0, clientGone: 0 };
    for (const endpoint of ENDPOINTS) values[`${endpoint}Req`] = 0; // every field present from the start
    for (const series of (await this.metrics.requests.get()).values) {
      const endpoint = String(series.labels.endpoint);
      const status = Number(series.labels.status);
      values.req += series.value;
      values[`${endpoint}Req`] = (values[`${endpoint}Req`] ?? 0) + series.value;
      if (status === 0) values.clientGone += series.value;
      else if (status >= 500) values.serverError += series.value;
      else if (status >= 400) values.clientError += series.value;
    }
    const auth = this.metrics.authChecks.byLabel();
    values.authFail = (auth.failed ?? 0) + (auth.rate_limited ?? 0);
    values.connections = (await this.metrics.clientConnections.get()).values[0]?.value ?? 0;
    return { name: 'httpd', tags: { bind }, values };
  }
}

/** CPU, resident memory and I/O of the process (what `memstats` cannot hold). */
function processStatistic(): ExpvarStatistic {
  const r = process.resourceUsage();
  const memory = process.memoryUsage();
  return {
    name: 'process',
    tags: null,
    values: {
      userCpuUs: r.userCPUTime,
      systemCpuUs: r.systemCPUTime,
      maxRssKiB: r.maxRSS,
      rssBytes: memory.rss,
      heapTotalBytes: memory.heapTotal,
      heapUsedBytes: memory.heapUsed,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
      fsReads: r.fsRead,
      fsWrites: r.fsWrite,
      voluntaryContextSwitches: r.voluntaryContextSwitches,
      involuntaryContextSwitches: r.involuntaryContextSwitches,
    },
  };
}

/** influxd's member key: the name, then the tag values in tag-key order (`httpd:127.0.0.1:8086`). */
function keyOf(stat: ExpvarStatistic): string {
  if (!stat.tags) return stat.name;
  const keys = Object.keys(stat.tags).sort();
  return keys.length === 0 ? stat.name : `${stat.name}:${keys.map((k) => stat.tags![k]).join(':')}`;
}
