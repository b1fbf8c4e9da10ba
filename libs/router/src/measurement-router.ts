import { type Placement, type RoutingConfig, RoutingTable } from './routing-table';

/** Backend indices a measurement's lines go to. */
export type Route = readonly number[];

interface CacheEntry {
  hash: number;
  bytes: Buffer;
  route: Route | null;
  next: CacheEntry | null;
}

const MAX_CACHED = 1 << 16;
/**
 * Slots of the direct-mapped cache in front of the Map, by the hash's low bits: a body's few
 * measurements are found with one array read, where Map.get cost about 5 % of the route stage.
 */
const RECENT_SLOTS = 64;

/** Where (db, measurement) lives: a RoutingTable, or the old-and-new owners while a rebalance moves data. */
export interface PlacementSource {
  resolve(db: string, measurement: string): Placement | null;
}

/**
 * What the write and query paths route with: a MeasurementRouter, or a MovingRouter while a rebalance
 * is under way (then lines go to old and new owners, and queries to the old ones).
 */
export interface Router {
  readonly db: string;
  /** A line's route (writes). */
  routeRaw(buf: Buffer, start: number, end: number, hash: number): Route | null;
  /** A measurement's route for lines the caller made itself (writes). */
  writeRouteByName(measurement: string): Route | null;
  /** A measurement's route for a query (reads). */
  routeByName(measurement: string): Route | null;
}

/**
 * Measurement → backends for one client database: the most specific keymap key first (see
 * RoutingTable), never a prefix match; a hash keymap's group is chosen by consistent hash. Routes are
 * cached by the raw (escaped) measurement bytes of a line, so the hot path looks a measurement up
 * without building a string and never hashes per line; only a cache miss decodes the name (and
 * walks the ring).
 */
export class MeasurementRouter implements Router {
  /** Backend-name list → its route, so equal lists share one array. */
  private readonly routes = new Map<string, Route>();
  private readonly table: PlacementSource;
  private readonly cache = new Map<number, CacheEntry>();
  private readonly recent: (CacheEntry | null)[] = new Array<CacheEntry | null>(RECENT_SLOTS).fill(null);
  private cached = 0;

  /**
   * @param config the keymaps (measurement → backend names), or a RoutingTable over a whole config
   * @param backendIndex backend name → index in the caller's backend array
   * @param unescape decodes raw measurement bytes into the name keymaps use
   * @param db the client database this router routes for (multi-database proxies build one per db)
   */
  constructor(
    config: Record<string, readonly string[]> | PlacementSource,
    private readonly backendIndex: ReadonlyMap<string, number>,
    private readonly unescape: (buf: Buffer, start: number, end: number) => string,
    readonly db = '',
  ) {
    const keymaps = isPlacementSource(config) ? {} : config;
    this.table = isPlacementSource(config) ? config : new RoutingTable({ keymaps } satisfies RoutingConfig, false);
    // a keymap naming an unknown backend is refused when the router is built, not at the first line
    for (const [key, names] of Object.entries(keymaps)) this.routeOf(key, names);
  }

  /** The route for a measurement name, or null when no backend takes it. */
  routeByName(measurement: string): Route | null {
    const placement = this.table.resolve(this.db, measurement);
    return placement ? this.routeOf(placement.key, placement.backends) : null;
  }

  /** The same route: a MeasurementRouter reads and writes alike. */
  writeRouteByName(measurement: string): Route | null {
    return this.routeByName(measurement);
  }

  private routeOf(key: string, names: readonly string[]): Route {
    const id = names.join('\u0000');
    let route = this.routes.get(id);
    if (route) return route;
    route = [...new Set(names)].map((name) => {
      const index = this.backendIndex.get(name);
      if (index === undefined) throw new Error(`keymap ${key} names unknown backend ${name}`);
      return index;
    });
    this.routes.set(id, route);
    return route;
  }

  /** The route for the raw measurement bytes buf[start, end) whose FNV-1a hash is `hash`. */
  routeRaw(buf: Buffer, start: number, end: number, hash: number): Route | null {
    const slot = hash & (RECENT_SLOTS - 1);
    const recent = this.recent[slot];
    if (recent !== null && recent.hash === hash && sameBytes(recent.bytes, buf, start, end)) return recent.route;
    for (let e: CacheEntry | null = this.cache.get(hash) ?? null; e; e = e.next) {
      if (sameBytes(e.bytes, buf, start, end)) {
        this.recent[slot] = e;
        return e.route;
      }
    }
    const route = this.routeByName(this.unescape(buf, start, end));
    if (this.cached >= MAX_CACHED) {
      this.cache.clear();
      this.recent.fill(null);
      this.cached = 0;
    }
    const bytes = Buffer.from(buf.subarray(start, end));
    const entry: CacheEntry = { hash, bytes, route, next: this.cache.get(hash) ?? null };
    this.cache.set(hash, entry);
    this.recent[slot] = entry;
    this.cached++;
    return route;
  }
}

function isPlacementSource(config: Record<string, readonly string[]> | PlacementSource): config is PlacementSource {
  return typeof (config as PlacementSource).resolve === 'function' && !Array.isArray((config as Record<string, unknown>).resolve);
}

function sameBytes(a: Buffer, buf: Buffer, start: number, end: number): boolean {
  const n = a.length;
  if (n !== end - start) return false;
  for (let i = 0; i < n; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}
