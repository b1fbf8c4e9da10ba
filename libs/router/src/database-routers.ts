import { type ProxyNodeConfig, servesDatabase } from '@app/config';
import { MeasurementRouter, type Router } from './measurement-router';
import { movingPlacements, MovingRouter } from './moving-router';
import { type RoutingConfig, RoutingTable } from './routing-table';

/** Client databases with a router built at once; more are built on first use (a `"*"` proxy). */
const MAX_LAZY_ROUTERS = 1024;

/**
 * The measurement routers of one proxy: one for a proxy serving a single database (today's), one per
 * client database for a proxy with `databases` (the db takes part in the keys and in the hash).
 */
export class DatabaseRouters {
  readonly table: RoutingTable;
  /** The router of a single-database proxy (and of keys without a db on a multi-database one). */
  readonly single: Router;
  private readonly byDb = new Map<string, Router>();
  private readonly moving?: ReturnType<typeof movingPlacements>;

  constructor(
    config: RoutingConfig,
    private readonly node: Pick<ProxyNodeConfig, 'db' | 'databases'>,
    private readonly backendIndex: ReadonlyMap<string, number>,
    private readonly unescape: (buf: Buffer, start: number, end: number) => string,
    /** The routing before the keymap change an unfinished rebalance follows (its data is still moving). */
    before?: RoutingConfig,
  ) {
    this.table = new RoutingTable(config, node.databases !== undefined);
    if (before) this.moving = movingPlacements(this.table, before, backendIndex);
    this.single = this.routerFor('');
    // the listed databases' routers are built now, so a bad keymap is refused with the config
    if (Array.isArray(node.databases)) for (const db of node.databases) this.forDb(db);
  }

  get multiDb(): boolean {
    return this.table.multiDb;
  }

  /** Whether clients may name `db`. */
  serves(db: string): boolean {
    return servesDatabase(this.node.databases, this.node.db, db);
  }

  /** Whether a rebalance is under way (lines go to old and new owners, queries to the old). */
  get rebalancing(): boolean {
    return this.moving !== undefined;
  }

  /**
   * Backend names of the sets a read that may touch any measurement of `db` (a regex source, SHOW
   * MEASUREMENTS, a remote read by pattern) asks for the measurements no key names. While a rebalance
   * runs they are the routing's before the change, as for a single measurement's reads: the history is
   * there, and every write of the move still goes there too.
   */
  readDefaultSets(db: string): readonly (readonly string[])[] {
    return (this.moving?.before ?? this.table).defaultSets(db);
  }

  /** The router for the client database `db`; null when this proxy does not serve it. */
  forDb(db: string): Router | null {
    if (!this.table.multiDb) return this.single;
    let router = this.byDb.get(db);
    if (router) return router;
    if (!this.serves(db)) return null;
    // a "*" proxy builds routers for whatever dbs clients name: bounded, like the routers' own caches
    if (this.byDb.size >= MAX_LAZY_ROUTERS) this.byDb.clear();
    router = this.routerFor(db);
    this.byDb.set(db, router);
    return router;
  }

  private routerFor(db: string): Router {
    if (!this.moving) return new MeasurementRouter(this.table, this.backendIndex, this.unescape, db);
    return new MovingRouter(
      new MeasurementRouter(this.moving.writes, this.backendIndex, this.unescape, db),
      new MeasurementRouter(this.moving.reads, this.backendIndex, this.unescape, db),
    );
  }
}
