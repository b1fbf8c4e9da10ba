import type { MeasurementRouter, PlacementSource } from './measurement-router';
import { type Placement, type RoutingConfig, RoutingTable } from './routing-table';

/**
 * The routing in force before a keymap change that a rebalance job is following, with the backends no
 * longer in the config left out (they can be neither asked nor written to).
 */
export function knownRouting(before: RoutingConfig, backendIndex: ReadonlyMap<string, number>): RoutingConfig {
  const known = (names: readonly string[]) => names.filter((n) => backendIndex.has(n));
  const keymaps: Record<string, string[]> = {};
  for (const [key, names] of Object.entries(before.keymaps)) keymaps[key] = known(names);
  const groups: Record<string, string[]> = {};
  for (const [group, names] of Object.entries(before.groups ?? {})) groups[group] = known(names);
  return { keymaps, ...(before.hashKeymaps ? { hashKeymaps: before.hashKeymaps } : {}), groups };
}

/** Writes while data moves: a measurement's old and new owners. */
export class MovingWrites implements PlacementSource {
  constructor(
    private readonly after: RoutingTable,
    private readonly before: RoutingTable,
  ) {}

  get multiDb(): boolean {
    return this.after.multiDb;
  }

  resolve(db: string, measurement: string): Placement | null {
    const now = this.after.resolve(db, measurement);
    const then = this.before.resolve(db, measurement);
    if (!then || then.backends.length === 0) return now;
    if (!now) return then;
    const union = [...new Set([...now.backends, ...then.backends])];
    return union.length === now.backends.length ? now : { backends: union, key: now.key };
  }
}

/** Reads while data moves: a measurement's old owners, where its history is until the copy is done. */
export class MovingReads implements PlacementSource {
  constructor(
    private readonly after: RoutingTable,
    private readonly before: RoutingTable,
  ) {}

  get multiDb(): boolean {
    return this.after.multiDb;
  }

  resolve(db: string, measurement: string): Placement | null {
    const then = this.before.resolve(db, measurement);
    return then && then.backends.length > 0 ? then : this.after.resolve(db, measurement);
  }
}

/**
 * A client db's routes while a rebalance is under way: lines (routeRaw, writeRouteByName) go to the
 * old and new owners, queries (routeByName) to the old ones. Each side is a MeasurementRouter of its
 * own, so the write path stays one cached lookup per line.
 */
export class MovingRouter {
  constructor(
    private readonly writes: MeasurementRouter,
    private readonly reads: MeasurementRouter,
  ) {}

  get db(): string {
    return this.writes.db;
  }

  routeRaw(buf: Buffer, start: number, end: number, hash: number): ReturnType<MeasurementRouter['routeRaw']> {
    return this.writes.routeRaw(buf, start, end, hash);
  }

  writeRouteByName(measurement: string): ReturnType<MeasurementRouter['routeByName']> {
    return this.writes.routeByName(measurement);
  }

  routeByName(measurement: string): ReturnType<MeasurementRouter['routeByName']> {
    return this.reads.routeByName(measurement);
  }
}

/** Builds the pair of placement sources over `after` and the routing `before` a change. */
export function movingPlacements(after: RoutingTable, before: RoutingConfig, backendIndex: ReadonlyMap<string, number>) {
  const then = new RoutingTable(knownRouting(before, backendIndex), after.multiDb);
  return { writes: new MovingWrites(after, then), reads: new MovingReads(after, then), before: then };
}
