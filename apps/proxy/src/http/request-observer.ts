import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { maskPasswordParams, maskQueryPasswords } from '@app/logging';
import { endpointOf, ProxyMetrics } from '../metrics/proxy-metrics';

const WRITE = endpointOf('/write');
const QUERY = endpointOf('/query');
/** Query text kept in a trace line. */
const MAX_TRACED_QUERY = 4000;

/** What a traced request's log line says; filled in as the request goes. */
interface Trace {
  reqId: string;
  method: string;
  url: string;
  db?: string;
  lines?: number;
  q?: string;
}

/**
 * What the proxy counts and logs about every request: requests by endpoint and status with their
 * duration (metrics), and — when `writeTracing` / `queryTracing` is on in the proxy's config — one
 * JSON log line per /write or /query request once it is answered, carrying the request id
 * (the `Request-Id` header). Per request it costs one 'close' listener; nothing per line.
 */
@Injectable()
export class RequestObserver {
  private readonly logger = new Logger('http');
  private readonly traces = new WeakMap<object, Trace>();

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly cluster: ClusterStateService,
  ) {}

  /** Called by the server for each request, before any handler sees it. */
  begin(req: IncomingMessage, res: ServerResponse, path: string, reqId: string): void {
    const started = performance.now();
    const endpoint = endpointOf(path);
    let trace: Trace | undefined;
    if (endpoint === WRITE || endpoint === QUERY) {
      const node = this.cluster.topology.node;
      if (endpoint === WRITE ? node.writeTracing : node.queryTracing) {
        trace = { reqId, method: req.method ?? '', url: maskPasswordParams(req.url ?? '/') };
        this.traces.set(res, trace);
      }
    }
    // 'on': a response closes once, and once() would wrap the listener in one more closure
    res.on('close', () => {
      const seconds = (performance.now() - started) / 1000;
      // an answer not wholly handed to the socket: the client went away first
      const status = res.writableFinished ? res.statusCode : 0;
      this.metrics.requestDone(endpoint, status, seconds);
      if (trace) this.logTrace(trace, status, seconds);
    });
  }

  /** A /write the raw write front answered (never traced: the front leaves traced writes to node:http). */
  writeDone(status: number, startedAt: number): void {
    this.metrics.requestDone(WRITE, status, (performance.now() - startedAt) / 1000);
  }

  /** /write: the lines of a traced request (a no-op unless it is traced). */
  writeLines(res: object, db: string, lines: number): void {
    const trace = this.traces.get(res);
    if (!trace) return;
    trace.db = db;
    trace.lines = lines;
  }

  /** /query: the query text and db once read (from the URL or the form body). */
  query(res: ServerResponse, q: string, db: string): void {
    const trace = this.traces.get(res);
    if (!trace) return;
    trace.q = q;
    trace.db = db;
  }

  /** /query: a statement fanned out to `backends` backends. */
  fanout(backends: number): void {
    this.metrics.fanout(backends);
  }

  private logTrace(trace: Trace, status: number, seconds: number): void {
    const durationMs = Math.round(seconds * 1e6) / 1000;
    const q = trace.q === undefined ? undefined : maskQueryPasswords(trace.q.slice(0, MAX_TRACED_QUERY));
    this.logger.log({
      msg: `${trace.method} ${trace.url.split('?')[0]} ${status || 'aborted'} in ${durationMs} ms`,
      reqId: trace.reqId,
      method: trace.method,
      url: trace.url,
      db: trace.db,
      status,
      durationMs,
      lines: trace.lines,
      q,
    });
  }
}
