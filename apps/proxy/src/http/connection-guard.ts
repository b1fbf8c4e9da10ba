import type { Logger } from '@nestjs/common';
import type { IncomingMessage, Server } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import type { Socket } from 'node:net';

/** Why the listener closed a connection itself (the `reason` label of client_connections_dropped_total). */
export type ConnectionDropReason = 'address_cap' | 'handshake_timeout' | 'tls_error' | 'shutdown';

/** What the guard reports, so /metrics can count it. */
export interface ConnectionEvents {
  opened(): void;
  closed(): void;
  dropped(reason: ConnectionDropReason): void;
  acceptFailed(code: string): void;
}

/** The limits read from the current config at each use (a reload applies to new connections). */
export interface ConnectionLimits {
  /** Connections open at once from one address; 0: no cap. */
  readonly maxPerAddress: number;
  /** Time from accept to a finished TLS handshake, in ms. */
  readonly handshakeMs: number;
}

/** A connection's state, from accept to close. */
interface Tracked {
  readonly raw: Socket;
  readonly address: string;
  readonly acceptedAt: number;
  /** `remoteAddress remotePort`: how a finished TLS handshake finds its raw connection. */
  readonly endpoint: string;
  /** handshake: TLS not yet finished; ready: HTTP may come (no request yet); served: a request came. */
  phase: 'handshake' | 'ready' | 'served';
}

/** Descriptors short of the limit that count as exhausted (libuv keeps one in reserve; spool and backends take some). */
const FD_MARGIN = 16;

/** How often TLS handshakes are checked against their deadline (node's own header checks run every 1 s too). */
const SWEEP_MS = 1_000;
/** An episode of refusals is over once this long has passed without one; then its totals are logged. */
const EPISODE_QUIET_MS = 10_000;

/**
 * Every connection the listener accepts, from accept to close — the part of a connection's life
 * node:http does not see (it tracks a connection only once HTTP can flow, after a TLS handshake):
 * - at most `maxPerAddress` open at once per client address; the next ones are closed as they come;
 * - a TLS handshake must finish within `handshakeMs` of accept (node's own handshakeTimeout restarts
 *   its clock on reloads it does not see, and only fires when the socket is idle), else the socket is
 *   destroyed — destroyed, not ended: an end() on a TLS socket still in its handshake waits for the
 *   handshake and leaves the connection in CLOSE-WAIT forever;
 * - at shutdown, connections that never brought a request are destroyed at once (node's
 *   closeIdleConnections does not see them, and its header timeout stops once the server closes), and
 *   every one still open past the drain deadline is destroyed.
 * Refusals are counted and logged once per episode (the first at once, the totals once it is over).
 */
export class ConnectionGuard {
  private readonly open = new Map<Socket, Tracked>();
  /** Connections still in their TLS handshake, by `remoteAddress remotePort`, oldest first. */
  private readonly handshaking = new Map<string, Tracked>();
  /** The socket HTTP runs on (the TLS socket for HTTPS) → its connection. */
  private readonly bySocket = new WeakMap<Socket, Tracked>();
  private readonly perAddress = new Map<string, number>();
  private sweeper?: NodeJS.Timeout;
  private stopping = false;
  readonly capEpisode: EpisodeLog;
  readonly handshakeEpisode: EpisodeLog;
  readonly acceptEpisode: EpisodeLog;

  /**
   * @param fdLimit the process's open-file limit, when known: libuv hides most EMFILEs on accept (it
   *   accepts and closes the connection itself, so node never hears of it), so the guard looks at the
   *   process's open descriptors instead while its connections are many.
   */
  constructor(
    private readonly tls: boolean,
    private readonly limits: () => ConnectionLimits,
    private readonly events: ConnectionEvents,
    logger: Logger,
    private readonly fdLimit?: number,
  ) {
    this.capEpisode = new EpisodeLog(logger, 'connections closed at once: their address already had maxConnectionsPerAddress open');
    this.handshakeEpisode = new EpisodeLog(logger, 'TLS connections closed without a finished handshake (timed out or failed)');
    this.acceptEpisode = new EpisodeLog(
      logger,
      'out of file descriptors: new connections are refused by the system until some close (stalled clients are dropped at headersTimeout)',
    );
  }

  /** Connections open now. */
  get size(): number {
    return this.open.size;
  }

  attach(server: Server): void {
    server.on('connection', (raw: Socket) => this.accepted(raw));
    if (this.tls) server.on('secureConnection', (socket: Socket) => this.secured(socket));
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
    server.on('request', (req: IncomingMessage) => {
      const tracked = this.bySocket.get(req.socket);
      if (tracked) tracked.phase = 'served';
    });
    server.on('close', () => clearInterval(this.sweeper));
  }

  /** A request came on `socket` that node:http did not see (the raw write front served it). */
  served(socket: Socket): void {
    const tracked = this.bySocket.get(socket);
    if (tracked) tracked.phase = 'served';
  }

  /** A TLS error on a connection (node's `clientError` for a TLS socket): counted unless the client just left. */
  tlsFailed(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET') return; // the client went away, or the guard closed it
    this.events.dropped(err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'tls_error');
    this.handshakeEpisode.note(socket.remoteAddress ?? err.code ?? 'error');
  }

  /** The listener failed to accept a connection (EMFILE, ENFILE): counted and logged; the listener keeps going. */
  acceptFailed(err: NodeJS.ErrnoException): void {
    const code = err.code ?? 'error';
    this.events.acceptFailed(code);
    this.acceptEpisode.note(code);
  }

  /** Shutdown begins: connections that never brought a request are destroyed; later ones at once. */
  beginShutdown(): void {
    this.stopping = true;
    clearInterval(this.sweeper);
    for (const tracked of this.open.values()) if (tracked.phase !== 'served') this.drop(tracked, 'shutdown');
  }

  /** The drain deadline has passed: every connection still open is destroyed. */
  destroyAll(): void {
    for (const tracked of this.open.values()) this.drop(tracked, 'shutdown');
  }

  private accepted(raw: Socket): void {
    const address = raw.remoteAddress ?? '';
    const held = this.perAddress.get(address) ?? 0;
    const cap = this.limits().maxPerAddress;
    if (this.stopping || (cap > 0 && held >= cap)) {
      raw.destroy();
      if (!this.stopping) {
        this.events.dropped('address_cap');
        this.capEpisode.note(address);
      }
      return;
    }
    this.perAddress.set(address, held + 1);
    const tracked: Tracked = {
      raw,
      address,
      acceptedAt: Date.now(),
      endpoint: `${address} ${raw.remotePort}`,
      phase: this.tls ? 'handshake' : 'ready',
    };
    this.open.set(raw, tracked);
    if (this.tls) this.handshaking.set(tracked.endpoint, tracked);
    else this.bySocket.set(raw, tracked);
    this.events.opened();
    raw.once('close', () => this.closed(tracked));
  }

  private secured(socket: Socket): void {
    const endpoint = `${socket.remoteAddress} ${socket.remotePort}`;
    const tracked = this.handshaking.get(endpoint);
    if (!tracked) return;
    this.handshaking.delete(endpoint);
    tracked.phase = 'ready';
    this.bySocket.set(socket, tracked);
  }

  private closed(tracked: Tracked): void {
    this.open.delete(tracked.raw);
    if (this.handshaking.get(tracked.endpoint) === tracked) this.handshaking.delete(tracked.endpoint);
    const held = (this.perAddress.get(tracked.address) ?? 1) - 1;
    if (held > 0) this.perAddress.set(tracked.address, held);
    else this.perAddress.delete(tracked.address);
    this.events.closed();
  }

  /**
   * Destroys TLS connections past their handshake deadline (the map is in accept order: stops at the
   * first in time); notes an episode of descriptor exhaustion.
   */
  private sweep(): void {
    if (this.fdLimit !== undefined && this.open.size >= this.fdLimit / 2) {
      const used = openDescriptors(this.fdLimit);
      if (used !== undefined && used >= this.fdLimit - FD_MARGIN) this.acceptEpisode.note(`${used} of ${this.fdLimit} descriptors in use`);
    }
    const deadline = Date.now() - this.limits().handshakeMs;
    for (const tracked of this.handshaking.values()) {
      if (tracked.acceptedAt > deadline) break;
      this.handshaking.delete(tracked.endpoint);
      this.events.dropped('handshake_timeout');
      this.handshakeEpisode.note(tracked.address);
      tracked.raw.destroy();
    }
  }

  private drop(tracked: Tracked, reason: ConnectionDropReason): void {
    if (tracked.raw.destroyed) return;
    this.events.dropped(reason);
    tracked.raw.destroy();
  }
}

/**
 * Logs a kind of refusal once per episode: the first one at once, then only counts, and when
 * EPISODE_QUIET_MS pass without one, a line with the totals. A flood thus costs two log lines.
 */
export class EpisodeLog {
  private count = 0;
  private started = 0;
  private last = 0;
  private readonly sources = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly what: string,
    private readonly quietMs = EPISODE_QUIET_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** One more; `source` is the client address (or the error code) it came from. */
  note(source: string): void {
    const now = this.now();
    if (this.count === 0) {
      this.started = now;
      this.logger.warn(`${this.what} (first from ${source}); counting until ${this.quietMs / 1000} s pass without one`);
      this.timer = setInterval(() => this.endIfQuiet(), Math.max(10, this.quietMs / 4));
      this.timer.unref();
    }
    this.count++;
    this.last = now;
    if (this.sources.size < 100) this.sources.add(source);
  }

  /** True while an episode is going on. */
  get active(): boolean {
    return this.count > 0;
  }

  private endIfQuiet(): void {
    const now = this.now();
    if (now - this.last < this.quietMs) return;
    const seconds = Math.round((this.last - this.started) / 100) / 10;
    const sources =
      this.sources.size >= 100 ? '100 or more sources' : `${this.sources.size} source(s): ${[...this.sources].slice(0, 5).join(', ')}`;
    this.logger.warn(`${this.what}: ${this.count} over ${seconds} s from ${sources}; episode over`);
    clearInterval(this.timer);
    this.count = 0;
    this.sources.clear();
  }
}

/** The process's soft limit of open files (Linux /proc), or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Descriptors the process has open now (Linux /proc), or undefined where it cannot be read. Reading
 * the directory takes a descriptor itself: EMFILE there means none is left.
 */
function openDescriptors(limit: number): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EMFILE' ? limit : undefined;
  }
}
