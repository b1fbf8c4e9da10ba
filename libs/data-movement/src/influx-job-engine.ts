import { BackendClient } from '@app/backend';
import type { BackendConfig, ClusterConfig } from '@app/config';
import { type ContextLogger, loggerFor } from '@app/logging';
import { type BackendInventory, type ClusterDiscovery, InfluxDiscovery } from './backend-discovery';
import { type JobCursor, type JobPlan, type JobRecord, type JobRequest, JobEngine, type JobStep, type RunOptions } from './job-model';
import {
  backendsToDiscover,
  checkRequest,
  clientDatabasesOf,
  dbOf,
  isMultiDbFleet,
  listedDatabases,
  movingMeasurements,
  planJob,
} from './job-planner';
import { ProgressMeter } from './progress-meter';
import { syncSchema } from './schema-sync';
import { windowsFrom } from './time-windows';
import { TokenBucket, abortError } from './token-bucket';
import { compareWindow } from './window-compare';
import { type CopyContext, type CopyTuning, DEFAULT_COPY_TUNING, copyWindow } from './window-copier';
import { statement } from './backend-discovery';
import { quoteIdent } from '@app/influxql';

export interface InfluxJobEngineOptions {
  readonly tuning?: Partial<CopyTuning>;
  /** Points a planned window should hold at most (default TARGET_POINTS_PER_WINDOW). */
  readonly pointsPerWindow?: number;
  readonly logger?: ContextLogger;
  /** Discovery to plan with (default: the backends themselves, through this engine's clients). */
  readonly discovery?: (clientOf: (backend: string) => BackendClient) => ClusterDiscovery;
}

/**
 * The data-movement engine over influxd backends: plans a job from what the backends hold and runs it
 * window by window, reporting a cursor after each window so any process can resume it. The backends are
 * reached only through BackendClient (one per backend, rebuilt when its config changes).
 */
export class InfluxJobEngine extends JobEngine {
  private readonly clients = new Map<string, { key: string; client: BackendClient }>();
  private readonly tuning: CopyTuning;
  private readonly log: ContextLogger;

  constructor(private readonly options: InfluxJobEngineOptions = {}) {
    super();
    this.tuning = { ...DEFAULT_COPY_TUNING, ...options.tuning };
    this.log = options.logger ?? loggerFor('DataMovement');
  }

  async plan(request: JobRequest, config: ClusterConfig): Promise<JobPlan> {
    checkRequest(request, config);
    const clientOf = this.clientsFor(config);
    const discovery = this.options.discovery?.(clientOf) ?? new InfluxDiscovery(clientOf);
    const names = backendsToDiscover(request, config);
    const inventories = await this.discover(request, config, discovery, names);
    return planJob({ request, config, inventories, now: Date.now(), pointsPerWindow: this.options.pointsPerWindow });
  }

  /**
   * One inventory per backend of `names`; on a fleet serving several databases one per (backend, served
   * client db), each of the db the backend keeps that client db in. The served dbs are the proxies' lists,
   * plus for a `"*"` proxy the dbs the backends have. A rebalance first lists the measurements and
   * inventories only the moving ones (a group added moves about 1/N of them: counting the rest would be
   * most of the planning's cost, for steps it would not plan).
   */
  private async discover(
    request: JobRequest,
    config: ClusterConfig,
    discovery: ClusterDiscovery,
    names: readonly string[],
  ): Promise<BackendInventory[]> {
    const multiDb = isMultiDbFleet(config);
    const clientDbs = new Set(multiDb ? listedDatabases(config).listed : ['']);
    if (multiDb && listedDatabases(config).any && discovery.databases) {
      const found = await Promise.all(
        names.map((n) =>
          discovery.databases!(n).then(
            (dbs) => clientDatabasesOf(config.backends[n], dbs),
            () => [] as string[],
          ),
        ),
      );
      for (const dbs of found) for (const db of dbs) clientDbs.add(db);
    }
    const pairs = names.flatMap((backend) => [...clientDbs].sort().map((clientDb) => ({ backend, clientDb })));
    let only: (clientDb: string) => readonly string[] | undefined = () =>
      request.kind === 'resync' && request.measurements && request.measurements.length > 0 ? request.measurements : undefined;
    if (request.kind === 'rebalance' && discovery.measurements) {
      const listedThere = await Promise.all(
        pairs.map(({ backend, clientDb }) =>
          discovery.measurements!(backend, dbOf(config, backend, clientDb)).then(
            (ms) => ms.map((name) => ({ db: clientDb, name })),
            () => [],
          ),
        ),
      );
      const moving = new Map<string, string[]>();
      for (const m of movingMeasurements(request, config, dedupe(listedThere.flat()))) {
        let names = moving.get(m.db);
        if (!names) moving.set(m.db, (names = []));
        names.push(m.name);
      }
      only = (clientDb) => moving.get(clientDb) ?? [];
    }
    // a db where nothing moves needs no inventory
    const wanted = pairs.filter(({ clientDb }) => only(clientDb)?.length !== 0);
    // backends in parallel, a backend's dbs one after the other: each backend sees the load of a single-db discovery
    const byBackend = await Promise.all(
      names.map(async (backend) => {
        const out: BackendInventory[] = [];
        for (const { clientDb } of wanted.filter((p) => p.backend === backend)) {
          const inventory = await discovery.inventory(backend, dbOf(config, backend, clientDb), only(clientDb));
          out.push(multiDb ? { ...inventory, clientDb } : inventory);
        }
        return out;
      }),
    );
    return byBackend.flat();
  }

  async run(job: JobRecord, config: ClusterConfig, options: RunOptions): Promise<void> {
    const plan = job.plan;
    if (!plan) throw new Error(`job ${job.id} has no plan`);
    const { signal } = options;
    const cursor: JobCursor = job.progress?.cursor ?? { step: 0 };
    const meter = new ProgressMeter(plan, cursor, job.progress);
    const clientOf = this.clientsFor(config);
    const ctx: CopyContext = {
      clientOf,
      bucket: new TokenBucket(options.pointsPerSecond),
      signal,
      tuning: this.tuning,
      failedSources: new Set(),
      warn: (message) => this.log.warn({ job: job.id, ...message }),
    };
    const report = async (next: JobCursor, points: number, bytes: number) => {
      if (signal.aborted) throw abortError(signal);
      await options.onProgress(meter.windowDone(next, points, bytes));
    };
    for (let i = cursor.step; i < plan.steps.length; i++) {
      if (signal.aborted) throw abortError(signal);
      const step = plan.steps[i];
      const resumeAt = i === cursor.step ? cursor.windowStart : undefined;
      try {
        await this.runStep(job, step, i, resumeAt, inDbs(ctx, clientOf, step), meter, config, report);
      } catch (err) {
        if (signal.aborted) throw abortError(signal);
        throw err;
      }
    }
  }

  private async runStep(
    job: JobRecord,
    step: JobStep,
    index: number,
    resumeAt: number | undefined,
    ctx: CopyContext,
    meter: ProgressMeter,
    config: ClusterConfig,
    report: (next: JobCursor, points: number, bytes: number) => Promise<void>,
  ): Promise<void> {
    const after = (end: number, spanEnd: number): JobCursor => (end < spanEnd ? { step: index, windowStart: end } : { step: index + 1 });
    switch (step.op) {
      case 'schema': {
        const ran = await syncSchema(step, ctx.clientOf, (b) => step.dbOf?.[b] ?? dbOf(config, b));
        if (ran.length > 0) this.log.log({ msg: 'schema recreated', job: job.id, target: step.target, statements: ran });
        await report({ step: index + 1 }, 0, 0);
        return;
      }
      case 'copy':
        for (const window of windowsFrom(step.span, step.windowMs, resumeAt)) {
          const copied = await copyWindow(ctx, step, window);
          const n = step.targets.length;
          await report(after(window.end, step.span.end), copied.points * n, copied.bytes * n);
        }
        return;
      case 'compare':
        for (const window of windowsFrom(step.span, step.windowMs, resumeAt)) {
          const result = await compareWindow(ctx, step, window);
          if (result.stillDiffers) {
            meter.windowsStillDiffering++;
            this.log.warn({
              msg: 'replicas still differ after the union copy',
              job: job.id,
              measurement: step.measurement,
              rp: step.rp,
              window,
              before: result.before,
              after: result.after,
            });
          }
          await report(after(window.end, step.span.end), result.points, result.bytes);
        }
        return;
      case 'drop':
        await statement(ctx.clientOf(step.backend), `DROP MEASUREMENT ${quoteIdent(step.measurement)}`, step.db);
        this.log.log({ msg: 'measurement dropped', job: job.id, backend: step.backend, measurement: step.measurement });
        await report({ step: index + 1 }, 0, 0);
        return;
    }
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map(({ client }) => client.close().catch(() => undefined)));
  }

  /**
   * The client of each backend of `config`, one per (name, db, backend config), an older one closed when
   * its config changed. `db` (default: the backend's own) is the client's db: where its queries and
   * writes go, so the copy and compare code reads and writes a step's db without knowing about dbs.
   */
  private clientsFor(config: ClusterConfig): (backend: string, db?: string) => BackendClient {
    return (name, db) => {
      const backend: BackendConfig | undefined = config.backends[name];
      if (!backend) throw new Error(`unknown backend ${name}`);
      const inDb = db ?? backend.db;
      const id = inDb === backend.db ? name : `${name}\u0000${inDb}`;
      const key = JSON.stringify(backend);
      const cached = this.clients.get(id);
      if (cached?.key === key) return cached.client;
      if (cached) void cached.client.close().catch(() => undefined);
      const client = new BackendClient(name, inDb === backend.db ? backend : { ...backend, db: inDb });
      this.clients.set(id, { key, client });
      return client;
    };
  }
}

/**
 * The context a step runs in: its backends' clients in the step's dbs (a copy or compare step's `dbOf`),
 * so the copier's SELECTs and writes go to the db the measurement lives in on each backend.
 */
function inDbs(ctx: CopyContext, clientOf: (backend: string, db?: string) => BackendClient, step: JobStep): CopyContext {
  if (step.op !== 'copy' && step.op !== 'compare') return ctx;
  const dbs = step.dbOf;
  return { ...ctx, clientOf: (backend) => clientOf(backend, dbs[backend]) };
}

/** Measurements listed by several backends, once each. */
function dedupe(refs: readonly { db: string; name: string }[]): { db: string; name: string }[] {
  const seen = new Map<string, { db: string; name: string }>();
  for (const r of refs) seen.set(JSON.stringify([r.db, r.name]), r);
  return [...seen.values()];
}
