import type { Backend } from '@app/backend';
import { type WholeAnswer, describeError, errorTextOf } from '@app/backend';
import { backendDatabase } from '@app/config';
import { influxHeaders, writeInfluxError } from '@app/http-compat';
import {
  type PromQuery,
  type PromReadRequest,
  type PromTimeSeries,
  ReadRequestCodec,
  ReadResponseCodec,
  snappyCompress,
  snappyUncompress,
} from '@app/prom-remote';
import { type ReadQueryPlan, mergeReadResults, planReadQuery } from '@app/prom-remote/read-plan';
import { decodeReadRequest, singleQueryRequest, snappyDecodedLength } from '@app/prom-remote/read-request';
import { AnswerBudget, BackendFrozenError, LIVENESS_PING_TIMEOUT_MS, LIVENESS_WAIT_MS } from '@app/query';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClusterStateService } from '../cluster/cluster-state.service';
import type { Topology } from '../cluster/topology';
import { writeMethodNotAllowed } from '../http/method-not-allowed';
import type { CounterCell } from '../metrics/hot-metrics';
import { HotCounter } from '../metrics/hot-metrics';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { SentinelViewService } from '../sentinel/sentinel-view.service';

/** The proxy's metric names' prefix (as proxy-metrics.ts's). */
const PREFIX = 'influxdb_proxy_';

/** influxd's default max-body-size, which bounds a read request's body as it bounds a write's. */
const MAX_BODY_BYTES = 25_000_000;

/** How a remote read request ended (the `outcome` label of prom_read_requests_total). */
type ReadOutcome = 'ok' | 'bad_request' | 'refused' | 'backend_error' | 'unavailable' | 'too_large';

/** One query's answer: its series, or why the request fails (the first failing query, in order, decides). */
type QueryAnswer = { ok: true; series: PromTimeSeries[] } | { ok: false; status: number; error: string; outcome: ReadOutcome };
/** One backend set's answer to a query: the series of the member that answered. */
type GroupAnswer = { ok: true; series: PromTimeSeries[]; backend: number } | Extract<QueryAnswer, { ok: false }>;

/** Most bytes one backend's answer may decode to (the protobuf behind its snappy block), whatever the budget. */
const MAX_DECODED_ANSWER_BYTES = 256 << 20;

/** What the queries of one client request share while they are answered. */
interface ReadContext {
  topology: Topology;
  request: PromReadRequest;
  rp: string;
  /** The client's db on a proxy serving several (each backend reads it as its dbMap maps it); else undefined. */
  clientDb?: string;
  requestId: string;
  /** Aborts the backend requests when the client goes away. */
  signal: AbortSignal;
  /** The bytes of backend answers this request may still hold (maxQueryAnswerBytes, as /query's merged answers). */
  budget: AnswerBudget;
}

/** The backends' answers to a request are more than it may hold: its answer is an error, no replica is asked. */
class AnswerTooLargeError extends Error {}

function tooLargeMessage(budget: AnswerBudget): string {
  const limit =
    Number.isFinite(budget.limit) && budget.limit > 0 ? `${budget.limit} bytes (maxQueryAnswerBytes)` : `${MAX_DECODED_ANSWER_BYTES} bytes`;
  return `the backends' answers to this remote read are larger than ${limit}, too large for the proxy to merge; read a shorter range or fewer series`;
}

/** Charges every chunk of a backend answer to the request's budget; past it, the answer stops with an error. */
function admitWithin(budget: AnswerBudget): (chunkBytes: number) => Error | undefined {
  return (chunkBytes) => {
    budget.left -= chunkBytes;
    return budget.left < 0 ? new AnswerTooLargeError(tooLargeMessage(budget)) : undefined;
  };
}

/** Why a request body could not be read. */
class ReadBodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * POST /api/v1/prom/read: Prometheus remote read. Each query of the ReadRequest goes to a backend's
 * own /api/v1/prom/read as a one-query request (influxd serves one query per request): a query naming
 * its metric (an EQ `__name__` matcher) to a healthy backend holding that measurement, failing over to
 * the next replica on a network error, timeout or 5xx; any other to one replica of every keymap set,
 * the series merged. Nothing reaches the client until every query has its answer, so a failover is
 * never seen by it. The answer is one snappy ReadResponse, results in query order.
 */
@Injectable()
export class PromReadHandler {
  private readonly logger = new Logger(PromReadHandler.name);
  private readonly outcomes: Record<ReadOutcome, CounterCell>;
  private readonly failovers: HotCounter;
  private readonly backendRequests: HotCounter;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly sentinel: SentinelViewService,
    metrics: ProxyMetrics,
  ) {
    const requests = new HotCounter(
      `${PREFIX}prom_read_requests_total`,
      'Prometheus remote read requests, by how they ended',
      ['outcome'],
      metrics.registry,
    );
    this.outcomes = {
      ok: requests.labels('ok'),
      bad_request: requests.labels('bad_request'),
      refused: requests.labels('refused'),
      backend_error: requests.labels('backend_error'),
      unavailable: requests.labels('unavailable'),
      too_large: requests.labels('too_large'),
    };
    this.backendRequests = new HotCounter(
      `${PREFIX}prom_read_backend_requests_total`,
      'One-query remote read requests sent to a backend, by backend',
      ['backend'],
      metrics.registry,
    );
    this.failovers = new HotCounter(
      `${PREFIX}prom_read_failovers_total`,
      'Remote read queries a backend failed (network error, timeout, frozen, 5xx, unreadable answer), by the failed backend',
      ['backend'],
      metrics.registry,
    );
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URLSearchParams, requestId: string): Promise<void> {
    const topology = this.cluster.topology;
    const headers = () => influxHeaders(this.cluster.topology.version, requestId);
    if (req.method !== 'POST') {
      req.resume();
      return writeMethodNotAllowed(res, 'POST', headers());
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      if (!(err instanceof ReadBodyError)) throw err;
      this.outcomes.bad_request.inc();
      if (err.status === 413) res.setHeader('Connection', 'close');
      return writeInfluxError(res, err.status, err.message, headers());
    }
    const decoded = decodeReadRequest(body);
    if (!decoded.ok) return this.refuse(res, decoded.status, decoded.error, 'bad_request', requestId);
    // influxd's answer for a db it does not have: the proxy has only the ones it serves (a single-database
    // proxy its own, each backend reading its own db; one serving several the client's, as dbMap maps it)
    const db = url.get('db') ?? '';
    const multiDb = topology.routers.multiDb;
    if (db === '' || !topology.routers.serves(db)) {
      return this.refuse(res, 400, 'no database', 'bad_request', requestId);
    }
    const request = decoded.request;
    const settings = { maxRangeWithoutNameSeconds: topology.node.promReadMaxRangeWithoutName };
    const plans = request.queries.map((q) => planReadQuery(q, topology, settings, this.sentinel.readFence, db));
    const refused = plans.find((p) => p.kind === 'refused');
    if (refused) {
      this.logger.warn(`prom read ${requestId} from ${req.socket.remoteAddress ?? '?'} refused: ${refused.message}`);
      return this.refuse(res, 400, refused.message, 'refused', requestId);
    }
    // a query no backend can answer fails the request: nothing is sent for the others
    const unavailable = plans.find((p) => p.kind === 'unavailable');
    if (unavailable) {
      this.logger.warn(`prom read ${requestId}: 503 ${unavailable.message}`);
      return this.refuse(res, 503, unavailable.message, 'unavailable', requestId);
    }

    // the backends' requests are aborted when the client goes away before its answer
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableEnded) gone.abort();
    });
    const rp = url.get('rp') ?? '';
    const ctx: ReadContext = {
      topology,
      request,
      rp,
      clientDb: multiDb ? db : undefined,
      requestId,
      signal: gone.signal,
      budget: new AnswerBudget(topology.node.maxQueryAnswerBytes),
    };
    const answers = await Promise.all(plans.map((plan, i) => this.answerQuery(plan, i, ctx)));
    if (gone.signal.aborted) return;
    const failed = answers.find((a): a is Extract<QueryAnswer, { ok: false }> => !a.ok);
    if (failed) {
      if (failed.status >= 500) this.logger.warn(`prom read ${requestId}: ${failed.status} ${failed.error}`);
      return this.refuse(res, failed.status, failed.error, failed.outcome, requestId);
    }

    const encoded = ReadResponseCodec.encode({ results: answers.map((a) => ({ timeseries: (a as { series: PromTimeSeries[] }).series })) });
    const payload = snappyCompress(encoded);
    this.outcomes.ok.inc();
    res.writeHead(200, {
      ...headers(),
      'Content-Type': 'application/x-protobuf',
      'Content-Encoding': 'snappy',
      'Content-Length': payload.length,
    });
    res.end(payload);
  }

  private refuse(res: ServerResponse, status: number, error: string, outcome: ReadOutcome, requestId: string): void {
    this.outcomes[outcome].inc();
    writeInfluxError(res, status, error, influxHeaders(this.cluster.topology.version, requestId));
  }

  private async answerQuery(plan: ReadQueryPlan, index: number, ctx: ReadContext): Promise<QueryAnswer> {
    switch (plan.kind) {
      case 'refused':
        return { ok: false, status: 400, error: plan.message, outcome: 'refused' };
      case 'unavailable':
        return { ok: false, status: 503, error: plan.message, outcome: 'unavailable' };
      case 'single':
        return await this.askGroup(plan.candidates, ctx.request.queries[index], ctx);
      case 'fanout': {
        // each set's member reads only the measurements routed to that set: a replica in two sets gives
        // each series once, and a measurement left on a set the keymaps moved it from is not read there
        const query = ctx.request.queries[index];
        const parts = await Promise.all(
          plan.groups.map((group) => {
            const own = group.matcher ? { ...query, matchers: [...query.matchers, group.matcher] } : query;
            return this.askGroup(group.members, own, ctx);
          }),
        );
        const failed = parts.find((p): p is Extract<GroupAnswer, { ok: false }> => !p.ok);
        if (failed) return failed;
        return { ok: true, series: mergeReadResults(parts.map((p) => (p as Extract<GroupAnswer, { ok: true }>).series)) };
      }
    }
  }

  /**
   * Asks the members of one backend set in order until one answers. A 4xx is influxd's verdict on the
   * query (a bad regex, an unknown rp…): it is the answer, no replica would say otherwise.
   */
  private async askGroup(members: readonly number[], query: PromQuery, ctx: ReadContext): Promise<GroupAnswer> {
    const { topology, rp, requestId, signal } = ctx;
    const body = snappyCompress(ReadRequestCodec.encode(singleQueryRequest(ctx.request, query)));
    const admit = admitWithin(ctx.budget);
    const errors: string[] = [];
    for (const i of members) {
      const backend = topology.backends[i] as Backend;
      this.backendRequests.labels(backend.name).inc();
      let error: string;
      try {
        const db = ctx.clientDb === undefined ? undefined : backendDatabase(backend.config, ctx.clientDb, true);
        const answer = await this.readWatched(backend, body, rp, db, requestId, signal, admit);
        if (answer.status === 200) {
          // what the answer decodes to is bounded too: a small snappy answer can declare a huge message
          const decoded = snappyDecodedLength(answer.body) ?? 0;
          if (decoded > MAX_DECODED_ANSWER_BYTES) throw new AnswerTooLargeError(tooLargeMessage(ctx.budget));
          try {
            const response = ReadResponseCodec.decode(snappyUncompress(answer.body));
            return { ok: true, series: response.results[0]?.timeseries ?? [], backend: i };
          } catch (err) {
            error = `${backend.name}: unreadable answer (${(err as Error).message})`;
          }
        } else if (answer.status < 500) {
          return {
            ok: false,
            status: answer.status,
            error: errorTextOf(answer.status, answer.body.toString('utf8')),
            outcome: 'backend_error',
          };
        } else {
          error = `${backend.name} answered ${answer.status}: ${errorTextOf(answer.status, answer.body.toString('utf8'))}`;
        }
      } catch (err) {
        if (signal.aborted) return { ok: false, status: 499, error: 'client closed the connection', outcome: 'backend_error' };
        // too large to hold is this request's answer, not the backend's failure: no failover
        if (err instanceof AnswerTooLargeError) return { ok: false, status: 400, error: err.message, outcome: 'too_large' };
        error = `${backend.name}: ${describeError(err)}`;
      }
      errors.push(error);
      this.failovers.labels(backend.name).inc();
      this.logger.warn(
        `prom read ${requestId}: ${error}; ${errors.length < members.length ? 'asking the next replica' : 'no replica left'}`,
      );
    }
    return { ok: false, status: 503, error: `no backend could answer: ${errors.join('; ')}`, outcome: 'unavailable' };
  }

  /**
   * One backend's promRead, watched as /query's answers are (see BackendLiveness): once it has waited
   * LIVENESS_WAIT_MS, the backend is pinged on a connection of its own; one that answers is merely slow
   * and is waited for (checked again a wait later), one that does not is frozen (a SIGSTOPped or stalled
   * influxd): it is marked failing and the read is taken back, so that the next replica answers within
   * seconds instead of timeoutQuery.
   */
  private async readWatched(
    backend: Backend,
    body: Buffer,
    rp: string,
    db: string | undefined,
    requestId: string,
    clientGone: AbortSignal,
    admit: (chunkBytes: number) => Error | undefined,
  ): Promise<WholeAnswer> {
    const attempt = new AbortController();
    const onGone = () => attempt.abort(clientGone.reason);
    clientGone.addEventListener('abort', onGone, { once: true });
    const since = performance.now();
    let settled = false;
    let frozen: BackendFrozenError | undefined;
    let timer: NodeJS.Timeout | undefined;
    const watch = () => {
      timer = setTimeout(() => {
        void backend.client.answersWithin(LIVENESS_PING_TIMEOUT_MS).then((ping) => {
          if (settled) return;
          if (ping.ok) return watch();
          const waited = Math.round(performance.now() - since);
          frozen = new BackendFrozenError(
            `backend ${backend.name} looks frozen: a remote read waited ${waited} ms for an answer and a liveness ping failed (${ping.error ?? 'no answer'})`,
          );
          this.logger.warn(`prom read ${requestId}: ${frozen.message}; marked failing`);
          backend.markFailing(frozen.message);
          attempt.abort(frozen);
        });
      }, LIVENESS_WAIT_MS);
      timer.unref();
    };
    watch();
    try {
      return await backend.client.promRead(body, rp, requestId, { signal: attempt.signal, admit, db });
    } catch (err) {
      throw frozen ?? err;
    } finally {
      settled = true;
      clearTimeout(timer);
      clientGone.removeEventListener('abort', onGone);
    }
  }
}

/** The whole body, at most MAX_BODY_BYTES (influxd answers a larger one 413 too). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? -1);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return Promise.reject(new ReadBodyError(413, 'Request Entity Too Large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.resume();
        reject(new ReadBodyError(413, 'Request Entity Too Large'));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}
