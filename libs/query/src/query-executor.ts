import { type Backend, versionOf } from '@app/backend';
import { influxHeaders } from '@app/http-compat';
import { loggerFor } from '@app/logging';
import type { ServerResponse } from 'node:http';
import { BackendLiveness } from './backend-liveness';
import {
  type BackendQuery,
  type CollectedAnswer,
  type RawAnswer,
  collectQuery,
  collectRaw,
  describeError,
  dispatchQuery,
  firstOutcome,
  isAbort,
  parseAnswer,
  onBackend,
  queryRequest,
} from './backend-query';
import { type StatementPlan, type TextFor, dataKey } from './query-planner';
import { NOT_EXECUTED, type StatementOutcome, type StatementResult } from './query-result';
import { mergeRowsRaw } from './raw-rows-merge';
import { mergeOutcomes } from './result-merge';
import { type IntoWriter, runSelectInto, writtenOutcome } from './select-into';
import { StreamRelay } from './stream-relay';

/** What the executor reads of the cluster as it is (the app's Topology). */
export interface ExecutorTopology {
  readonly backends: readonly Backend[];
  readonly router: { routeByName(measurement: string): readonly number[] | null };
  /** Routers per client db, on a proxy serving several databases. */
  readonly routers?: { forDb(db: string): { routeByName(measurement: string): readonly number[] | null } | null };
  /** The version a healthy backend last answered with: a streamed answer says it when its backend does not. */
  readonly version: string;
}

/** What the executor needs of the app around it. */
export interface ExecutorHooks {
  /** Counts a fan-out over this many backends (metrics). */
  fanout(backends: number): void;
  /** SELECT … INTO's points go through the proxy's write path, to every backend of the target's keymap. */
  writeLocal: IntoWriter;
}

/** A statement no backend could answer (the request is answered 503). */
export interface Unavailable {
  unavailable: string;
}

/** Backend response headers a streamed answer keeps (besides X-Influxdb-Version). */
const PASSED_HEADERS: readonly (readonly [string, string])[] = [
  ['content-type', 'Content-Type'],
  ['content-encoding', 'Content-Encoding'],
  ['content-length', 'Content-Length'],
  ['x-influxdb-error', 'X-Influxdb-Error'],
  ['www-authenticate', 'WWW-Authenticate'],
];

/**
 * A planned query against the backends: streamed from one backend as it comes, or run statement by
 * statement and merged into results for the caller to render.
 */
export class QueryExecutor {
  // The log lines keep the context they always had (operators grep for it).
  private readonly logger = loggerFor('QueryHandler');
  /** Takes queries back from a backend that stops answering (see BackendLiveness), so the next replica answers them. */
  readonly liveness = new BackendLiveness();
  /** Cluster-wide SHOWs in flight, per topology: identical ones arriving meanwhile share the answer. */
  private readonly inflight = new WeakMap<ExecutorTopology, Map<string, Promise<StatementOutcome | Unavailable>>>();

  constructor(private readonly hooks: ExecutorHooks) {}

  // -------------------------------------------------------------------------------------------
  // one backend: forwarded and streamed back as it comes

  /**
   * Forwards the request to its first candidate that answers and relays that answer to `res` as it comes;
   * the text of the 503 to answer when none could (undefined once answered, or when the client went away).
   */
  async stream(
    res: ServerResponse,
    topology: ExecutorTopology,
    candidates: readonly number[],
    text: TextFor,
    query: BackendQuery,
    database?: string,
  ): Promise<string | undefined> {
    if (database !== undefined) query = { ...query, database };
    const failures: string[] = [];
    let answering: Backend | undefined;
    const relay = new StreamRelay(
      res,
      (_status, upstream) => {
        const headers = influxHeaders(versionOf(upstream) ?? topology.version, query.requestId);
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
      const on = onBackend(backend, query);
      const request = queryRequest(text(on.db), on.query);
      const outcome = await relay.attempt((handler) => dispatchQuery(backend, request, handler, query, 'first-byte'));
      if (outcome.kind === 'gone') return undefined;
      if (outcome.kind === 'answered') {
        if (failures.length > 0) {
          this.logger.warn(`query ${query.requestId}: answered by ${backend.name} after ${failures.join('; ')}`);
        }
        return undefined;
      }
      failures.push(
        'error' in outcome
          ? `${backend.name}: ${describeError(outcome.error)}`
          : `${backend.name} answered ${outcome.status}: ${outcome.body.trim().slice(0, 300)}`,
      );
    }
    return `no backend could answer: ${failures.join('; ')}`;
  }

  // -------------------------------------------------------------------------------------------
  // statement by statement: local, single, fan-out

  /**
   * Runs the statements one by one, in order — locally, on one backend, or fanned out and merged — up to the
   * first that fails (those after it are `not executed`, as influxd answers). undefined when the client went
   * away; Unavailable when a statement found no backend (the whole request is answered 503).
   */
  async run(
    plans: readonly StatementPlan[],
    topology: ExecutorTopology,
    query: BackendQuery,
  ): Promise<StatementResult[] | Unavailable | undefined> {
    const results: StatementResult[] = [];
    for (let i = 0; i < plans.length; i++) {
      const outcome = await this.execute(plans[i], topology, query);
      if (query.signal?.aborted) return undefined;
      if ('unavailable' in outcome) return outcome;
      results.push({ statement_id: i, ...outcome });
      if (outcome.error) {
        for (let j = i + 1; j < plans.length; j++) results.push({ statement_id: j, error: NOT_EXECUTED });
        break;
      }
    }
    return results;
  }

  private async execute(plan: StatementPlan, topology: ExecutorTopology, query: BackendQuery): Promise<StatementOutcome | Unavailable> {
    // a proxy serving several databases: the statement's own db, mapped per backend (see onBackend)
    if ('db' in plan && plan.db !== undefined) query = { ...query, database: plan.db };
    switch (plan.kind) {
      case 'databases':
        return this.executeDatabases(plan, topology, query);
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
    topology: ExecutorTopology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    const rp = plan.target.rp ?? query.params.rp;
    let written = 0;
    for (const group of plan.groups) {
      const failures: string[] = [];
      let done = false;
      for (const index of group) {
        const backend = topology.backends[index];
        const on = onBackend(backend, query);
        const result = await runSelectInto(backend, {
          text: plan.text(on.db),
          query: on.query,
          target: plan.target.name !== undefined ? { name: plan.target.name, rp } : { rp },
          routes: (m) => (routerFor(topology, query.database).routeByName(m)?.length ?? 0) > 0,
          // on a proxy serving several databases the points go to the statement's db (as each backend maps it)
          write: (body, intoRp) => this.hooks.writeLocal(body, intoRp, query.database),
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

  /**
   * SHOW DATABASES on a proxy serving several databases: the served databases that exist on some
   * backend (under the name its dbMap gives them there), merged and sorted.
   */
  private async executeDatabases(
    plan: Extract<StatementPlan, { kind: 'databases' }>,
    topology: ExecutorTopology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    const healthy = plan.backends.filter((i) => topology.backends[i].isHealthy);
    const asked = healthy.length > 0 ? healthy : plan.backends;
    const answers = await Promise.all(
      asked.map((i) => collectQuery(i, topology.backends[i], 'SHOW DATABASES', { ...query, database: undefined, backendDb: false })),
    );
    const names = new Set<string>();
    const failures: string[] = [];
    for (const answer of answers) {
      if (!answer.ok) {
        failures.push(answer.error);
        continue;
      }
      const outcome = firstOutcome(answer.response);
      if (outcome.error) return { error: outcome.error };
      const dbMap = topology.backends[answer.backend].config.dbMap ?? {};
      const clientOf = new Map(Object.entries(dbMap).map(([client, there]) => [there, client]));
      for (const series of outcome.series ?? []) {
        for (const row of series.values ?? []) {
          const there = String(row[0]);
          // a db that a dbMap entry renames is known to clients by the entry's name only
          const client = clientOf.get(there) ?? (Object.prototype.hasOwnProperty.call(dbMap, there) ? undefined : there);
          if (client !== undefined && (plan.allowed === '*' || plan.allowed.includes(client))) names.add(client);
        }
      }
    }
    if (failures.length === answers.length) return { unavailable: `no backend could answer: ${failures.join('; ') || 'none is up'}` };
    const values = [...names].sort().map((n) => [n]);
    return { series: [{ name: 'databases', columns: ['name'], ...(values.length > 0 ? { values } : {}) }] };
  }

  private collect(index: number, text: TextFor, topology: ExecutorTopology, query: BackendQuery): Promise<CollectedAnswer> {
    const backend = topology.backends[index];
    const on = onBackend(backend, query);
    return collectQuery(index, backend, text(on.db), on.query);
  }

  private async executeSingle(
    candidates: readonly number[],
    text: TextFor,
    topology: ExecutorTopology,
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
    topology: ExecutorTopology,
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
    topology: ExecutorTopology,
    query: BackendQuery,
  ): Promise<StatementOutcome | Unavailable> {
    // a backend found frozen since the plan was made (an earlier statement of this request) is left out
    const healthy = plan.backends.filter((i) => topology.backends[i].isHealthy);
    const backends = healthy.length > 0 ? healthy : plan.backends;
    this.hooks.fanout(backends.length); // metrics
    const raw = await Promise.all(
      backends.map((i) => {
        const backend = topology.backends[i];
        const on = onBackend(backend, query);
        return collectRaw(i, backend, plan.text(on.db), on.query);
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
    const merged =
      fast ??
      mergeOutcomes(
        plan.merge,
        (parsed ?? []).flatMap((a) => (a.ok ? [firstOutcome(a.response)] : [])),
      );
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
    topology: ExecutorTopology,
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
    topology: ExecutorTopology,
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
}

/**
 * The candidates with those no longer healthy moved last: a backend found frozen after the plan was
 * made (by an earlier statement of the same request, or another request) is asked only when no other can answer.
 */
/** The router of the client db `db` (absent: a single-database proxy's). */
function routerFor(topology: ExecutorTopology, db: string | undefined): { routeByName(measurement: string): readonly number[] | null } {
  return (db !== undefined ? topology.routers?.forDb(db) : undefined) ?? topology.router;
}

function healthyFirst(candidates: readonly number[], topology: ExecutorTopology): readonly number[] {
  if (candidates.every((i) => topology.backends[i].isHealthy)) return candidates;
  return [...candidates.filter((i) => topology.backends[i].isHealthy), ...candidates.filter((i) => !topology.backends[i].isHealthy)];
}
