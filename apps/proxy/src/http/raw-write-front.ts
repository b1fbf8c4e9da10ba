import { type AnswerTarget, influxHeaders, writeInfluxError } from '@app/http-compat';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type OutgoingHttpHeaders, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ClusterStateService } from '../cluster/cluster-state.service';
import { bodiesTooSlowWarning, bodyTooSlow, bodyTooSlowMessage } from '../write/slow-body-watch';
import type { WriteBudget, WriteHold } from '../write/write-budget';
import type { WriteHandler } from '../write/write.handler';
import { accessFor } from './access-policy';
import { closingAnswer } from './listener';
import type { ConnectionGuard } from './connection-guard';
import type { RequestGate } from './request-gate';
import type { RequestObserver } from './request-observer';
import type { ProxyMetrics } from '../metrics/proxy-metrics';
import { readWriteHead } from './write-request-head';

/** Bytes a client may send ahead (pipelined) while its request is served; past it reading pauses. */
const MAX_AHEAD = 1 << 20;
/** How often idle connections are checked against headersTimeout and idleTimeout. */
const SWEEP_MS = 250;

/** What the front needs of the proxy: the write path and the limits every request passes. */
export interface RawWriteFrontDeps {
  readonly cluster: ClusterStateService;
  readonly write: WriteHandler;
  readonly gate: RequestGate;
  readonly budget: WriteBudget;
  readonly observer: RequestObserver;
  readonly metrics: ProxyMetrics;
}

/** A request whose head the front has taken and whose body is still arriving. */
interface BodyInProgress {
  readonly search: string;
  /** Pooled, the request's Content-Length long; `filled` bytes of it have arrived. */
  readonly body: Buffer;
  filled: number;
  readonly hold: WriteHold;
  /** Date.now() (for the body's rate) and performance.now() (for the request's duration) at the head. */
  readonly startedAt: number;
  readonly started: number;
}

/** One plain-HTTP connection while the front serves it. */
interface FastConnection {
  readonly socket: Socket;
  readonly onData: (chunk: Buffer) => void;
  readonly onError: () => void;
  readonly onEnd: () => void;
  /** The client half-closed: answer what it sent, then close. */
  ended: boolean;
  /** Bytes read and not yet served. */
  pending?: Buffer;
  /** A request is being served or its body received (answers go out in order, one at a time). */
  busy: boolean;
  /** The request whose body is arriving. */
  receiving?: BodyInProgress;
  /** performance.now() of accept, and of the last answer; whether a request came at all. */
  readonly acceptedAt: number;
  lastAnswerAt: number;
  served: boolean;
}

/**
 * The common `POST /write` on a plain-HTTP keep-alive connection, served straight from the socket's
 * bytes: node:http's request and response objects, its parser callbacks and the body stream are most
 * of what a one-point write costs, and none of them is needed to read a head, a body of known length,
 * and write an answer. Every connection starts here. Each request whose head has arrived whole and that
 * readWriteHead recognises is served here through the same write path (WriteHandler.writeRead: the
 * same checks, routing, batching, spool, metrics and answers as node:http's /write). A body still
 * arriving (up to MAX_FAST_BODY) is read into one pooled buffer as it comes: node:http would copy
 * each of its chunks twice, once into a fresh allocation of its own. At the first request the front
 * does not serve — another path, auth, gzip, chunked, a head still arriving, anything unusual — the
 * connection is handed to node:http with every unserved byte, and stays there. So node:http answers
 * every error of HTTP itself.
 *
 * What node:http does for a connection the front does the same way: the cap on requests in flight,
 * the write budget (both checked before a byte is taken, so a refusal is node:http's 503), a
 * connection that sends nothing for headersTimeout gets node's 408, an idle keep-alive connection is
 * closed after idleTimeout, and at shutdown idle connections are closed. A body it reads gets what
 * the /write path gives one: 408 below minBodyRate (SlowBodyWatch's rule), node's 408 past
 * requestTimeout, and a client that goes away mid-body is counted, not logged as an error.
 */
export class RawWriteFront {
  private readonly logger = new Logger(RawWriteFront.name);
  private readonly open = new Set<FastConnection>();
  private closing = false;
  private readonly sweeper: NodeJS.Timeout;
  private dateSecond = -1;
  private dateLine = '';
  /** Bodies ended for arriving too slowly since the last warning (one warning a sweep, as SlowBodyWatch). */
  private tooSlowSinceLog = 0;

  constructor(
    private readonly deps: RawWriteFrontDeps,
    private readonly guard: ConnectionGuard,
    /** Gives a connection (with its unread bytes pushed back) to node:http. */
    private readonly toNode: (socket: Socket) => void,
  ) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** A new connection (node:http's 'connection' listener, which the front stands in for). */
  accept(socket: Socket): void {
    if (this.closing) return this.toNode(socket);
    const now = performance.now();
    const conn: FastConnection = {
      socket,
      onData: (chunk) => this.received(conn, chunk),
      onError: () => socket.destroy(),
      onEnd: () => this.clientEnded(conn),
      ended: false,
      busy: false,
      acceptedAt: now,
      lastAnswerAt: now,
      served: false,
    };
    this.open.add(conn);
    socket.setNoDelay(true);
    socket.on('data', conn.onData);
    // node:http adds its own once it has the connection; until then an error must not go unheard
    socket.on('error', conn.onError);
    socket.on('end', conn.onEnd);
    socket.once('close', () => {
      this.open.delete(conn);
      this.abandon(conn);
    });
  }

  /** Shutdown: no new requests are served here; idle connections are closed now and as they become idle. */
  beginShutdown(): void {
    this.closing = true;
    clearInterval(this.sweeper);
    this.closeIdle();
  }

  /** Closes the connections with no request in flight (node:http's closeIdleConnections for this front's ones). */
  closeIdle(): void {
    for (const conn of this.open) if (!conn.busy && !conn.pending) conn.socket.destroy();
  }

  /**
   * The client half-closed (node:http's server does not keep half-open connections either): the
   * requests it sent in full that the front serves are answered, then the connection is closed. What
   * is left — a request cut short, or one for node:http, whose server aborts a request in flight when
   * the client ends — is dropped with it.
   */
  private clientEnded(conn: FastConnection): void {
    conn.ended = true;
    // a body cut short can never be served: closing the socket counts it as gone (abandon)
    if (conn.receiving) return void conn.socket.destroy();
    if (!conn.busy) this.serveNext(conn);
  }

  private received(conn: FastConnection, chunk: Buffer): void {
    const receiving = conn.receiving;
    if (receiving) {
      const n = Math.min(receiving.body.length - receiving.filled, chunk.length);
      chunk.copy(receiving.body, receiving.filled, 0, n);
      receiving.filled += n;
      // the bytes past the body are the next (pipelined) request's
      if (n < chunk.length) conn.pending = chunk.subarray(n);
      if (receiving.filled === receiving.body.length) {
        conn.receiving = undefined;
        this.start(conn, receiving.search, receiving.body, receiving.hold, receiving.started);
      }
      return;
    }
    conn.pending = conn.pending ? Buffer.concat([conn.pending, chunk]) : chunk;
    if (conn.busy) {
      if (conn.pending.length > MAX_AHEAD) conn.socket.pause();
      return;
    }
    this.serveNext(conn);
  }

  /** Serves the next request in `conn.pending`, or hands the connection to node:http (closes it once the client ended). */
  private serveNext(conn: FastConnection): void {
    const pending = conn.pending;
    if (!pending || pending.length === 0) {
      conn.pending = undefined;
      if (conn.ended) conn.socket.end();
      return;
    }
    const giveUp = () => (conn.ended ? void conn.socket.destroy() : this.handOver(conn));
    if (this.closing) return giveUp();
    const head = readWriteHead(pending, 0);
    if (typeof head === 'string') return giveUp();
    const bodyEnd = head.bodyStart + head.contentLength;
    const whole = pending.length >= bodyEnd;
    if (!whole && conn.ended) return giveUp();
    const { node } = this.deps.cluster.topology;
    if (node.writeTracing || accessFor('/write', 'POST', node) !== 'open') return giveUp();
    // the limits node:http's path checks first: refused ones go there and get its 503
    if (!this.deps.gate.takeSlot()) return giveUp();
    const hold = this.deps.budget.tryHold(head.contentLength, node.maxBufferedWriteBytes);
    if (!hold) {
      this.deps.gate.leave();
      return giveUp();
    }
    conn.busy = true;
    if (!conn.served) {
      conn.served = true;
      this.guard.served(conn.socket);
    }
    if (!whole) {
      const body = this.deps.write.acquireBody(head.contentLength);
      const filled = pending.copy(body, 0, head.bodyStart);
      conn.pending = undefined;
      conn.receiving = { search: head.search, body, filled, hold, startedAt: Date.now(), started: performance.now() };
      return;
    }
    const body = pending.subarray(head.bodyStart, bodyEnd);
    conn.pending = bodyEnd < pending.length ? pending.subarray(bodyEnd) : undefined;
    this.start(conn, head.search, body, hold, performance.now());
  }

  /** Serves a request whose body is all here; the connection's next request waits for its answer. */
  private start(conn: FastConnection, search: string, body: Buffer, hold: WriteHold, started: number): void {
    this.serve(conn, search, body, hold, started).then(
      () => this.answered(conn),
      () => this.answered(conn),
    );
  }

  /**
   * The connection closed (the client went away, or the front closed it) with a body still arriving:
   * its buffer, budget and request slot go back, and it counts as a write the client abandoned.
   */
  private abandon(conn: FastConnection): void {
    const receiving = conn.receiving;
    if (!receiving) return;
    conn.receiving = undefined;
    this.endReceiving(receiving, 0);
    this.deps.metrics.clientAbortedWrites.inc();
    this.logger.debug(`a write's client went away after ${receiving.filled} of ${receiving.body.length} body bytes`);
  }

  private endReceiving(receiving: BodyInProgress, status: number): void {
    this.deps.write.releaseBody(receiving.body);
    receiving.hold.release();
    this.deps.gate.leave();
    this.deps.observer.writeDone(status, receiving.started);
  }

  private async serve(conn: FastConnection, search: string, body: Buffer, hold: WriteHold, started: number): Promise<void> {
    this.deps.metrics.rawFrontWrites.inc();
    const requestId = randomUUID();
    const topology = this.deps.cluster.topology;
    const headers = influxHeaders(topology.version, requestId);
    const answer = new RawAnswer(conn.socket, this.trailingHeaders(topology.node.idleTimeout));
    try {
      await this.deps.write.writeRead(answer, search, body, hold, requestId, headers);
    } catch (err) {
      this.logger.error({ msg: `request ${requestId} failed: ${(err as Error)?.stack ?? err}`, reqId: requestId });
      writeInfluxError(answer, 500, 'internal error');
    } finally {
      if (hold.orphaned) hold.release();
      this.deps.gate.leave();
      // an answer the socket did not take (the client left) counts as node:http's 'aborted' (0)
      this.deps.observer.writeDone(answer.sent ? answer.status : 0, started);
    }
  }

  private answered(conn: FastConnection): void {
    const { socket } = conn;
    conn.lastAnswerAt = performance.now();
    if (socket.destroyed) return;
    if (socket.writableNeedDrain) {
      // a client that sends without reading its answers: serve its next request once it has read these
      socket.pause();
      socket.once('drain', () => this.answered(conn));
      return;
    }
    conn.busy = false;
    if (socket.isPaused()) socket.resume();
    this.serveNext(conn);
  }

  /** node:http takes the connection over, with the bytes not served here, and keeps it. */
  private handOver(conn: FastConnection): void {
    const { socket } = conn;
    this.open.delete(conn);
    socket.removeListener('data', conn.onData);
    socket.removeListener('error', conn.onError);
    socket.removeListener('end', conn.onEnd);
    if (socket.destroyed) return;
    socket.pause();
    if (conn.pending) socket.unshift(conn.pending);
    conn.pending = undefined;
    this.toNode(socket);
    // unshifted bytes are emitted on the next tick, before any later read reaches node's parser
    socket.resume();
  }

  /** node:http's own idle handling, for the connections it has not seen. */
  private sweep(): void {
    const { node, version } = this.deps.cluster.topology;
    const now = performance.now();
    for (const conn of this.open) {
      if (conn.receiving) {
        this.checkBody(conn, conn.receiving, node.minBodyRate, node.requestTimeout, version);
        continue;
      }
      if (conn.busy || conn.pending) continue;
      if (!conn.served) {
        // a connection that never sent a request: node answers 408 at headersTimeout
        if (now - conn.acceptedAt >= node.headersTimeout * 1000) {
          this.open.delete(conn);
          conn.socket.end(closingAnswer('408 Request Timeout'));
        }
      } else if (now - conn.lastAnswerAt >= node.idleTimeout * 1000) {
        conn.socket.destroy(); // keepAliveTimeout: node destroys an idle keep-alive connection
      }
    }
    if (this.tooSlowSinceLog > 0) {
      this.logger.warn(bodiesTooSlowWarning(this.tooSlowSinceLog));
      this.tooSlowSinceLog = 0;
    }
  }

  /**
   * A body arriving too slowly ends as on node:http's path: below minBodyRate (bodyTooSlow), the 408
   * of SlowBodyWatch with influxd's error body; past requestTimeout, node's own 408.
   * Either way the connection is closed.
   */
  private checkBody(conn: FastConnection, receiving: BodyInProgress, minRate: number, requestTimeout: number, version: string): void {
    const elapsed = Date.now() - receiving.startedAt;
    const slow = bodyTooSlow(receiving.filled, minRate, elapsed);
    if (!slow && elapsed < requestTimeout * 1000) return;
    conn.receiving = undefined;
    this.open.delete(conn);
    this.endReceiving(receiving, 408);
    const { socket } = conn;
    if (slow) {
      this.dateLineNow();
      const answer = new RawAnswer(socket, `${this.dateLine}\r\n`);
      const message = bodyTooSlowMessage(receiving.filled, minRate, elapsed);
      writeInfluxError(answer, 408, message, { ...influxHeaders(version, randomUUID()), Connection: 'close' });
      this.tooSlowSinceLog++;
    } else {
      socket.write(closingAnswer('408 Request Timeout'));
    }
    socket.end();
    socket.once('finish', () => socket.destroy());
  }

  /** Date, Connection and Keep-Alive as node:http ends a keep-alive answer's head (Date cached per second). */
  private trailingHeaders(idleTimeout: number): string {
    this.dateLineNow();
    // as node: the header whenever keepAliveTimeout is set, its seconds rounded down
    const keepAlive = idleTimeout > 0 ? `Keep-Alive: timeout=${Math.floor(idleTimeout)}\r\n` : '';
    return `${this.dateLine}Connection: keep-alive\r\n${keepAlive}\r\n`;
  }

  /** node:http's Date header line, cached per second. */
  private dateLineNow(): void {
    const ms = Date.now();
    const second = Math.floor(ms / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateLine = `Date: ${new Date(ms).toUTCString()}\r\n`;
    }
  }
}

/** An answer written straight to the socket, byte for byte as node:http writes the same writeHead/end. */
class RawAnswer implements AnswerTarget {
  headersSent = false;
  status = 0;
  /** The whole answer was handed to the socket. */
  sent = false;
  private head = '';

  constructor(
    private readonly socket: Socket,
    private readonly trailer: string,
  ) {}

  writeHead(status: number, headers: OutgoingHttpHeaders): this {
    this.status = status;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}\r\n`;
      else head += `${name}: ${value}\r\n`;
    }
    this.head = head + this.trailer;
    this.headersSent = true;
    return this;
  }

  end(body?: string): this {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return this;
    if (body === undefined || body.length === 0) {
      socket.write(this.head, 'latin1');
    } else {
      socket.cork();
      socket.write(this.head, 'latin1');
      socket.write(body, 'utf8');
      socket.uncork();
    }
    this.sent = true;
    return this;
  }

  destroy(): this {
    this.socket.destroy();
    return this;
  }
}
