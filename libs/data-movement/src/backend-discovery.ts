import { setMaxListeners } from 'node:events';
import { type BackendClient, type QueryRequest, describeError, errorTextOf } from '@app/backend';
import { quoteIdent } from '@app/influxql';
import { msgpackResponses } from './msgpack-answer-reader';
import { seriesOf, seriesToLines } from '@app/query/rows-to-lines';

/**
 * What a backend holds, learnt from the backend itself: its databases, retention policies, shard
 * groups and measurements, and per (rp, measurement) the points and time span there. The planner reads
 * only this, so planning is testable without servers.
 */

export interface RetentionPolicyInfo {
  readonly name: string;
  /** As influxd prints it (`168h0m0s`, `0s` for infinite). */
  readonly duration: string;
  readonly shardGroupDuration: string;
  readonly replicaN: number;
  readonly default: boolean;
}

/** One measurement in one retention policy, with data. */
export interface MeasurementHolding {
  readonly rp: string;
  readonly measurement: string;
  /** Points there (the largest per-field count: a lower bound when fields are sparse). */
  readonly points: number;
  /** Epoch ms of its first and last point. */
  readonly firstMs: number;
  readonly lastMs: number;
  /** Average line-protocol bytes per point, from a sample. */
  readonly avgLineBytes: number;
}

export interface BackendInventory {
  readonly backend: string;
  /** The db on the backend that was looked at. */
  readonly db: string;
  /** On a fleet serving several databases: the client db whose data `db` holds (absent: a single-database fleet). */
  readonly clientDb?: string;
  /** Whether it answered; when not, `error` says why and the rest is empty. */
  readonly reachable: boolean;
  readonly error?: string;
  /** Whether `db` exists there. */
  readonly hasDb: boolean;
  readonly retentionPolicies: readonly RetentionPolicyInfo[];
  readonly holdings: readonly MeasurementHolding[];
}

/** The discovery the planner needs: one backend's inventory of `db`, optionally only some measurements. */
export interface ClusterDiscovery {
  inventory(backend: string, db: string, measurements?: readonly string[]): Promise<BackendInventory>;
  /** The databases on a backend (SHOW DATABASES), for a fleet whose proxies serve `"*"`; throws when it does not answer. */
  databases?(backend: string): Promise<string[]>;
  /** The measurement names in `db` on a backend (none when the db is not there); throws when it does not answer. */
  measurements?(backend: string, db: string): Promise<string[]>;
}

/** (rp, measurement) pairs discovered at once on one backend. */
const DISCOVERY_CONCURRENCY = 4;

/** Points sampled per measurement to estimate the bytes a copy moves. */
const SAMPLE_POINTS = 20;

/** Discovery through BackendClients (SHOW DATABASES / RETENTION POLICIES / SHARDS / MEASUREMENTS, counts, first/last). */
export class InfluxDiscovery implements ClusterDiscovery {
  constructor(
    private readonly clientOf: (backend: string) => BackendClient,
    private readonly signal: AbortSignal = neverAborted(),
  ) {}

  async databases(backend: string): Promise<string[]> {
    return (await showValues(this.clientOf(backend), 'SHOW DATABASES', false)).map((row) => String(row[0]));
  }

  async measurements(backend: string, db: string): Promise<string[]> {
    const client = this.clientOf(backend);
    if (!(await this.databases(backend)).includes(db)) return [];
    return (await showValues(client, `SHOW MEASUREMENTS ON ${quoteIdent(db)}`)).map((row) => String(row[0]));
  }

  async inventory(backend: string, db: string, measurements?: readonly string[]): Promise<BackendInventory> {
    const client = this.clientOf(backend);
    const empty = { backend, db, hasDb: false, retentionPolicies: [], holdings: [] };
    let dbs: string[];
    try {
      dbs = (await showValues(client, 'SHOW DATABASES', false)).map((row) => String(row[0]));
    } catch (err) {
      return { ...empty, reachable: false, error: describeError(err) };
    }
    if (!dbs.includes(db)) return { ...empty, reachable: true };
    const on = quoteIdent(db);
    const retentionPolicies = (await showRows(client, `SHOW RETENTION POLICIES ON ${on}`)).map((r): RetentionPolicyInfo => ({
      name: String(r.name),
      duration: String(r.duration),
      shardGroupDuration: String(r.shardGroupDuration),
      replicaN: Number(r.replicaN),
      default: r.default === true,
    }));
    // each rp's shard groups bound the times its data can have (and count(*) needs an upper bound: without one it stops at now())
    const spans = new Map<string, { start: number; end: number }>();
    for (const r of await showRows(client, 'SHOW SHARDS')) {
      if (r.database !== db) continue;
      const rp = String(r.retention_policy);
      const start = Date.parse(String(r.start_time));
      const end = Date.parse(String(r.end_time));
      const span = spans.get(rp);
      spans.set(rp, span ? { start: Math.min(span.start, start), end: Math.max(span.end, end) } : { start, end });
    }
    let names = (await showValues(client, `SHOW MEASUREMENTS ON ${on}`)).map((row) => String(row[0]));
    if (measurements && measurements.length > 0) {
      const wanted = new Set(measurements);
      names = names.filter((m) => wanted.has(m));
    }
    const pairs = [...spans].flatMap(([rp, span]) => names.map((measurement) => ({ rp, span, measurement })));
    // a few at a time: each is four small queries, and influxd answers them in parallel
    const found = await mapLimited(pairs, DISCOVERY_CONCURRENCY, ({ rp, span, measurement }) =>
      this.holding(client, db, rp, measurement, span),
    );
    const holdings = found.filter((h): h is MeasurementHolding => h !== undefined);
    return { backend, db, reachable: true, hasDb: true, retentionPolicies, holdings };
  }

  private async holding(
    client: BackendClient,
    db: string,
    rp: string,
    measurement: string,
    span: { start: number; end: number },
  ): Promise<MeasurementHolding | undefined> {
    const from = `FROM ${quoteIdent(measurement)} WHERE time >= ${span.start}ms AND time < ${span.end}ms`;
    const counts = await showRows(client, `SELECT count(*) ${from}`, rp, undefined, db);
    let points = 0;
    for (const row of counts)
      for (const [k, v] of Object.entries(row)) if (k !== 'time' && typeof v === 'number') points = Math.max(points, v);
    if (points === 0) return undefined;
    // in µs (exact in a JSON number until year 2255); influxd truncates toward zero, so a first point
    // before 1970 may be up to 1 µs earlier than it says: its ms is taken one lower there
    const first = await showRows(client, `SELECT * ${from} ORDER BY time ASC LIMIT 1`, rp, 'u', db);
    const last = await showRows(client, `SELECT * ${from} ORDER BY time DESC LIMIT 1`, rp, 'u', db);
    const firstUs = first[0]?.time;
    const lastUs = last[0]?.time;
    const firstMs = typeof firstUs === 'number' ? Math.floor(firstUs / 1000) - (firstUs < 0 ? 1 : 0) : span.start;
    const lastMs = typeof lastUs === 'number' ? Math.floor(lastUs / 1000) : span.end - 1;
    let bytes = 0;
    let lines = 0;
    const sample = {
      line(text: string) {
        bytes += Buffer.byteLength(text);
        lines++;
      },
    };
    const request: QueryRequest = {
      method: 'POST',
      text: `SELECT * ${from} GROUP BY * LIMIT ${SAMPLE_POINTS} SLIMIT ${SAMPLE_POINTS}`,
      db,
      rp,
      epoch: 'ns',
      accept: 'application/x-msgpack',
    };
    for await (const response of msgpackResponses(client, request, this.signal)) {
      for (const series of seriesOf(response).series) seriesToLines(series, sample);
    }
    return { rp, measurement, points, firstMs, lastMs, avgLineBytes: lines > 0 ? bytes / lines : 0 };
  }
}

/** A signal that never aborts, shared by every sample read of a discovery (many at once on a fleet of several databases: no listener limit). */
function neverAborted(): AbortSignal {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return signal;
}

/** The rows of a statement's answer as objects (column → value), every series together; in `db` (default: the client's backend's own). */
export async function showRows(
  client: BackendClient,
  text: string,
  rp?: string,
  epoch?: string,
  db?: string,
): Promise<Record<string, unknown>[]> {
  const answer = await statement(client, text, db ?? true, rp, epoch);
  const out: Record<string, unknown>[] = [];
  for (const s of answer) {
    for (const values of s.values ?? []) {
      const row: Record<string, unknown> = {};
      s.columns.forEach((c, i) => (row[c] = values[i]));
      out.push(row);
    }
  }
  return out;
}

async function showValues(client: BackendClient, text: string, db = true): Promise<unknown[][]> {
  return (await statement(client, text, db)).flatMap((s) => s.values ?? []);
}

interface JsonSeries {
  name?: string;
  columns: string[];
  values?: unknown[][];
}

/**
 * Runs one statement and returns its series; throws with influxd's error text. Statements that change
 * something go out as POST (influxd refuses them over GET). `db`: true for the backend's own db, false
 * for none (SHOW DATABASES), a name for that db.
 */
export async function statement(
  client: BackendClient,
  text: string,
  db: boolean | string = true,
  rp?: string,
  epoch?: string,
): Promise<JsonSeries[]> {
  const req: QueryRequest = { method: 'POST', text, rp, epoch };
  if (db === false) req.db = false;
  else if (typeof db === 'string') req.db = db;
  const answer = await client.query(req);
  const body = answer.body.toString('utf8');
  if (answer.status !== 200) throw new Error(`backend ${client.name} answered ${answer.status}: ${errorTextOf(answer.status, body)}`);
  const json = JSON.parse(body) as { results?: { error?: string; series?: JsonSeries[] }[]; error?: string };
  if (json.error) throw new Error(`backend ${client.name}: ${json.error}`);
  const result = json.results?.[0];
  if (result?.error) throw new Error(`backend ${client.name}: ${text}: ${result.error}`);
  return result?.series ?? [];
}

/** `fn` over `items` with at most `limit` calls pending at once; results in the order of `items`. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
