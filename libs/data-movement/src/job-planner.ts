import type { ClusterConfig } from '@app/config';
import { MeasurementRouter } from '@app/router';
import type { BackendInventory, MeasurementHolding } from './backend-discovery';
import {
  type CompareStep,
  type CopyStep,
  type DropStep,
  type JobPlan,
  type JobRequest,
  JobRefusedError,
  type JobStep,
  type SchemaStep,
} from './job-model';
import { TARGET_POINTS_PER_WINDOW, alignedSpan, chooseWindowMs } from './time-windows';

/**
 * Plans a job from what discovery found on the backends: pure, so every planning decision is testable
 * without servers. Which backends hold a measurement comes from the keymaps through MeasurementRouter
 * (the write path's own lookup: exact keymap, else `_default_`).
 */

/** The db a backend keeps its data in: the one place that knows (today each backend has one db). */
export function dbOf(config: ClusterConfig, backend: string): string {
  return config.backends[backend].db;
}

/** measurement → the backend names its keymap routes it to ([] when none does). Names of backends not in `config` are left out. */
export function routerOf(keymaps: Readonly<Record<string, readonly string[]>>, config: ClusterConfig): (measurement: string) => string[] {
  const names = Object.keys(config.backends);
  const index = new Map(names.map((n, i) => [n, i]));
  const known: Record<string, readonly string[]> = {};
  for (const [m, backends] of Object.entries(keymaps)) known[m] = backends.filter((b) => index.has(b));
  const router = new MeasurementRouter(known, index, (buf, start, end) => buf.toString('utf8', start, end));
  return (measurement) => (router.routeByName(measurement) ?? []).map((i) => names[i]);
}

/** The backends whose inventory a plan for `request` needs. */
export function backendsToDiscover(request: JobRequest, config: ClusterConfig): string[] {
  const all = Object.keys(config.backends);
  switch (request.kind) {
    case 'recover':
      return replicasOf(request.backend!, config);
    case 'cleanup':
      return [request.backend!];
    default:
      return all;
  }
}

/** The backends that share at least one keymap route with `backend` (where its data has copies). */
export function replicasOf(backend: string, config: ClusterConfig): string[] {
  const out = new Set<string>();
  for (const names of Object.values(config.keymaps)) {
    if (!names.includes(backend)) continue;
    for (const n of names) if (n !== backend && config.backends[n]) out.add(n);
  }
  return [...out];
}

/** Refuses a request that cannot be planned whatever the backends hold (checked before discovery). */
export function checkRequest(request: JobRequest, config: ClusterConfig): void {
  const { kind, backend } = request;
  if (kind === 'recover' || kind === 'cleanup') {
    if (!backend) throw new JobRefusedError(`${kind} needs a backend`);
    if (!config.backends[backend]) throw new JobRefusedError(`unknown backend ${JSON.stringify(backend)}`);
  }
  if (kind === 'recover' && replicasOf(backend!, config).length === 0) {
    throw new JobRefusedError(
      `backend ${JSON.stringify(backend)} has no replica to copy from: no keymap maps a measurement to it and another backend`,
    );
  }
  if (kind === 'cleanup' && request.confirm !== true) throw new JobRefusedError('cleanup drops data: confirm it');
  if (kind === 'rebalance' && !request.keymapsBefore)
    throw new JobRefusedError('rebalance needs the keymaps before the change (keymapsBefore)');
}

export interface PlanInput {
  readonly request: JobRequest;
  readonly config: ClusterConfig;
  /** The inventories of backendsToDiscover(request, config), in that order. */
  readonly inventories: readonly BackendInventory[];
  readonly now: number;
  /** Points a window should hold at most (default TARGET_POINTS_PER_WINDOW). */
  readonly pointsPerWindow?: number;
}

/** The plan for a request (checkRequest first); throws JobRefusedError or an Error when the backends it needs did not answer. */
export function planJob(input: PlanInput): JobPlan {
  const { request, config } = input;
  checkRequest(request, config);
  const byName = new Map(input.inventories.map((inv) => [inv.backend, inv]));
  const acc = new PlanAccumulator(input.pointsPerWindow ?? TARGET_POINTS_PER_WINDOW);
  switch (request.kind) {
    case 'recover':
      planRecover(request.backend!, config, input.inventories, acc);
      break;
    case 'resync':
      planResync(request, config, input.inventories, acc);
      break;
    case 'rebalance':
      planRebalance(request, config, input.inventories, acc);
      break;
    case 'cleanup': {
      const inv = byName.get(request.backend!);
      if (!inv?.reachable) throw new Error(`backend ${request.backend} did not answer: ${inv?.error ?? 'not discovered'}`);
      planCleanup(inv, config, acc);
      break;
    }
  }
  return { steps: acc.steps, estimatedPoints: Math.round(acc.points), estimatedBytes: Math.round(acc.bytes), plannedAt: input.now };
}

class PlanAccumulator {
  constructor(readonly pointsPerWindow: number) {}
  readonly steps: JobStep[] = [];
  points = 0;
  bytes = 0;
}

/** (rp, measurement) → the holdings of it on each backend that has it, in inventory order. */
function holdingsByKey(inventories: readonly BackendInventory[]): Map<string, { backend: string; holding: MeasurementHolding }[]> {
  const out = new Map<string, { backend: string; holding: MeasurementHolding }[]>();
  for (const inv of inventories) {
    if (!inv.reachable) continue;
    for (const holding of inv.holdings) {
      const key = JSON.stringify([holding.rp, holding.measurement]);
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push({ backend: inv.backend, holding });
    }
  }
  return out;
}

/** One copy step's span and window over what `holders` have (their union). */
function spanOver(
  holdings: readonly MeasurementHolding[],
  pointsPerWindow: number,
): { span: { start: number; end: number }; windowMs: number; points: number } {
  const first = Math.min(...holdings.map((h) => h.firstMs));
  const last = Math.max(...holdings.map((h) => h.lastMs));
  const points = Math.max(...holdings.map((h) => h.points));
  const windowMs = chooseWindowMs(points, first, last, pointsPerWindow);
  return { span: alignedSpan(first, last, windowMs), windowMs, points };
}

function dbMap(config: ClusterConfig, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = dbOf(config, n);
  return out;
}

function planRecover(backend: string, config: ClusterConfig, inventories: readonly BackendInventory[], acc: PlanAccumulator): void {
  const answering = inventories.filter((inv) => inv.reachable && inv.backend !== backend);
  if (answering.length === 0) {
    const why = inventories.map((inv) => `${inv.backend}: ${inv.error ?? 'not discovered'}`).join('; ');
    throw new Error(`no replica of backend ${backend} answered (${why})`);
  }
  const withDb = answering.filter((inv) => inv.hasDb);
  const schemaSources = (withDb.length > 0 ? withDb : answering).map((inv) => inv.backend);
  const dbs: Record<string, string> = {};
  for (const s of schemaSources) dbs[dbOf(config, s)] = dbOf(config, backend);
  const schema: SchemaStep = { op: 'schema', sources: schemaSources, target: backend, dbs };
  acc.steps.push(schema);
  const route = routerOf(config.keymaps, config);
  for (const holders of holdingsByKey(answering).values()) {
    const { rp, measurement } = holders[0].holding;
    const owners = route(measurement);
    if (!owners.includes(backend)) continue;
    const sources = holders.filter((h) => h.backend !== backend && owners.includes(h.backend));
    if (sources.length === 0) continue;
    addCopy(acc, config, rp, measurement, sources, [backend]);
  }
}

function addCopy(
  acc: PlanAccumulator,
  config: ClusterConfig,
  rp: string,
  measurement: string,
  sources: readonly { backend: string; holding: MeasurementHolding }[],
  targets: readonly string[],
): void {
  const { span, windowMs, points } = spanOver(
    sources.map((s) => s.holding),
    acc.pointsPerWindow,
  );
  const names = sources.map((s) => s.backend);
  const step: CopyStep = {
    op: 'copy',
    measurement,
    rp,
    dbOf: dbMap(config, [...names, ...targets]),
    sources: names,
    targets: [...targets],
    span,
    windowMs,
  };
  acc.steps.push(step);
  acc.points += points * targets.length;
  acc.bytes += points * targets.length * sources[0].holding.avgLineBytes;
}

function planResync(request: JobRequest, config: ClusterConfig, inventories: readonly BackendInventory[], acc: PlanAccumulator): void {
  const route = routerOf(config.keymaps, config);
  const down = new Map(inventories.filter((inv) => !inv.reachable).map((inv) => [inv.backend, inv.error ?? 'did not answer']));
  const only = request.measurements && request.measurements.length > 0 ? new Set(request.measurements) : undefined;
  const schemaSources = new Map<string, Set<string>>();
  for (const holders of holdingsByKey(inventories).values()) {
    const { rp, measurement } = holders[0].holding;
    if (only && !only.has(measurement)) continue;
    const replicas = route(measurement);
    // a measurement on one backend only has nothing to compare
    if (replicas.length < 2) continue;
    const missing = replicas.filter((r) => down.has(r));
    if (missing.length > 0)
      throw new Error(`cannot compare ${measurement}: backend ${missing[0]} did not answer (${down.get(missing[0])})`);
    const held = holders.filter((h) => replicas.includes(h.backend));
    if (held.length === 0) continue;
    const { span, windowMs, points } = spanOver(
      held.map((h) => h.holding),
      acc.pointsPerWindow,
    );
    const step: CompareStep = { op: 'compare', measurement, rp, dbOf: dbMap(config, replicas), replicas, span, windowMs };
    acc.steps.push(step);
    // a replica without this (rp, measurement) may lack the rp the union copy writes into
    for (const r of replicas) if (!held.some((h) => h.backend === r)) needsSchema(schemaSources, r, held);
    // what it may copy: each replica's shortfall against the fullest
    for (const r of replicas) {
      const mine = held.find((h) => h.backend === r)?.holding;
      const shortfall = points - (mine?.points ?? 0);
      acc.points += shortfall;
      acc.bytes += shortfall * held[0].holding.avgLineBytes;
    }
  }
  prependSchemaSteps(acc, config, schemaSources);
}

/** Notes that `target` needs the schema of `sources` (created only where missing) before it is written to. */
function needsSchema(map: Map<string, Set<string>>, target: string, sources: readonly { backend: string }[]): void {
  let from = map.get(target);
  if (!from) map.set(target, (from = new Set()));
  for (const s of sources) from.add(s.backend);
}

/** One createOnly schema step per target, before every other step. */
function prependSchemaSteps(acc: PlanAccumulator, config: ClusterConfig, schemaSources: ReadonlyMap<string, ReadonlySet<string>>): void {
  const schemas: SchemaStep[] = [...schemaSources].map(([target, from]) => {
    const names = [...from];
    const dbs: Record<string, string> = {};
    for (const n of names) dbs[dbOf(config, n)] = dbOf(config, target);
    return { op: 'schema', sources: names, target, dbs, createOnly: true };
  });
  acc.steps.unshift(...schemas);
}

function planRebalance(request: JobRequest, config: ClusterConfig, inventories: readonly BackendInventory[], acc: PlanAccumulator): void {
  const before = routerOf(request.keymapsBefore!, config);
  const after = routerOf(config.keymaps, config);
  const schemaSources = new Map<string, Set<string>>();
  for (const holders of holdingsByKey(inventories).values()) {
    const { rp, measurement } = holders[0].holding;
    const oldOwners = before(measurement);
    const newOwners = after(measurement).filter((b) => !oldOwners.includes(b));
    if (newOwners.length === 0) continue;
    const sources = holders.filter((h) => oldOwners.includes(h.backend));
    if (sources.length === 0) continue;
    addCopy(acc, config, rp, measurement, sources, newOwners);
    for (const target of newOwners) needsSchema(schemaSources, target, sources);
  }
  // a new owner may lack the db or the retention policies the data lives in: schema steps first
  prependSchemaSteps(acc, config, schemaSources);
}

function planCleanup(inv: BackendInventory, config: ClusterConfig, acc: PlanAccumulator): void {
  const route = routerOf(config.keymaps, config);
  const seen = new Set<string>();
  for (const h of inv.holdings) {
    if (seen.has(h.measurement) || route(h.measurement).includes(inv.backend)) continue;
    seen.add(h.measurement);
    const step: DropStep = { op: 'drop', backend: inv.backend, db: inv.db, measurement: h.measurement };
    acc.steps.push(step);
  }
}
