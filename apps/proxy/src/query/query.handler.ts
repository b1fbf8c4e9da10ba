import type { Backend } from '@app/backend';
import { backendDatabase } from '@app/config';
import { influxHeaders, writeInfluxError } from '@app/http-compat';
import { InfluxQLParseError, type ParsedStatement } from '@app/influxql';
import { maskQueryPasswords } from '@app/logging';
import {
  AnswerBudget,
  type BackendQuery,
  type QueryParams,
  type QueryPlan,
  QueryExecutor,
  ParseCache,
  READ_BEHIND_HEADER,
  ShardSpanCache,
  type StatementPlan,
  checkBoundParams,
  earliestShard,
  paramsFromForm,
  paramsFromUrl,
  planQuery,
  renderAnswer,
} from '@app/query';
import { FormBodyError, hasFormBody, readFormBody } from './form-body.reader';
import { checkStatements } from '@app/query-guard';
import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { ClusterStateService } from '../cluster/cluster-state.service';
import type { Topology } from '../cluster/topology';
import { writeMethodNotAllowed } from '../http/method-not-allowed';
import { refuseUnprivileged } from '../http/query-privileges';
import { RequestObserver } from '../http/request-observer';
import { SentinelViewService } from '../sentinel/sentinel-view.service';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { WriteHandler } from '../write/write.handler';

const gzip = promisify(gzipCb);

/**
 * GET/POST /query. Parses the InfluxQL, refuses the whole request when a statement is forbidden,
 * then either forwards it to one backend and streams the answer back untouched (every statement goes
 * to the same backends), or runs the statements one by one — locally, on one backend, or fanned out
 * and merged — and writes the stitched answer itself.
 */
@Injectable()
export class QueryHandler {
  private readonly logger = new Logger(QueryHandler.name);
  private readonly parsed = new ParseCache();
  /** Runs the plans on the backends (plan → backends → merge); this handler does the HTTP around it. */
  private readonly executor: QueryExecutor;

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly metrics: ProxyMetrics,
    private readonly observer: RequestObserver,
    private readonly sentinel: SentinelViewService,
    private readonly shards: ShardSpanCache,
    writer: WriteHandler,
  ) {
    this.executor = new QueryExecutor({
      fanout: (backends) => observer.fanout(backends),
      writeLocal: (body, rp, db) => writer.writeLocal(body, rp, '', db),
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URLSearchParams, requestId: string): Promise<void> {
    const topology = this.cluster.topology;
    const method = req.method;
    if (method !== 'GET' && method !== 'POST') {
      const headers = influxHeaders(topology.version, requestId);
      if (method === 'OPTIONS') {
        req.resume();
        res.writeHead(204, headers);
        res.end();
        return;
      }
      req.resume();
      return writeMethodNotAllowed(res, 'OPTIONS, GET, POST', headers);
    }

    let params: QueryParams;
    if (hasFormBody(req)) {
      try {
        params = paramsFromForm(await readFormBody(req), url);
      } catch (err) {
        if (!(err instanceof FormBodyError)) throw err;
        if (err.status === 413) res.setHeader('Connection', 'close');
        return writeInfluxError(res, err.status, err.message, influxHeaders(topology.version, requestId));
      }
    } else {
      params = paramsFromUrl(url);
      req.resume();
    }
    this.observer.query(res, params.q, params.db); // queryTracing's log line
    if (params.q === '') {
      return writeInfluxError(res, 400, 'missing required parameter "q"', influxHeaders(topology.version, requestId));
    }
    const paramsError = checkBoundParams(params.params);
    if (paramsError) return writeInfluxError(res, 400, paramsError, influxHeaders(topology.version, requestId));

    let statements: ParsedStatement[];
    try {
      statements = this.parsed.parse(params.q, params.params, boundParams(params.params));
    } catch (err) {
      if (!(err instanceof InfluxQLParseError)) throw err;
      return writeInfluxError(res, 400, `error parsing query: ${err.message}`, influxHeaders(topology.version, requestId));
    }
    if (refuseUnprivileged(req, res, statements, influxHeaders(topology.version, requestId))) return; // auth: admin-only statements

    const planned = planQuery(statements, topology, params.db, this.sentinel.readFence);
    if (planned.kind === 'refused') {
      this.logger.warn(`query ${requestId} refused: ${planned.message}: ${loggedQuery(params.q, 500)}`);
      return writeInfluxError(res, planned.status ?? 400, planned.message, influxHeaders(topology.version, requestId));
    }
    const plan = await this.guard(req, statements, planned, topology, params, requestId);
    if (topology.node.queryTracing) {
      this.logger.log(`query ${requestId}: ${loggedQuery(params.q, 1000)} → ${describePlan(plan.statements, topology)}`);
    }

    // every replica that could answer is catching up: say which one answers, streamed or built alike
    if (plan.readBehind) res.setHeader(READ_BEHIND_HEADER, plan.readBehind);
    const query: BackendQuery = {
      method,
      params,
      streamed: true,
      accept: req.headers.accept,
      acceptEncoding: req.headers['accept-encoding'],
      requestId,
      liveness: this.executor.liveness,
    };
    if (plan.stream) {
      const unavailable = await this.executor.stream(res, topology, plan.stream.candidates, plan.stream.text, query, plan.stream.db);
      if (unavailable !== undefined) this.answerUnavailable(res, topology, query, unavailable);
      return;
    }
    // Aborts the backend requests when the client goes away before its answer is complete. An
    // EventEmitter costs far less per request than an AbortController.
    const signal = new ClientGone();
    res.once('close', () => {
      if (!res.writableEnded) signal.abort();
    });
    const answerBudget = new AnswerBudget(topology.node.maxQueryAnswerBytes);
    return this.runStatements(req, res, topology, plan.statements, { ...query, signal, answerBudget });
  }

  /**
   * The guard: a statement that would make a backend build more GROUP BY time buckets than the limit never
   * leaves the proxy. It is answered as influxd answers it — that statement's error in a 200, the statements
   * before it run, the ones after it not — so its plan becomes that error and nothing is streamed. An open
   * lower time bound counts from the earliest shard of the db/rp on the backends that would answer.
   */
  private async guard(
    req: IncomingMessage,
    statements: readonly ParsedStatement[],
    plan: Extract<QueryPlan, { kind: 'plans' }>,
    topology: Topology,
    params: QueryParams,
    requestId: string,
  ): Promise<Extract<QueryPlan, { kind: 'plans' }>> {
    const node = topology.node;
    const settings = {
      maxSelectBuckets: node.maxSelectBuckets,
      maxUnboundedRawSelect: node.maxUnboundedRawSelect,
      maxRequestBuckets: node.maxRequestBuckets,
    };
    const now = BigInt(Date.now()) * 1_000_000n;
    const asked = new Set<number>();
    // the shards of the statement's db: on a proxy serving several databases, its client db as each backend maps it
    const dbOn = (i: number) => {
      const db = plan.statements[i]?.db;
      return (b: Backend) => (db === undefined ? b.config.db : backendDatabase(b.config, db, true));
    };
    const dataStart = (i: number, stmt: ParsedStatement) => {
      asked.add(i);
      const on = dbOn(i);
      return earliestShard(
        answeringBackends(plan.statements[i], topology).map((b) => this.shards.get(b, on(b))),
        statementRps(stmt, params.rp),
        now,
      );
    };
    let refusal = checkStatements(statements, settings, now, dataStart);
    if (asked.size > 0) {
      // A verdict that rests on the shards is given on fresh ones (asked at most SHARD_STALE_MS ago): a write
      // with old timestamps may have made a shard the cache has not seen, and a heavy query must not pass on that.
      // the statements' reads run at once (one read per backend and db, shared by those asking for it)
      const read = await Promise.all([...asked].map((i) => this.shards.freshen(answeringBackends(plan.statements[i], topology), dbOn(i))));
      if (read.some(Boolean)) refusal = checkStatements(statements, settings, now, dataStart);
    }
    if (!refusal) return plan;
    this.metrics.guardRefusals.labels(refusal.reason).inc();
    this.logger.warn(
      `query ${requestId} from ${req.socket.remoteAddress ?? '?'} refused by the guard (${refusal.reason}, ` +
        `statement ${refusal.statementIndex + 1}): ${refusal.message}: ${loggedQuery(params.q, 500)}`,
    );
    const refused: StatementPlan = { kind: 'local', outcome: { error: refusal.message } };
    const at = refusal.statementIndex;
    // no stream: runStatements runs those before it and answers those after it `not executed`
    return { ...plan, stream: undefined, statements: plan.statements.map((p, i) => (i === at ? refused : p)) };
  }

  // -------------------------------------------------------------------------------------------
  // statement by statement: run by the executor, the answer written by the proxy

  private async runStatements(
    req: IncomingMessage,
    res: ServerResponse,
    topology: Topology,
    plans: readonly StatementPlan[],
    base: BackendQuery,
  ): Promise<void> {
    const csv = isCsv(req.headers.accept);
    // The proxy's CSV writes integer times as influxd does; ask for them when the client did not.
    const query: BackendQuery = { ...base, streamed: false, epoch: csv && base.params.epoch === '' ? 'ns' : undefined };
    const results = await this.executor.run(plans, topology, query);
    if (results === undefined) return; // the client went away
    if ('unavailable' in results) return this.answerUnavailable(res, topology, query, results.unavailable);
    const params = query.params;
    const { body, contentType } = renderAnswer(results, { csv, pretty: params.pretty, chunked: params.chunked === 'true' });
    let payload = Buffer.from(body, 'utf8');
    const headers = influxHeaders(topology.version, query.requestId);
    headers['Content-Type'] = contentType;
    if (acceptsGzip(req.headers['accept-encoding'])) {
      payload = await gzip(payload);
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = payload.length;
    res.writeHead(200, headers);
    res.end(payload);
  }

  private answerUnavailable(res: ServerResponse, topology: Topology, query: BackendQuery, message: string): void {
    this.logger.warn(`query ${query.requestId}: 503 ${message}`);
    writeInfluxError(res, 503, message, influxHeaders(topology.version, query.requestId));
  }
}

/** The client went away: aborts the backend requests of a merged answer (aborted + an 'abort' event). */
class ClientGone extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = Object.assign(new Error('client closed the connection'), { name: 'AbortError' });
    this.emit('abort');
  }
}

function isCsv(accept: string | undefined): boolean {
  return accept === 'application/csv' || accept === 'text/csv';
}

function acceptsGzip(value: string | undefined): boolean {
  return value !== undefined && value.includes('gzip');
}

function describePlan(plans: readonly StatementPlan[], topology: Topology): string {
  const name = (i: number) => (topology.backends[i] as Backend).name;
  return plans
    .map((p) => {
      switch (p.kind) {
        case 'single':
          return `single[${p.candidates.map(name).join(',')}]`;
        case 'fanout':
          return `fanout[${p.backends.map(name).join(',')}]`;
        case 'cover':
          return `cover[${p.groups.map((g) => g.map(name).join('|')).join(',')}]`;
        case 'all':
          return `all[${p.backends.map(name).join(',')}]`;
        default:
          return p.kind;
      }
    })
    .join('; ');
}

/** A query as a log line quotes it: its passwords masked on the raw text first, then cut and quoted. */
function loggedQuery(q: string, maxChars: number): string {
  return JSON.stringify(maskQueryPasswords(q.slice(0, maxChars)));
}

/** The `params` JSON as the parser binds it (already checked by checkBoundParams). */
function boundParams(raw: string): Record<string, unknown> | undefined {
  if (raw === '') return undefined;
  const parsed: unknown = JSON.parse(raw);
  return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
}

/** The backends that may answer a statement (its candidates, failover included); every backend when not known. */
function answeringBackends(plan: StatementPlan | undefined, topology: Topology): Backend[] {
  const pick = (list: readonly number[]) => list.map((i) => topology.backends[i]);
  switch (plan?.kind) {
    case 'single':
      return pick(plan.candidates);
    case 'cover':
    case 'into':
      return pick(plan.groups.flat());
    case 'fanout':
    case 'all':
      return pick(plan.backends);
    default:
      return topology.backends.filter((b) => !b.config.writeOnly);
  }
}

/** The retention policies a statement reads: each source's own, else the request's `rp`, else (undefined) the default. */
function statementRps(stmt: ParsedStatement, requestRp: string): Set<string | undefined> {
  const rps = new Set<string | undefined>();
  const visit = (sources: ParsedStatement['sources']) => {
    for (const s of sources) {
      if (s.kind === 'subquery') visit(s.statement.sources);
      else rps.add(s.rp ?? (requestRp !== '' ? requestRp : undefined));
    }
  };
  visit(stmt.sources);
  if (rps.size === 0) rps.add(requestRp !== '' ? requestRp : undefined);
  return rps;
}
