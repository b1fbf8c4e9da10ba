import type { ProxyNodeConfig } from '@app/config';
import type { Logger } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';

export type Listener = http.Server | https.Server;

/** How often node looks for connections past headersTimeout / requestTimeout (its default is 30 s). */
const TIMEOUT_CHECK_MS = 1_000;
/** node's default, pinned so NODE_OPTIONS=--max-http-header-size cannot raise it. */
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * The proxy's listening server, plain HTTP or HTTPS (tlsCert/tlsKey), with the limits a server facing
 * untrusted clients needs:
 * - headersTimeout: a client dribbling its headers (slow loris), or stalling a TLS handshake, is cut
 *   off with 408 after this long; requestTimeout bounds the whole request, body included;
 * - keepAliveTimeout = idleTimeout: idle keep-alive connections are closed;
 * - headers over 16 KiB are answered 431;
 * - node's strict HTTP parser is kept (insecureHTTPParser is pinned off even if NODE_OPTIONS asks for
 *   it): a request with both Content-Length and Transfer-Encoding, or a malformed chunk, is refused with 400.
 */
export async function createListener(node: ProxyNodeConfig, handler: http.RequestListener): Promise<Listener> {
  const options: http.ServerOptions = {
    ...timeouts(node),
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    insecureHTTPParser: false,
    maxHeaderSize: MAX_HEADER_BYTES,
    requireHostHeader: true,
  };
  const server: Listener = node.tlsCert
    ? https.createServer(
        { ...options, ...(await readTls(node)), handshakeTimeout: node.headersTimeout * 1000, minVersion: 'TLSv1.2' },
        handler,
      )
    : http.createServer(options, handler);
  server.on('clientError', answerClientError);
  return server;
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

/** node's own answers for a request it could not parse or that took too long (none carries detail). */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const responding = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code === 'ECONNRESET' || !socket.writable || responding) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}
