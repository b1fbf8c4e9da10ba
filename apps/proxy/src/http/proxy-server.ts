import { requestIdOf, setInfluxHeaders, writeInfluxError } from '@app/http-compat';
import { Injectable, Logger } from '@nestjs/common';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { PingHandler } from '../ping/ping.handler';
import { QueryHandler } from '../query/query.handler';
import { WriteHandler } from '../write/write.handler';

/**
 * The proxy's own http.Server. /write and /ping are served by plain handlers (the hot path stays
 * outside the framework); every other path falls through to the Nest/Express app.
 */
@Injectable()
export class ProxyServer {
  private readonly logger = new Logger(ProxyServer.name);
  private server?: Server;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly write: WriteHandler,
    private readonly ping: PingHandler,
    private readonly query: QueryHandler,
  ) {}

  /** Starts listening on the node's listenAddr; `framework` serves what the plain handlers do not. */
  async listen(framework: RequestListener): Promise<Server> {
    const node = this.cluster.topology.node;
    const { host, port } = splitListenAddr(node.listenAddr);
    const server = createServer(
      {
        keepAliveTimeout: node.idleTimeout * 1000,
        headersTimeout: 60_000,
        requestTimeout: 300_000,
      },
      (req, res) => this.dispatch(req, res, framework),
    );
    server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy(err);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log(`listening on ${node.listenAddr}`);
    return server;
  }

  /** Stops accepting; in-flight requests finish (for at most `graceMs`); keep-alive connections are closed. */
  async close(graceMs = 30_000): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    await closed;
    clearInterval(idle);
    clearTimeout(force);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, framework: RequestListener): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const requestId = requestIdOf(req);
    switch (path) {
      case '/write': {
        const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
        this.write.handle(req, res, query, requestId).catch((err) => this.fail(res, err, requestId));
        return;
      }
      case '/query': {
        const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
        this.query.handle(req, res, query, requestId).catch((err) => this.fail(res, err, requestId));
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
    this.logger.error(`request ${requestId} failed: ${(err as Error)?.stack ?? err}`);
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
