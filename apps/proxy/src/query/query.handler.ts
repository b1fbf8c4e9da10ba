import type { Backend } from '@app/backend';
import { influxHeaders, writeInfluxError } from '@app/http-compat';
import { InfluxQLParseError, type ParsedStatement } from '@app/influxql';
import { maskQueryPasswords } from '@app/logging';
import {
  ParseCache,
  AnswerBudget,
  type BackendQuery,
  type CollectedAnswer,
  collectQuery,
  describeError,
  firstOutcome,
  headerOf,
  isAbort,
  type RawAnswer,
  collectRaw,
  dispatchQuery,
  parseAnswer,
  queryRequest,
  BackendLiveness,
  StreamRelay,
  type QueryParams,
  checkBoundParams,
  paramsFromForm,
  paramsFromUrl,
  READ_BEHIND_HEADER,
  type QueryPlan,
  type StatementPlan,
  type TextFor,
  dataKey,
  planQuery,
  ShardSpanCache,
  earliestShard,
  runSelectInto,
  writtenOutcome,
  NOT_EXECUTED,
  type StatementOutcome,
  type StatementResult,
  renderCsv,
  renderJson,
  renderJsonLines,
  withParsedValues,
  mergeRowsRaw,
  mergeOutcomes,
} from '@app/query';
import { FormBodyError, hasFormBody, readFormBody } from './form-body.reader';
import { checkStatements } from '@app/query-guard';
import { QueryStats } from './query-stats';
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
import { WriteHandler } from '../write/write.handler';

const gzip = promisify(gzipCb);

/** Backend response headers a streamed answer keeps (besides X-Influxdb-Version). */
const PASSED_HEADERS: readonly (readonly [string, string])[] = [
  ['content-type', 'Content-Type'],
  ['content-encoding', 'Content-Encoding'],
  ['content-length', 'Content-Length'],
  ['x-influxdb-error', 'X-Influxdb-Error'],
  ['www-authenticate', 'WWW-Authenticate'],
];

/** A statement no backend could answer (the request is answered 503). */
interface Unavailable {
  unavailable: string;
}

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
  /** Takes queries back from a backend that stops answering (see BackendLiveness), so the next replica answers them. */
  private readonly liveness = new BackendLiveness();
  /** Cluster-wide SHOWs in flight, per topology: identical ones arriving meanwhile share the answer. */
  private readonly inflight = new WeakMap<Topology, Map<string, Promise<StatementOutcome | Unavailable>>>();

  constructor(
    private readonly cluster: ClusterStateService,
    private readonly stats: QueryStats,
    private readonly observer: RequestObserver,
    private readonly sentinel: SentinelViewService,
    private readonly shards: ShardSpanCache,
    private readonly writer: WriteHandler,
  ) {}

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
      return writeInfluxError(res, 400, planned.message, influxHeaders(topology.version, requestId));
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
      liveness: this.liveness,
    };
    if (plan.stream) return this.stream(res, topology, plan.stream.candidates, plan.stream.text, query);
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
    const dataStart = (i: number, stmt: ParsedStatement) => {
      asked.add(i);
      return earliestShard(
        answeringBackends(plan.statements[i], topology).map((b) => this.shards.get(b)),
        statementRps(stmt, params.rp),
        now,
      );
    };
    let refusal = checkStatements(statements, settings, now, dataStart);
    if (asked.size > 0) {
      // A verdict that rests on the shards is given on fresh ones (asked at most SHARD_STALE_MS ago): a write
      // with old timestamps may have made a shard the cache has not seen, and a heavy query must not pass on that.
      const backends = new Set<Backend>();
      for (const i of asked) for (const b of answeringBackends(plan.statements[i], topology)) backends.add(b);
      if (await this.shards.freshen([...backends])) refusal = checkStatements(statements, settings, now, dataStart);
    }
    if (!refusal) return plan;
    this.stats.countGuardRefusal(refusal.reason);
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
  // one backend: forwarded and streamed back as it comes

  private async stream(
    res: ServerResponse,
    topology: Topology,
    candidates: readonly number[],
    text: TextFor,
    query: BackendQuery,
  ): Promise<void> {
    const failures: string[] = [];
    let answering: Backend | undefined;
    const relay = new StreamRelay(
      res,
      (_status, upstream) => {
        const headers = influxHeaders(headerOf(upstream, 'x-influxdb-version') ?? topology.version, query.requestId);
        for (const [from, to] of PASSED_HEADERS) {
          const v = upstream[from];
          if (v !== undefined) headers[to] = v;
        }
        return headers;
      },
      // a broken backend stream cuts the client's connection, as influxd dying mid-answer would
      (err) => {
        if (!isAbort(err)) this.logger.warn(`query ${query.requestId}: stream from ${answering?.name} broke: ${describeError(err)}`);
      },
    );
    for (const index of healthyFirst(candidates, topology)) {
      const backend = topology.backends[index];
      answering = backend;
      const options = queryRequest(backend, text(backend.config.db), query);
      const outcome = await relay.attempt((handler) => dispatchQuery(backend, options, handler, query, 'first-byte'));
      if (outcome.kind === 'gone') return;
      if (outcome.kind === 'answered') {
        if (failures.length > 0) {
          this.logger.warn(`query ${query.requestId}: answered by ${backend.name} after ${failures.join('; ')}`);
        }
        return;
      }
      failures.push(
        'error' in outcome
          ? `${backend.name}: ${describeError(outcome.error)}`
          : `${backend.name} answered ${outcome.status}: ${outcome.body.trim().slice(0, 300)}`,
      );
    }
    this.answerUnavailable(res, topology, query, `no backend could answer: ${failures.join('; ')}`);
  }

  // -------------------------------------------------------------------------------------------
  // statement by statement: local, single, fan-out; answer written by the proxy

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
    const results: StatementResult[] = [];
    for (let i = 0; i < plans.length; i++) {
      const outcome = await this.execute(plans[i], topology, query);
      if (query.signal?.aborted) return;
      if ('unavailable' in outcome) return this.answerUnavailable(res, topology, query, outcome.unavailable);
      results.push({ statement_id: i, ...outcome });
      if (outcome.error) {
        for (let j = i + 1; j < plans.length; j++) results.push({ statement_id: j, error: NOT_EXECUTED });
        break;
      }
    }
    const params = query.params;
    let body: string;
    let type: string;
    if (csv) {
      body = renderCsv(withParsedValues(results));
      type = 'text/csv';
    } else {
      const rendered = params.pretty ? withParsedValues(results) : results; // indented values are re-rendered
      body = params.chunked === 'true' ? renderJsonLines(rendered, params.pretty) : renderJson(rendered, params.pretty);
      type = 'application/json';
    }
    let payload = Buffer.from(body, 'utf8');
    const headers = influxHeaders(topology.version, query.requestId);
    headers['Content-Type'] = type;
    if (acceptsGzip(req.headers['accept-encoding'])) {
      payload = await gzip(payload);
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = payload.length;
    res.writeHead(200, headers);
    res.end(payload);
  }

  private async execute(plan: StatementPlan, topology: Topology, query: BackendQuery): Promise<StatementOutcome | Unavailable> {
    switch (plan.kind) {
      case 'local':
        return plan.outcome;
      case 'unavailable':
        return { unavailable: plan.message };
      case 'single':
        return this.executeSingle(plan.candidates, plan.text, topology, query);
      case 'fanout':
        return this.shareFanout(plan, topology, query);
      case 'cover':
        return this.executeCover(plan, topology, query);
      case 'all':
        return this.executeAll(plan.backends, plan.text, topology, query);
      case 'into':
        return this.executeInto(plan, topology, query);
    }
  }

  /**
   * SELECT … INTO: each group's SELECT runs on its first backend that can (failing over while nothing has
   * been written), and the rows go through the proxy's write path to every backend of the target's keymap.
   */
  private async executeInto(
    plan: Extract<StatementPlan, { kind: 'into' }>,
    topology: Topology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    const rp = plan.target.rp ?? query.params.rp;
    let written = 0;
    for (const group of plan.groups) {
      const failures: string[] = [];
      let done = false;
      for (const index of group) {
        const backend = topology.backends[index];
        const result = await runSelectInto(backend, {
          text: plan.text(backend.config.db),
          query,
          target: plan.target.name !== undefined ? { name: plan.target.name, rp } : { rp },
          routes: (m) => (topology.router.routeByName(m)?.length ?? 0) > 0,
          write: (body, intoRp) => this.writer.writeLocal(body, intoRp),
        });
        if (query.signal?.aborted) return { error: 'aborted' };
        if (result.kind === 'failed') {
          failures.push(result.error);
          continue;
        }
        if (result.kind === 'error') return { error: result.error };
        written += result.written;
        done = true;
        if (failures.length > 0) {
          this.logger.warn(`query ${query.requestId}: SELECT … INTO read from ${backend.name} after ${failures.join('; ')}`);
        }
        break;
      }
      if (!done && written === 0) return { unavailable: `no backend could answer: ${failures.join('; ')}` };
      // an earlier group's points are written: the statement failed part way, say how far it got
      if (!done) return { error: `SELECT … INTO stopped after ${written} points were written: ${failures.join('; ')}` };
    }
    // influxd warns when a writing statement comes over GET; it prints the statement normalized, we as written
    const messages =
      query.method === 'GET'
        ? [{ level: 'warning', text: `deprecated use of '${plan.statement}' in a read only context, please use a POST request instead` }]
        : undefined;
    return writtenOutcome(written, query.epoch ?? query.params.epoch, messages);
  }

  private collect(index: number, text: TextFor, topology: Topology, query: BackendQuery): Promise<CollectedAnswer> {
    const backend = topology.backends[index];
    return collectQuery(index, backend, text(backend.config.db), query);
  }

  private async executeSingle(
    candidates: readonly number[],
    text: TextFor,
    topology: Topology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    const failures: string[] = [];
    for (const index of healthyFirst(candidates, topology)) {
      const answer = await this.collect(index, text, topology, query);
      if (answer.ok) return firstOutcome(answer.response);
      if (query.signal?.aborted) break;
      failures.push(answer.error);
    }
    return { unavailable: `no backend could answer: ${failures.join('; ')}` };
  }

  /**
   * Grafana asks the same metadata of every panel and every viewer at once: an identical cluster-wide
   * SHOW already in flight answers those that arrive meanwhile (an answer at most one round trip older
   * than theirs). A shared fan-out is not aborted when one of its clients goes away.
   */
  private shareFanout(
    plan: Extract<StatementPlan, { kind: 'fanout' }>,
    topology: Topology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    let pending = this.inflight.get(topology);
    if (!pending) {
      pending = new Map();
      this.inflight.set(topology, pending);
    }
    const p = query.params;
    const key = `${plan.key}\u0000${query.method}\u0000${p.rp}\u0000${query.epoch ?? p.epoch}\u0000${p.params}`;
    const shared = pending.get(key);
    if (shared) return shared;
    const table = pending;
    const run = this.executeFanout(plan, topology, { ...query, signal: undefined }).finally(() => table.delete(key));
    table.set(key, run);
    return run;
  }

  private async executeFanout(
    plan: Extract<StatementPlan, { kind: 'fanout' }>,
    topology: Topology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    // a backend found frozen since the plan was made (an earlier statement of this request) is left out
    const healthy = plan.backends.filter((i) => topology.backends[i].isHealthy);
    const backends = healthy.length > 0 ? healthy : plan.backends;
    this.observer.fanout(backends.length); // metrics
    const raw = await Promise.all(
      backends.map((i) => {
        const backend = topology.backends[i];
        return collectRaw(i, backend, plan.text(backend.config.db), query);
      }),
    );
    // SHOW … answers in influxd's plain shape (every answer a 200 body) merge as bytes; others are parsed
    const bodies = raw.flatMap((a) => (a.ok && 'body' in a ? [a.body] : []));
    const allBodies = bodies.length > 0 && bodies.length === raw.filter((a) => a.ok).length;
    const fast = allBodies ? mergeRowsRaw(bodies, plan.merge) : undefined;
    const parsed = fast ? undefined : raw.map((a) => parseAnswer(a, topology.backends[a.backend].name));
    const answers: readonly (RawAnswer | CollectedAnswer)[] = parsed ?? raw;
    const ok = answers.filter((a) => a.ok);
    const failures = answers.flatMap((a) => (a.ok ? [] : [a.error]));
    if (ok.length === 0) {
      return { unavailable: `no backend could answer: ${failures.length > 0 ? failures.join('; ') : 'none is up'}` };
    }
    if (failures.length > 0) this.logger.warn(`query ${query.requestId}: fan-out answered without ${failures.join('; ')}`);
    const merged = fast ?? mergeOutcomes(plan.merge, (parsed ?? []).flatMap((a) => (a.ok ? [firstOutcome(a.response)] : [])));
    // A keymap whose backends all failed (or are down) leaves a hole: say so the way influxd warns.
    const answered = new Set(ok.map((a) => dataKey(topology.backends[a.backend])));
    const missing = plan.required.filter((set) => !set.some((i) => answered.has(dataKey(topology.backends[i]))));
    if (missing.length > 0 && !merged.error) {
      const names = [...new Set(missing.flat().map((i) => topology.backends[i].name))].join(', ');
      const text = `the answer may be incomplete: no backend of [${names}] could answer`;
      merged.messages = [...(merged.messages ?? []), { level: 'warning', text }];
    }
    return merged;
  }

  /** One backend per group; when one fails, each group it stood for moves on to its next candidate. */
  private async executeCover(
    plan: Extract<StatementPlan, { kind: 'cover' }>,
    topology: Topology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    const answered = new Map<number, StatementOutcome>();
    const failed = new Set<number>();
    const failures: string[] = [];
    for (;;) {
      const wanted: number[] = [];
      for (const group of plan.groups) {
        if (group.some((i) => answered.has(i))) continue;
        const shared = group.find((i) => wanted.includes(i));
        if (shared !== undefined) continue;
        const next = group.find((i) => !failed.has(i) && topology.backends[i].isHealthy) ?? group.find((i) => !failed.has(i));
        if (next === undefined) return { unavailable: `no backend could answer: ${failures.join('; ')}` };
        wanted.push(next);
      }
      if (wanted.length === 0) break;
      const answers = await Promise.all(wanted.map((i) => this.collect(i, plan.text, topology, query)));
      if (query.signal?.aborted) return { error: 'aborted' };
      for (const a of answers) {
        if (a.ok) answered.set(a.backend, firstOutcome(a.response));
        else {
          failed.add(a.backend);
          failures.push(a.error);
        }
      }
    }
    return mergeOutcomes(plan.merge, [...answered.values()]);
  }

  /** Every backend runs it; succeeds only when all do (the first error is the answer). */
  private async executeAll(
    backends: readonly number[],
    text: TextFor,
    topology: Topology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    const answers = await Promise.all(backends.map((i) => this.collect(i, text, topology, query)));
    const failures = answers.filter((a): a is Extract<CollectedAnswer, { ok: false }> => !a.ok).map((a) => a.error);
    if (failures.length > 0) return { unavailable: `not every backend could run the statement: ${failures.join('; ')}` };
    const outcomes = answers.map((a) => firstOutcome((a as Extract<CollectedAnswer, { ok: true }>).response));
    const failedOne = outcomes.findIndex((o) => o.error);
    if (failedOne >= 0) {
      const name = topology.backends[backends[failedOne]].name;
      if (outcomes.some((o) => !o.error)) {
        this.logger.warn(`query ${query.requestId}: backend ${name} refused a statement the others ran: ${outcomes[failedOne].error}`);
      }
      return outcomes[failedOne];
    }
    return outcomes[0] ?? {};
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

/**
 * The candidates with those no longer healthy moved last: a backend found frozen after the plan was
 * made (by an earlier statement of the same request, or another request) is asked only when no other can answer.
 */
function healthyFirst(candidates: readonly number[], topology: Topology): readonly number[] {
  if (candidates.every((i) => topology.backends[i].isHealthy)) return candidates;
  return [...candidates.filter((i) => topology.backends[i].isHealthy), ...candidates.filter((i) => !topology.backends[i].isHealthy)];
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
