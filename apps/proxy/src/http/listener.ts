import type { ProxyNodeConfig } from '@app/config';
import type { Logger } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type ConnectionEvents, ConnectionGuard, openFileLimit } from './connection-guard';

export type Listener = http.Server | https.Server;

/** How often node looks for connections past headersTimeout / requestTimeout (its default is 30 s). */
const TIMEOUT_CHECK_MS = 1_000;
/** node's default, pinned so NODE_OPTIONS=--max-http-header-size cannot raise it. */
const MAX_HEADER_BYTES = 16 * 1024;

/** What the listener needs besides the node's config: where to count and log what its guard does. */
export interface ListenerContext {
  /** The node's current config (read at each new connection: a reload applies to the next ones). */
  readonly node: () => ProxyNodeConfig;
  readonly events: ConnectionEvents;
  readonly logger: Logger;
  /**
   * For a plain-HTTP listener: takes every new connection in node:http's place (the raw write front),
   * given the guard and how to hand a connection to node:http.
   */
  readonly front?: (guard: ConnectionGuard, toNode: (socket: Socket) => void) => (socket: Socket) => void;
}

/**
 * The proxy's listening server, plain HTTP or HTTPS (tlsCert/tlsKey), with the limits a server facing
 * untrusted clients needs:
 * - headersTimeout: a client dribbling its headers (slow loris) is cut off with 408 after this long,
 *   and so is a plain connection that never sends a request line; requestTimeout bounds the whole
 *   request, body included;
 * - a TLS handshake must finish within headersTimeout of accept (ConnectionGuard, node's
 *   handshakeTimeout as a second line), else the socket is destroyed;
 * - at most maxConnectionsPerAddress connections per client address (ConnectionGuard);
 * - keepAliveTimeout = idleTimeout: idle keep-alive connections are closed;
 * - headers over 16 KiB are answered 431;
 * - node's strict HTTP parser is kept (insecureHTTPParser is pinned off even if NODE_OPTIONS asks for
 *   it): a request with both Content-Length and Transfer-Encoding, or a malformed chunk, is refused with 400;
 * - a client that half-closes is not waited for (allowHalfOpen off; node answers or closes at once);
 * - running out of file descriptors (EMFILE on accept) is logged once per episode, and the listener
 *   keeps accepting as descriptors come back (libuv keeps the listening socket armed, accepting and
 *   closing what it has no descriptor for).
 */
export async function createListener(
  node: ProxyNodeConfig,
  handler: http.RequestListener,
  context: ListenerContext,
): Promise<{ server: Listener; guard: ConnectionGuard }> {
  const options: http.ServerOptions = {
    ...timeouts(node),
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    insecureHTTPParser: false,
    maxHeaderSize: MAX_HEADER_BYTES,
    requireHostHeader: true,
  };
  const server: Listener = node.tlsCert
    ? https.createServer(
        {
          ...options,
          ...(await readTls(node)),
          handshakeTimeout: node.headersTimeout * 1000,
          minVersion: 'TLSv1.2',
          allowHalfOpen: false,
        },
        handler,
      )
    : http.createServer(options, handler);
  const guard = new ConnectionGuard(
    node.tlsCert !== undefined,
    () => {
      const current = context.node();
      return { maxPerAddress: current.maxConnectionsPerAddress, handshakeMs: current.headersTimeout * 1000 };
    },
    context.events,
    context.logger,
    openFileLimit(),
  );
  if (context.front && !node.tlsCert) {
    // node:http's own 'connection' listener (its constructor's): the front stands before it
    const nodeConnection = server.listeners('connection')[0] as (socket: Socket) => void;
    server.removeListener('connection', nodeConnection);
    server.prependListener(
      'connection',
      context.front(guard, (socket) => nodeConnection.call(server, socket)),
    );
  }
  guard.attach(server);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, guard));
  server.on('error', (err: NodeJS.ErrnoException) => {
    // errors before listening are the caller's (EADDRINUSE); once listening, only accept() fails here
    if (!server.listening) return;
    if (err.syscall === 'accept') guard.acceptFailed(err);
    else context.logger.error(`listener: ${err.message}`);
  });
  return { server, guard };
}

/**
 * Applies a new config's limits to the running server (timeouts; for HTTPS the certificate and key,
 * re-read so a renewed certificate is served after a reload). Switching TLS on or off needs a restart.
 */
export async function adoptSettings(server: Listener, node: ProxyNodeConfig, logger: Logger): Promise<void> {
  Object.assign(server, timeouts(node));
  const isTls = server instanceof https.Server;
  if (isTls !== (node.tlsCert !== undefined)) {
    logger.error(`tlsCert/tlsKey: switching HTTPS ${isTls ? 'off' : 'on'} needs a restart; the listener stays as it is`);
    return;
  }
  if (!isTls) return;
  try {
    server.setSecureContext({ ...(await readTls(node)), minVersion: 'TLSv1.2' });
  } catch (err) {
    logger.error(`keeping the current TLS certificate: ${(err as Error).message}`);
  }
}

function timeouts(node: ProxyNodeConfig) {
  return {
    keepAliveTimeout: node.idleTimeout * 1000,
    headersTimeout: node.headersTimeout * 1000,
    requestTimeout: node.requestTimeout * 1000,
  };
}

async function readTls(node: ProxyNodeConfig): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (field: 'tlsCert' | 'tlsKey') => {
    const file = node[field]!;
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(`${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { cert: await read('tlsCert'), key: await read('tlsKey') };
}

/**
 * node's own answers for a request it could not parse or that took too long (none carries detail).
 * Only the HTTP parser's errors (HPE_*) and the request timeout are answered; any other error — a TLS
 * handshake that failed or timed out, a reset — destroys the socket: writing an answer to a TLS socket
 * still in its handshake would wait for the handshake forever and hold the connection open.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, guard: ConnectionGuard): void {
  const code = err.code ?? '';
  const isHttp = code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT';
  if (!isHttp && (socket as TLSSocket).encrypted) guard.tlsFailed(err, socket);
  const responding = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (!isHttp || !socket.writable || responding) {
    socket.destroy();
    return;
  }
  const status =
    code === 'HPE_HEADER_OVERFLOW'
      ? '431 Request Header Fields Too Large'
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : '400 Bad Request';
  socket.end(closingAnswer(status));
}

/** node's bare answer to a request it gives up on (`status`: code and reason), closing the connection. */
export function closingAnswer(status: string): string {
  return `HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
}
