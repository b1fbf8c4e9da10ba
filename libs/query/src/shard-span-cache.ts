import type { Backend } from '@app/backend';
import { quoteIdent } from '@app/influxql';
import { loggerFor } from '@app/logging';
import { type BackendQuery, collectQuery } from './backend-query';
import { dataKey } from './query-planner';
import type { QueryResponse, Value } from './query-result';

/**
 * A guard verdict that rests on the shards waits for a read when the backend was last asked longer ago than
 * this: the window in which a shard made by a write with old timestamps would go unseen and a heavy query
 * pass. 0: every such verdict reads them (one meta query; concurrent ones share it). Such queries (a GROUP
 * BY time() without a lower bound) are rare — dashboards bound their ranges — and each would cost a backend
 * far more than SHOW SHARDS does.
 */
export const SHARD_STALE_MS = 0;
/** How long a refusal waits for that fresh read. */
const REFRESH_WAIT_MS = 2_000;

/** What one backend said of its database's shards (`SHOW SHARDS; SHOW RETENTION POLICIES ON db`). */
export interface ShardSpans {
  /** When it was read (ms). */
  readonly at: number;
  /** Earliest shard start (ns) per retention policy of the backend's database. */
  readonly byRp: ReadonlyMap<string, bigint>;
  /** The database's default retention policy, when known. */
  readonly defaultRp?: string;
}

/**
 * Where each backend's data begins: influxd reads only the shards that exist, so an open lower time bound
 * makes buckets from the earliest shard on, not from 1970. Read with `SHOW SHARDS` per backend when the
 * guard needs it — a GROUP BY time() without a lower bound — and the backend was last asked more than
 * SHARD_STALE_MS ago (so a shard made since, e.g. by a write with old timestamps or into a new rp, is seen
 * before a heavy query passes or anyone is refused). Such a query waits for that read (one meta query, at
 * most REFRESH_WAIT_MS); backends nobody sends such queries are never asked. A backend that cannot answer (down, SHOW SHARDS not permitted) has no entry: the guard then falls
 * back to counting from the epoch.
 */
export class ShardSpanCache {
  private readonly logger = loggerFor(ShardSpanCache.name);
  private readonly entries = new Map<string, ShardSpans>();
  private readonly inflight = new Map<string, Promise<void>>();
  /** When each backend was last asked: one that cannot answer is not asked again at every query. */
  private readonly tried = new Map<string, number>();

  /**
   * The backend's entry for `db` (default: its own `db`; a proxy serving several databases asks for the
   * statement's db as the backend maps it), if one has been read.
   */
  get(backend: Backend, db = backend.config.db): ShardSpans | undefined {
    return this.entries.get(keyOf(backend, db));
  }

  /** Whether the backend's shards were last asked for (answered or not) more than `maxAgeMs` ago. */
  isStale(backend: Backend, maxAgeMs = SHARD_STALE_MS, db = backend.config.db): boolean {
    const tried = this.tried.get(keyOf(backend, db));
    return tried === undefined || Date.now() - tried > maxAgeMs;
  }

  /**
   * Before a verdict that rests on these backends' shards: waits (at most REFRESH_WAIT_MS) for their reads in
   * flight, and reads again those not asked for SHARD_STALE_MS. Resolves true when anything was (being) read.
   */
  async freshen(backends: readonly Backend[], dbOf: (backend: Backend) => string = (b) => b.config.db): Promise<boolean> {
    const reads: Promise<void>[] = [];
    for (const b of backends) {
      const db = dbOf(b);
      const running = this.inflight.get(keyOf(b, db));
      if (running) reads.push(running);
      else if (this.isStale(b, SHARD_STALE_MS, db)) reads.push(this.refresh(b, db));
    }
    if (reads.length === 0) return false;
    let timer: NodeJS.Timeout | undefined;
    const wait = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, REFRESH_WAIT_MS);
    });
    await Promise.race([Promise.all(reads), wait]);
    clearTimeout(timer);
    return true;
  }

  /** One read per backend at a time; callers arriving meanwhile share it. */
  private refresh(backend: Backend, db: string): Promise<void> {
    const key = keyOf(backend, db);
    let running = this.inflight.get(key);
    if (!running) {
      this.tried.set(key, Date.now());
      running = this.read(backend, key, db).finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  private async read(backend: Backend, key: string, db: string): Promise<void> {
    const query: BackendQuery = {
      method: 'GET',
      params: { q: '', db, rp: '', epoch: '', chunked: '', chunkSize: '', params: '', pretty: false },
      streamed: false,
      requestId: 'shard-spans',
      ...(db !== backend.config.db ? { backendDb: db } : {}),
    };
    try {
      const answer = await collectQuery(0, backend, `SHOW SHARDS; SHOW RETENTION POLICIES ON ${quoteIdent(db)}`, query);
      if (!answer.ok) return; // keep what we had; the guard judges its age
      const spans = shardSpansOf(answer.response, db, Date.now());
      if (spans) this.entries.set(key, spans);
      else this.entries.delete(key);
    } catch (err) {
      this.logger.debug(`SHOW SHARDS on ${backend.name}: ${(err as Error).message}`);
    }
  }
}

/** The cache key of a backend's data in `db`: its dataKey alone for its own db (as before several databases existed). */
function keyOf(backend: Backend, db: string): string {
  return db === backend.config.db ? dataKey(backend) : `${dataKey(backend)}\u0000${db}`;
}

/** Reads `SHOW SHARDS; SHOW RETENTION POLICIES ON db`; undefined when SHOW SHARDS itself failed. */
export function shardSpansOf(response: QueryResponse, db: string, at: number): ShardSpans | undefined {
  if (response.error) return undefined;
  const shards = response.results?.[0];
  if (!shards || shards.error) return undefined;
  const byRp = new Map<string, bigint>();
  for (const series of shards.series ?? []) {
    const col = (name: string) => series.columns.indexOf(name);
    const [iDb, iRp, iStart] = [col('database'), col('retention_policy'), col('start_time')];
    if (iRp < 0 || iStart < 0) continue;
    for (const row of series.values ?? []) {
      const rowDb = iDb >= 0 ? row[iDb] : series.name;
      if (rowDb !== db) continue;
      const start = timeNs(row[iStart]);
      const rp = String(row[iRp]);
      if (start === undefined) return undefined; // unreadable: better unknown than wrong
      const known = byRp.get(rp);
      if (known === undefined || start < known) byRp.set(rp, start);
    }
  }
  let defaultRp: string | undefined;
  for (const series of response.results?.[1]?.series ?? []) {
    const iName = series.columns.indexOf('name');
    const iDefault = series.columns.indexOf('default');
    for (const row of series.values ?? []) if (row[iDefault] === true) defaultRp = String(row[iName]);
  }
  return defaultRp === undefined ? { at, byRp } : { at, byRp, defaultRp };
}

function timeNs(v: Value | undefined): bigint | undefined {
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : undefined;
}

/**
 * Where the data of `rps` begins on `backends`: the earliest shard start among them; `noData` when none of
 * them has a shard there; undefined when any backend's entry is missing (the guard then counts from 1970).
 * An rp of undefined is the database's default (all of its rps when the default is unknown).
 */
export function earliestShard(
  entries: readonly (ShardSpans | undefined)[],
  rps: ReadonlySet<string | undefined>,
  noData: bigint,
): bigint | undefined {
  if (entries.length === 0) return undefined;
  let earliest: bigint | undefined;
  const take = (v: bigint | undefined) => {
    if (v !== undefined && (earliest === undefined || v < earliest)) earliest = v;
  };
  for (const e of entries) {
    if (!e) return undefined;
    for (const rp of rps) {
      const name = rp ?? e.defaultRp;
      if (name !== undefined) take(e.byRp.get(name));
      else for (const v of e.byRp.values()) take(v);
    }
  }
  return earliest ?? noData;
}
