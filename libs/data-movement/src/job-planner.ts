import { type ClusterConfig, backendDatabase } from '@app/config';
import { type MeasurementRef, type RoutingConfig, RoutingTable, planMoves } from '@app/router';
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
 * without servers. Which backends hold a measurement comes from the proxies' own routing (RoutingTable:
 * explicit keymaps, hash keymaps over groups, `db.` keys on a fleet serving several databases).
 *
 * A fleet serves several databases when a proxy of its config has `databases`: the data of client db
 * `d` then lives on each backend in `backendDatabase(backend, d)` (its `dbMap`), and the job moves every
 * served db. Otherwise (single database) each backend keeps everything in its own `db`, client db `''`.
 */

/** Whether the fleet's proxies serve several databases (some proxy node has `databases`). */
export function isMultiDbFleet(config: Pick<ClusterConfig, 'proxies'>): boolean {
  return Object.values(config.proxies).some((node) => node.databases !== undefined);
}

/** The client dbs the proxies list (their union, sorted), and whether one serves `"*"` (then the backends say which exist). */
export function listedDatabases(config: Pick<ClusterConfig, 'proxies'>): { listed: string[]; any: boolean } {
  const listed = new Set<string>();
  let any = false;
  for (const node of Object.values(config.proxies)) {
    if (node.databases === '*') any = true;
    else if (node.databases) for (const db of node.databases) listed.add(db);
  }
  return { listed: [...listed].sort(), any };
}

/** influxd's own database, never a client's. */
export const INTERNAL_DATABASE = '_internal';

/**
 * The client dbs that a backend's databases `found` (SHOW DATABASES) hold data of, for a `"*"` fleet:
 * a db named by the backend's `dbMap` holds the client dbs mapped to it (only those: reading it as a
 * client db of its own name too would copy one db's data under two names), any other db the client db
 * of its own name (unless `dbMap` sends that client db elsewhere). `_internal` is never one.
 */
export function clientDatabasesOf(backend: ClusterConfig['backends'][string], found: readonly string[]): string[] {
  const map = backend.dbMap ?? {};
  const out = new Set<string>();
  for (const db of found) {
    if (db === INTERNAL_DATABASE) continue;
    const mappedHere = Object.keys(map).filter((client) => map[client] === db);
    // a db the operator named in dbMap holds the client dbs mapped to it; any other db, the client db of its name
    if (mappedHere.length > 0) for (const client of mappedHere) out.add(client);
    else if (!Object.prototype.hasOwnProperty.call(map, db)) out.add(db);
  }
  out.delete(INTERNAL_DATABASE);
  return [...out];
}

/**
 * The db a backend keeps the data of client db `clientDb` in: the one place that knows. A single-database
 * fleet: the backend's own `db` (whatever `clientDb`); several: the client db as its `dbMap` maps it.
 */
export function dbOf(config: ClusterConfig, backend: string, clientDb = ''): string {
  return backendDatabase(config.backends[backend], clientDb, isMultiDbFleet(config));
}

/** (measurement, client db) → the backend names the routing sends it to ([] when none does). Names of backends not in `config` are left out. */
export function routerOf(routing: RoutingConfig, config: ClusterConfig): (measurement: string, db?: string) => string[] {
  const table = new RoutingTable(routing, isMultiDbFleet(config));
  return (measurement, db = '') => {
    const placement = table.resolve(db, measurement);
    return placement ? [...new Set(placement.backends)].filter((b) => config.backends[b] !== undefined) : [];
  };
}

/** The routing in force before a rebalance's change, from what its request recorded. */
export function routingBefore(request: JobRequest): RoutingConfig {
  return { keymaps: request.keymapsBefore ?? {}, hashKeymaps: request.hashKeymapsBefore ?? {}, groups: request.groupsBefore ?? {} };
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

/** The backends that share at least one route with `backend` (where its data has copies): an explicit keymap's list, or a hashed group. */
export function replicasOf(backend: string, config: ClusterConfig): string[] {
  const out = new Set<string>();
  const sets: (readonly string[])[] = Object.values(config.keymaps);
  for (const groups of Object.values(config.hashKeymaps ?? {})) for (const g of groups) sets.push(config.groups?.[g] ?? []);
  for (const names of sets) {
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
  if (kind === 'rebalance') {
    if (!request.keymapsBefore) throw new JobRefusedError('rebalance needs the keymaps before the change (keymapsBefore)');
    for (const [key, groups] of Object.entries(request.hashKeymapsBefore ?? {})) {
      const missing = groups.find((g) => !request.groupsBefore || !Object.prototype.hasOwnProperty.call(request.groupsBefore, g));
      if (missing !== undefined)
        throw new JobRefusedError(`rebalance: hashKeymapsBefore.${key} names group ${JSON.stringify(missing)}, absent from groupsBefore`);
    }
  }
}

export interface PlanInput {
  readonly request: JobRequest;
  readonly config: ClusterConfig;
  /**
   * The inventories of backendsToDiscover(request, config), in that order: one per backend, or on a
   * fleet serving several databases one per (backend, client db) (`clientDb` set).
   */
  readonly inventories: readonly BackendInventory[];
  readonly now: number;
  /** Points a window should hold at most (default TARGET_POINTS_PER_WINDOW). */
  readonly pointsPerWindow?: number;
}

/** The plan for a request (checkRequest first); throws JobRefusedError or an Error when the backends it needs did not answer. */
export function planJob(input: PlanInput): JobPlan {
  const { request, config } = input;
  checkRequest(request, config);
  const acc = new PlanAccumulator(input.pointsPerWindow ?? TARGET_POINTS_PER_WINDOW, config);
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
      const mine = input.inventories.filter((inv) => inv.backend === request.backend);
      const down = mine.find((inv) => !inv.reachable);
      if (mine.length === 0 || down) throw new Error(`backend ${request.backend} did not answer: ${down?.error ?? 'not discovered'}`);
      planCleanup(request.backend!, mine, config, acc);
      break;
    }
  }
  return { steps: acc.steps, estimatedPoints: Math.round(acc.points), estimatedBytes: Math.round(acc.bytes), plannedAt: input.now };
}

class PlanAccumulator {
  readonly multiDb: boolean;
  constructor(
    readonly pointsPerWindow: number,
    config: ClusterConfig,
  ) {
    this.multiDb = isMultiDbFleet(config);
  }
  readonly steps: JobStep[] = [];
  points = 0;
  bytes = 0;
}

interface Holder {
  readonly backend: string;
  readonly holding: MeasurementHolding;
}

/** (client db, rp, measurement) → the holdings of it on each backend that has it, in inventory order. */
function holdingsByKey(inventories: readonly BackendInventory[]): Map<string, { clientDb: string; holders: Holder[] }> {
  const out = new Map<string, { clientDb: string; holders: Holder[] }>();
  for (const inv of inventories) {
    if (!inv.reachable) continue;
    const clientDb = inv.clientDb ?? '';
    for (const holding of inv.holdings) {
      const key = JSON.stringify([clientDb, holding.rp, holding.measurement]);
      let entry = out.get(key);
      if (!entry) out.set(key, (entry = { clientDb, holders: [] }));
      entry.holders.push({ backend: inv.backend, holding });
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

function dbMap(config: ClusterConfig, names: readonly string[], clientDb: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = dbOf(config, n, clientDb);
  return out;
}

/** The client db a step is for, as an optional field: only on a fleet serving several databases (single-db plans are unchanged). */
function clientDbField(acc: PlanAccumulator, clientDb: string): { clientDb?: string } {
  return acc.multiDb ? { clientDb } : {};
}

function planRecover(backend: string, config: ClusterConfig, inventories: readonly BackendInventory[], acc: PlanAccumulator): void {
  const answering = inventories.filter((inv) => inv.reachable && inv.backend !== backend);
  if (answering.length === 0) {
    const why = [...new Set(inventories.map((inv) => `${inv.backend}: ${inv.error ?? 'not discovered'}`))].join('; ');
    throw new Error(`no replica of backend ${backend} answered (${why})`);
  }
  if (!acc.multiDb) {
    const withDb = answering.filter((inv) => inv.hasDb);
    const schemaSources = (withDb.length > 0 ? withDb : answering).map((inv) => inv.backend);
    const dbs: Record<string, string> = {};
    for (const s of schemaSources) dbs[dbOf(config, s)] = dbOf(config, backend);
    const schema: SchemaStep = { op: 'schema', sources: schemaSources, target: backend, dbs };
    acc.steps.push(schema);
  } else {
    // one schema step per client db a replica has: each db's retention policies come from that db's holders
    const byDb = new Map<string, string[]>();
    for (const inv of answering) {
      if (!inv.hasDb) continue;
      const clientDb = inv.clientDb ?? '';
      byDb.set(clientDb, [...(byDb.get(clientDb) ?? []), inv.backend]);
    }
    for (const [clientDb, sources] of byDb) acc.steps.push(schemaStep(config, sources, backend, clientDb, false));
  }
  const route = routerOf(config, config);
  for (const { clientDb, holders } of holdingsByKey(answering).values()) {
    const { rp, measurement } = holders[0].holding;
    const owners = route(measurement, clientDb);
    if (!owners.includes(backend)) continue;
    const sources = holders.filter((h) => h.backend !== backend && owners.includes(h.backend));
    if (sources.length === 0) continue;
    addCopy(acc, config, clientDb, rp, measurement, sources, [backend]);
  }
}

/** A schema step for `target` from `sources` in client db `clientDb` (several-database fleets: with the step's dbs per backend). */
function schemaStep(config: ClusterConfig, sources: readonly string[], target: string, clientDb: string, createOnly: boolean): SchemaStep {
  const dbs: Record<string, string> = {};
  const perBackend: Record<string, string> = { [target]: dbOf(config, target, clientDb) };
  for (const s of sources) {
    perBackend[s] = dbOf(config, s, clientDb);
    dbs[perBackend[s]] = perBackend[target];
  }
  return {
    op: 'schema',
    sources: [...sources],
    target,
    dbs,
    ...(createOnly ? { createOnly: true } : {}),
    dbOf: perBackend,
    clientDb,
  };
}

function addCopy(
  acc: PlanAccumulator,
  config: ClusterConfig,
  clientDb: string,
  rp: string,
  measurement: string,
  sources: readonly Holder[],
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
    dbOf: dbMap(config, [...names, ...targets], clientDb),
    sources: names,
    targets: [...targets],
    span,
    windowMs,
    ...clientDbField(acc, clientDb),
  };
  acc.steps.push(step);
  acc.points += points * targets.length;
  acc.bytes += points * targets.length * sources[0].holding.avgLineBytes;
}

function planResync(request: JobRequest, config: ClusterConfig, inventories: readonly BackendInventory[], acc: PlanAccumulator): void {
  const route = routerOf(config, config);
  const down = new Map(inventories.filter((inv) => !inv.reachable).map((inv) => [inv.backend, inv.error ?? 'did not answer']));
  const only = request.measurements && request.measurements.length > 0 ? new Set(request.measurements) : undefined;
  const schemaSources = new SchemaNeeds();
  for (const { clientDb, holders } of holdingsByKey(inventories).values()) {
    const { rp, measurement } = holders[0].holding;
    if (only && !only.has(measurement)) continue;
    const replicas = route(measurement, clientDb);
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
    const step: CompareStep = {
      op: 'compare',
      measurement,
      rp,
      dbOf: dbMap(config, replicas, clientDb),
      replicas,
      span,
      windowMs,
      ...clientDbField(acc, clientDb),
    };
    acc.steps.push(step);
    // a replica without this (rp, measurement) may lack the rp the union copy writes into
    for (const r of replicas) if (!held.some((h) => h.backend === r)) schemaSources.add(r, clientDb, held);
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

/** (target, client db) → the backends whose schema it needs (created only where missing) before it is written to. */
class SchemaNeeds {
  readonly byTarget = new Map<string, { target: string; clientDb: string; sources: Set<string> }>();
  add(target: string, clientDb: string, sources: readonly { backend: string }[]): void {
    const key = JSON.stringify([target, clientDb]);
    let entry = this.byTarget.get(key);
    if (!entry) this.byTarget.set(key, (entry = { target, clientDb, sources: new Set() }));
    for (const s of sources) entry.sources.add(s.backend);
  }
}

/** One createOnly schema step per target (per client db on a several-database fleet), before every other step. */
function prependSchemaSteps(acc: PlanAccumulator, config: ClusterConfig, needs: SchemaNeeds): void {
  const schemas: SchemaStep[] = [...needs.byTarget.values()].map(({ target, clientDb, sources }) => {
    const names = [...sources];
    if (acc.multiDb) return schemaStep(config, names, target, clientDb, true);
    const dbs: Record<string, string> = {};
    for (const n of names) dbs[dbOf(config, n)] = dbOf(config, target);
    return { op: 'schema', sources: names, target, dbs, createOnly: true };
  });
  acc.steps.unshift(...schemas);
}

/** The proxy node whose view of the keys planMoves takes: one with `databases` on a several-database fleet, else one without. */
function viewNode(config: ClusterConfig, multiDb: boolean): string {
  return Object.keys(config.proxies).find((n) => (config.proxies[n].databases !== undefined) === multiDb) ?? '';
}

/**
 * The (client db, measurement)s of `measurements` whose backends differ between the routing before a
 * rebalance and `config`'s: libs/router's planMoves, the function behind `/admin/plan`, so the job moves
 * exactly what the plan endpoint announced.
 */
export function movingMeasurements(request: JobRequest, config: ClusterConfig, measurements: readonly MeasurementRef[]) {
  const multiDb = isMultiDbFleet(config);
  const before = { ...(routingBefore(request) as Pick<ClusterConfig, 'keymaps' | 'hashKeymaps' | 'groups'>), proxies: config.proxies };
  return planMoves(before, config, measurements, viewNode(config, multiDb)).moves;
}

function planRebalance(request: JobRequest, config: ClusterConfig, inventories: readonly BackendInventory[], acc: PlanAccumulator): void {
  const held = holdingsByKey(inventories);
  const refs = new Map<string, MeasurementRef>();
  for (const { clientDb, holders } of held.values()) {
    const name = holders[0].holding.measurement;
    refs.set(JSON.stringify([clientDb, name]), { db: clientDb, name });
  }
  const moves = new Map(movingMeasurements(request, config, [...refs.values()]).map((m) => [JSON.stringify([m.db, m.name]), m]));
  const schemaSources = new SchemaNeeds();
  for (const { clientDb, holders } of held.values()) {
    const { rp, measurement } = holders[0].holding;
    const move = moves.get(JSON.stringify([clientDb, measurement]));
    if (!move) continue;
    // copy to the backends that own it now and did not before, from the old owners that hold it
    const newOwners = move.to.filter((b) => !move.from.includes(b) && config.backends[b] !== undefined);
    if (newOwners.length === 0) continue;
    const sources = holders.filter((h) => move.from.includes(h.backend));
    if (sources.length === 0) continue;
    addCopy(acc, config, clientDb, rp, measurement, sources, newOwners);
    for (const target of newOwners) schemaSources.add(target, clientDb, sources);
  }
  // a new owner may lack the db or the retention policies the data lives in: schema steps first
  prependSchemaSteps(acc, config, schemaSources);
}

function planCleanup(backend: string, inventories: readonly BackendInventory[], config: ClusterConfig, acc: PlanAccumulator): void {
  const route = routerOf(config, config);
  // a backend db may hold several client dbs (two mapped to one name): a measurement is kept there if any routes it here
  const kept = new Set<string>();
  for (const inv of inventories) {
    for (const h of inv.holdings)
      if (route(h.measurement, inv.clientDb ?? '').includes(backend)) kept.add(JSON.stringify([inv.db, h.measurement]));
  }
  const seen = new Set<string>();
  for (const inv of inventories) {
    for (const h of inv.holdings) {
      const key = JSON.stringify([inv.db, h.measurement]);
      if (seen.has(key) || kept.has(key)) continue;
      seen.add(key);
      const step: DropStep = { op: 'drop', backend, db: inv.db, measurement: h.measurement };
      acc.steps.push(step);
    }
  }
}
