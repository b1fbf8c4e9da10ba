import type { PingResult, QueryRequest } from '@app/backend';
import { type ContextLogger, loggerFor } from '@app/logging';
import type { Dispatcher } from 'undici';

/**
 * How long a query may wait for its answer before its backend's liveness is checked. influxd answers
 * a typical dashboard query within milliseconds; one that waits a second is either heavy or on a
 * backend that stopped answering (SIGSTOP, a long GC pause, a disk stall).
 */
export const LIVENESS_WAIT_MS = 1_000;
/**
 * How long the liveness ping may take. influxd answers /ping from its HTTP goroutines without touching
 * the query engine or the disk, so even a backend busy with heavy queries answers it in milliseconds;
 * one that says nothing for a second is frozen. With LIVENESS_WAIT_MS this bounds what a frozen
 * backend costs a query at about 2 s before the next replica is asked.
 */
export const LIVENESS_PING_TIMEOUT_MS = 1_000;

/** What the liveness check needs of a backend (a `Backend` fits). */
export interface WatchedBackend {
  readonly name: string;
  readonly client: {
    queryStream(request: QueryRequest, handler: Dispatcher.DispatchHandler): void;
    answersWithin(timeoutMs: number): Promise<PingResult>;
  };
  /** Counts the backend as failing for this proxy (queries and writes go elsewhere, the sentinel is told). */
  markFailing(error: string): void;
}

export interface LivenessTiming {
  waitMs: number;
  pingTimeoutMs: number;
}

/**
 * Until when a query can still be re-sent elsewhere: its answer's first byte (a streamed answer, which
 * is committed to the client as its bytes arrive) or its end (an answer read whole before the proxy
 * writes anything). Not its head: influxd flushes `200` and its headers before it runs the query.
 */
export type WatchedUntil = 'first-byte' | 'end';

/** Why a query was taken back from its backend: the next replica may answer it. */
export class BackendFrozenError extends Error {
  override readonly name = 'BackendFrozenError';
}

/**
 * Watches backends while their queries wait for an answer. Once a query has waited `waitMs` for its
 * answer (see WatchedUntil), its backend is pinged on a connection of its own (one ping per backend at a time,
 * shared by all its waiting queries, at most one per `waitMs` while any waits). A backend that answers
 * is merely slow and its queries keep waiting: a heavy query is never sent twice. One that does not
 * answer within `pingTimeoutMs` is frozen: it is marked failing at once, and every query still waiting
 * on it is aborted, so that the caller re-sends it to the next replica before the client sees anything.
 */
export class BackendLiveness {
  private readonly logger = loggerFor('BackendLiveness');
  private readonly watches = new WeakMap<WatchedBackend, BackendWatch>();

  constructor(private readonly timing: LivenessTiming = { waitMs: LIVENESS_WAIT_MS, pingTimeoutMs: LIVENESS_PING_TIMEOUT_MS }) {}

  /** Sends a query to `backend` as `client.queryStream` would, watched until `until`. */
  queryStream(backend: WatchedBackend, request: QueryRequest, handler: Dispatcher.DispatchHandler, until: WatchedUntil): void {
    let watch = this.watches.get(backend);
    if (!watch) {
      watch = new BackendWatch(backend, this.timing, this.logger);
      this.watches.set(backend, watch);
    }
    const watched = new WatchedQuery(handler, watch, until === 'first-byte');
    watch.add(watched);
    try {
      backend.client.queryStream(request, watched);
    } catch (err) {
      watch.remove(watched);
      throw err;
    }
  }
}

/** One backend's waiting queries and its liveness ping. */
class BackendWatch {
  /** In arrival order: the first is the one that has waited longest. */
  private readonly waiting = new Set<WatchedQuery>();
  private timer?: NodeJS.Timeout;
  private pinging = false;

  constructor(
    private readonly backend: WatchedBackend,
    private readonly timing: LivenessTiming,
    private readonly logger: ContextLogger,
  ) {}

  add(query: WatchedQuery): void {
    this.waiting.add(query);
    if (!this.timer && !this.pinging) this.schedule(this.timing.waitMs);
  }

  remove(query: WatchedQuery): void {
    if (!this.waiting.delete(query) || this.waiting.size > 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    const oldest = this.waiting.values().next().value;
    if (!oldest) return;
    const waited = performance.now() - oldest.since;
    if (waited < this.timing.waitMs) {
      this.schedule(this.timing.waitMs - waited);
      return;
    }
    void this.ping(waited);
  }

  private async ping(waited: number): Promise<void> {
    this.pinging = true;
    let result: PingResult;
    try {
      result = await this.backend.client.answersWithin(this.timing.pingTimeoutMs);
    } catch (err) {
      result = { ok: false, error: (err as Error).message };
    } finally {
      this.pinging = false;
    }
    if (result.ok) {
      // merely slow: its queries keep waiting; the next check no sooner than waitMs from now
      if (this.waiting.size > 0 && !this.timer) this.schedule(this.timing.waitMs);
      return;
    }
    // every query that waited got its answer during the ping: the backend is answering, no verdict
    if (this.waiting.size === 0) return;
    const frozen = this.waiting.size;
    const error =
      `backend ${this.backend.name} looks frozen: a query waited ${Math.round(waited)} ms for an answer ` +
      `and a liveness ping failed (${result.error ?? 'no answer'})`;
    this.logger.warn(`${error}; marked failing, ${frozen} waiting quer${frozen === 1 ? 'y' : 'ies'} sent to the next replica`);
    this.backend.markFailing(error);
    const reason = new BackendFrozenError(error);
    const queries = [...this.waiting];
    this.waiting.clear();
    for (const q of queries) q.takeBack(reason);
  }
}

/**
 * A query's dispatch handler wrapped so that its backend's watch knows when the answer has come far
 * enough, and can abort it (with the reason the caller reads as "ask the next replica") before then.
 */
class WatchedQuery implements Dispatcher.DispatchHandler {
  readonly since = performance.now();
  private controller?: Dispatcher.DispatchController;
  private takenBack?: Error;
  private watching = true;

  constructor(
    private readonly inner: Dispatcher.DispatchHandler,
    private readonly watch: BackendWatch,
    private readonly untilFirstByte: boolean,
  ) {}

  /** Aborts the request now, or as soon as it leaves the pool's queue for a connection. */
  takeBack(reason: Error): void {
    this.watching = false;
    this.takenBack = reason;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.controller = controller;
    this.inner.onRequestStart?.(controller, context);
    if (this.takenBack && !controller.aborted) controller.abort(this.takenBack);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    this.inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.untilFirstByte) this.done();
    this.inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.done();
    this.inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.done();
    this.inner.onResponseError?.(controller, error);
  }

  private done(): void {
    if (!this.watching) return;
    this.watching = false;
    this.watch.remove(this);
  }
}
