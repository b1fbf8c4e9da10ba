import { requestIdOf, setInfluxHeaders, writeInfluxError } from '@app/http-compat';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { PingHandler } from '../ping/ping.handler';
import { PrometheusWriteHandler } from '../prometheus/prometheus-write.handler';
import { PromReadHandler } from '../prometheus/prom-read.handler';
import { QueryHandler } from '../query/query.handler';
import { WriteHandler } from '../write/write.handler';
import { RequestObserver } from './request-observer';
import { type Listener, adoptSettings, createListener } from './listener';
import { RequestGate } from './request-gate';
import type { ConnectionEvents, ConnectionGuard } from './connection-guard';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { FluxQueryHandler } from '../v2/flux-query.handler';
import { V2WriteHandler } from '../v2/v2-write.handler';
import { WriteBudget } from '../write/write-budget';
import { RawWriteFront } from './raw-write-front';

/** How long SIGTERM waits for requests in flight before it closes their connections. */
const DRAIN_MS = 30_000;

/**
 * The proxy's own http.Server. /write, /query, /ping and /api/v2/{write,query} are served by plain handlers (the hot path stays
 * outside the framework); every other path falls through to the Nest/Express app. On plain HTTP, the raw write front
 * (raw-write-front.ts) stands before node:http and serves small keep-alive POST /write requests from the socket itself.
 */
@Injectable()
export class ProxyServer {
  private readonly logger = new Logger(ProxyServer.name);
  private server?: Listener;
  private guard?: ConnectionGuard;
  private front?: RawWriteFront;
  private settingsWatch?: Subscription;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly write: WriteHandler,
    private readonly ping: PingHandler,
    private readonly query: QueryHandler,
    private readonly observer: RequestObserver,
    private readonly gate: RequestGate,
    private readonly metrics: ProxyMetrics,
    private readonly v2Write: V2WriteHandler,
    private readonly flux: FluxQueryHandler,
    private readonly promWrite: PrometheusWriteHandler,
    private readonly promRead: PromReadHandler,
    private readonly budget: WriteBudget,
  ) {}

  /** Starts listening on the node's listenAddr; `framework` serves what the plain handlers do not. */
  async listen(framework: RequestListener): Promise<Listener> {
    const topology = this.cluster.topology;
    const node = topology.node;
    const { host, port } = splitListenAddr(node.listenAddr);
    // HTTP or HTTPS, with the timeouts, parser limits and connection guard of listener.ts
    const { server, guard } = await createListener(node, (req, res) => this.dispatch(req, res, framework), {
      node: () => this.cluster.topology.node,
      events: this.connectionEvents(),
      logger: this.logger,
      front: (guard, toNode) => {
        const { cluster, write, gate, budget, observer, metrics } = this;
        const deps = { cluster, write, gate, budget, observer, metrics };
        const front = (this.front = new RawWriteFront(deps, guard, toNode));
        return (socket) => front.accept(socket);
      },
    });
    this.guard = guard;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log(`listening on ${node.listenAddr}${node.tlsCert ? ' (https)' : ''}`);
    // a reloaded config's timeouts (and renewed TLS certificate) apply to the running listener, one
    // config after the other: a slow certificate read must not let an older config's certificate win
    let adopting = Promise.resolve();
    this.settingsWatch = this.cluster.changes.subscribe((next) => {
      adopting = adopting
        .then(() => adoptSettings(server, next.node, this.logger))
        .catch((err: unknown) => this.logger.error(`listener settings not adopted: ${(err as Error)?.message ?? err}`));
    });
    return server;
  }

  /**
   * Stops accepting; in-flight requests finish (for at most `graceMs`); keep-alive connections are
   * closed once idle; connections that never brought a request (a stalled TLS handshake, a client that
   * connected and said nothing) are destroyed at once. Past `graceMs` every connection still open is
   * destroyed, so this always returns within about `graceMs`.
   */
  async close(graceMs = DRAIN_MS): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.settingsWatch?.unsubscribe();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    this.guard?.beginShutdown();
    this.front?.beginShutdown();
    const idle = setInterval(() => {
      server.closeIdleConnections();
      this.front?.closeIdle();
    }, 50);
    const force = setTimeout(() => {
      const left = this.guard?.size ?? 0;
      if (left > 0) this.logger.warn(`${left} connection(s) still open after ${graceMs / 1000} s of draining: closing them`);
      server.closeAllConnections();
      this.guard?.destroyAll();
    }, graceMs);
    await closed;
    clearInterval(idle);
    clearTimeout(force);
  }

  /** Where the connection guard's events are counted. */
  private connectionEvents(): ConnectionEvents {
    const m = this.metrics;
    const dropped = {
      address_cap: m.clientConnectionsDropped.labels('address_cap'),
      handshake_timeout: m.clientConnectionsDropped.labels('handshake_timeout'),
      tls_error: m.clientConnectionsDropped.labels('tls_error'),
      shutdown: m.clientConnectionsDropped.labels('shutdown'),
    };
    return {
      opened: () => m.clientConnections.inc(),
      closed: () => m.clientConnections.dec(),
      dropped: (reason) => dropped[reason].inc(),
      acceptFailed: (code) => m.acceptErrors.labels(code).inc(),
    };
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, framework: RequestListener): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const requestId = requestIdOf(req);
    this.observer.begin(req, res, path, requestId);
    // the cap on requests in flight, then authentication (RequestGate answers the refusals)
    const admitted = this.gate.admit(req, res, path, q < 0 ? '' : url.slice(q + 1), requestId);
    if (admitted === false) return;
    if (admitted === true) {
      try {
        this.route(req, res, framework, url, q, path, requestId);
      } catch (err) {
        this.fail(res, err, requestId);
      }
      return;
    }
    admitted.then((ok) => ok && this.route(req, res, framework, url, q, path, requestId)).catch((err) => this.fail(res, err, requestId));
  }

  private route(
    req: IncomingMessage,
    res: ServerResponse,
    framework: RequestListener,
    url: string,
    q: number,
    path: string,
    requestId: string,
  ): void {
    switch (path) {
      case '/write': {
        this.write.handle(req, res, q < 0 ? '' : url.slice(q + 1), requestId).catch((err) => this.fail(res, err, requestId));
        return;
      }
      case '/query': {
        const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
        this.query.handle(req, res, query, requestId).catch((err) => this.fail(res, err, requestId));
        return;
      }
      case '/api/v2/write': {
        const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
        this.v2Write.handle(req, res, query, requestId).catch((err) => this.fail(res, err, requestId));
        return;
      }
      case '/api/v2/query':
        this.flux.handle(req, res, requestId).catch((err) => this.fail(res, err, requestId));
        return;
      case '/api/v1/prom/write': {
        const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
        this.promWrite.handle(req, res, query, requestId).catch((err) => this.fail(res, err, requestId));
        return;
      }
      case '/api/v1/prom/read': {
        const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
        this.promRead.handle(req, res, query, requestId).catch((err) => this.fail(res, err, requestId));
        return;
      }
      case '/ping': {
        const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
        this.ping.handle(req, res, query, requestId);
        return;
      }
      default:
        setInfluxHeaders(res, this.cluster.topology.version, requestId);
        framework(req, res);
    }
  }

  private fail(res: ServerResponse, err: unknown, requestId: string): void {
    this.logger.error({ msg: `request ${requestId} failed: ${(err as Error)?.stack ?? err}`, reqId: requestId });
    writeInfluxError(res, 500, 'internal error');
  }
}

/** "host:port", ":port" (all interfaces) or "[v6]:port". */
export function splitListenAddr(addr: string): { host?: string; port: number } {
  const at = addr.lastIndexOf(':');
  let host = addr.slice(0, at);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? undefined : host, port: Number(addr.slice(at + 1)) };
}
