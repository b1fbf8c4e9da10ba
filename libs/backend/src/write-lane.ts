import * as net from 'node:net';
import * as tls from 'node:tls';
import { type HttpAnswer, HttpAnswerParser } from './http-answer-parser';

/** Where a lane connects, and how long it waits. */
export interface WriteLaneTarget {
  readonly host: string;
  readonly port: number;
  /** TLS options for an https backend (the lane verifies the certificate); absent for http. */
  readonly tls?: tls.ConnectionOptions;
  /** Longest wait for a connection to open. */
  readonly connectTimeoutMs: number;
  /** Idle keep-alive connections kept for the next writes. */
  readonly maxIdle: number;
}

/** A connection with its answer in progress. */
interface LaneSocket {
  readonly socket: net.Socket;
  /** Set while a request waits for its answer. */
  pending?: {
    parser: HttpAnswerParser;
    resolve: (answer: HttpAnswer) => void;
    reject: (err: Error) => void;
  };
  /** Has carried an answer before (a connection the server may have closed while it sat idle). */
  reused: boolean;
  /** Connected (and, for https, the handshake done). */
  open: boolean;
  /** The request's silence limit, applied once the connection is open. */
  timeoutMs: number;
}

/**
 * HTTP/1.1 keep-alive connections to one backend for its writes: each batch is one corked socket
 * write (head and body in one syscall) and its answer is read by a small parser. A general-purpose
 * client costs about twice as much CPU a request (61 vs 32 µs for a one-line POST to a Go sink on this
 * machine), and a proxy fed one-point writes sends a backend batch for every few of them. Queries,
 * pings and everything else stay on the BackendClient's undici pool.
 */
export class WriteLane {
  private readonly idle: LaneSocket[] = [];
  private inFlight = 0;
  private closed = false;
  private drained?: () => void;

  constructor(private readonly target: WriteLaneTarget) {}

  /**
   * Sends one request (`head` ends with the blank line; `body` follows it) and resolves with the
   * whole answer. Rejects on a connection that fails, or stays silent `timeoutMs`, before the answer
   * is whole. A write on a reused connection that the server had closed is sent again on a new one
   * (points are idempotent, and nothing of an answer had arrived).
   */
  async post(head: string, body: Buffer | readonly Buffer[], timeoutMs: number): Promise<HttpAnswer> {
    if (this.closed) throw Object.assign(new Error('backend client closed'), { code: 'ECLOSED' });
    this.inFlight++;
    try {
      const lane = this.idle.pop();
      if (lane) {
        lane.socket.ref();
        try {
          return await this.send(lane, head, body, timeoutMs);
        } catch (err) {
          if (!(err as { retryable?: boolean }).retryable) throw err;
        }
      }
      return await this.send(this.connect(), head, body, timeoutMs);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.drained) this.drained();
    }
  }

  /** Closes idle connections now and the others once their answers are in; resolves when none is in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.idle.splice(0)) lane.socket.destroy();
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
  }

  private connect(): LaneSocket {
    const { host, port, connectTimeoutMs } = this.target;
    const socket = this.target.tls
      ? tls.connect({ ...this.target.tls, host, port, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    const lane: LaneSocket = { socket, reused: false, open: false, timeoutMs: connectTimeoutMs };
    socket.setTimeout(connectTimeoutMs);
    socket.once(this.target.tls ? 'secureConnect' : 'connect', () => {
      lane.open = true;
      // from here on the request's own limit applies
      if (lane.pending) socket.setTimeout(lane.timeoutMs);
    });
    socket.on('data', (data: Buffer) => this.onData(lane, data));
    socket.on('end', () => this.onEnd(lane));
    socket.on('timeout', () => {
      const why = lane.open ? `no answer within ${lane.timeoutMs} ms` : `connect timed out after ${connectTimeoutMs} ms`;
      socket.destroy(Object.assign(new Error(why), { code: 'ETIMEDOUT' }));
    });
    socket.on('error', (err) => this.fail(lane, err));
    socket.on('close', () => {
      this.forget(lane);
      this.fail(lane, Object.assign(new Error('connection closed before the answer'), { code: 'ECONNRESET' }));
    });
    return lane;
  }

  private send(lane: LaneSocket, head: string, body: Buffer | readonly Buffer[], timeoutMs: number): Promise<HttpAnswer> {
    const { socket } = lane;
    return new Promise<HttpAnswer>((resolve, reject) => {
      lane.pending = { parser: new HttpAnswerParser(), resolve, reject };
      lane.timeoutMs = timeoutMs;
      if (lane.open) socket.setTimeout(timeoutMs);
      socket.cork();
      socket.write(head, 'latin1');
      if (Buffer.isBuffer(body)) socket.write(body);
      else for (const chunk of body) socket.write(chunk);
      socket.uncork();
    });
  }

  private onData(lane: LaneSocket, data: Buffer): void {
    const pending = lane.pending;
    if (!pending) {
      // bytes nobody asked for: this connection cannot be trusted with the next answer
      lane.socket.destroy();
      return;
    }
    let answer: HttpAnswer | undefined;
    try {
      answer = pending.parser.push(data);
    } catch (err) {
      lane.socket.destroy(err as Error);
      return;
    }
    if (answer) this.done(lane, answer);
  }

  private onEnd(lane: LaneSocket): void {
    const answer = lane.pending?.parser.end();
    if (answer) this.done(lane, answer);
    else lane.socket.destroy();
  }

  private done(lane: LaneSocket, answer: HttpAnswer): void {
    const pending = lane.pending!;
    lane.pending = undefined;
    lane.reused = true;
    const { socket } = lane;
    socket.setTimeout(0);
    if (answer.keepAlive && !this.closed && this.idle.length < this.target.maxIdle && !socket.destroyed) {
      // an idle connection does not keep the process alive (a CLI run ends when its work does)
      socket.unref();
      this.idle.push(lane);
    } else socket.destroy();
    pending.resolve(answer);
  }

  private fail(lane: LaneSocket, err: Error): void {
    const pending = lane.pending;
    if (!pending) return;
    lane.pending = undefined;
    // the server closed a kept-alive connection just as this write went out: nothing of an answer came
    const retryable = lane.reused && !pending.parser.started && (err as { code?: string }).code !== 'ETIMEDOUT';
    pending.reject(retryable ? Object.assign(err, { retryable: true }) : err);
  }

  private forget(lane: LaneSocket): void {
    const at = this.idle.indexOf(lane);
    if (at >= 0) this.idle.splice(at, 1);
  }
}
