import {
  type ClauseRange,
  type Expr,
  type ParsedStatement,
  type SelectField,
  type Source,
  quoteIdent,
  rewriteDatabase,
} from '@app/influxql';
import { sideDoorOf } from './side-door';
import type { StatementOutcome } from './query-result';
import type { MergeSpec } from './result-merge';

/** What the planner needs of a backend (a `Backend` of the topology fits). */
export interface PlannerBackend {
  readonly name: string;
  readonly config: {
    readonly url: string;
    readonly db: string;
    readonly zone: string;
    readonly writeOnly: boolean;
    readonly dbMap?: Readonly<Record<string, string>>;
  };
  readonly isHealthy: boolean;
}

/** What the planner needs of the cluster (the proxy's `Topology` fits). */
/** A measurement router (the proxy's MeasurementRouter fits). */
export interface PlannerRouter {
  routeByName(measurement: string): readonly number[] | null;
}

/** The routers of a proxy serving several databases (the proxy's DatabaseRouters fits). */
export interface PlannerRouters {
  readonly multiDb: boolean;
  serves(db: string): boolean;
  forDb(db: string): PlannerRouter | null;
  /** Backend names of the default sets a read of any measurement of `db` asks (see DatabaseRouters.readDefaultSets). */
  readDefaultSets(db: string): readonly (readonly string[])[];
}

export interface PlannerTopology {
  readonly backends: readonly PlannerBackend[];
  readonly byName?: ReadonlyMap<string, number>;
  readonly node: {
    readonly db: string;
    /** The databases a proxy serving several serves (absent: one, `db`). */
    readonly databases?: '*' | readonly string[];
    readonly zone: string;
    readonly forbiddenStatements: readonly string[];
    readonly fanoutCreate: boolean;
  };
  readonly router: PlannerRouter;
  /** Absent: a single-database proxy with explicit keymaps only (what tests build by hand). */
  readonly routers?: PlannerRouters;
  readonly config: {
    readonly keymaps: Readonly<Record<string, readonly string[]>>;
    readonly hashKeymaps?: Readonly<Record<string, readonly string[]>>;
  };
}

/**
 * Which replicas are read-behind: replay backlog for them waits somewhere in the fleet. A behind
 * replica answers no query while a caught-up one can; when all are behind, the least-behind answers.
 */
export interface ReadFence {
  /** False while no backend is behind: the planner then looks nothing up. */
  readonly active: boolean;
  /** Records waiting for `backend` (0: caught up). */
  behind(backend: PlannerBackend): number;
  /** How READ_BEHIND_HEADER names a behind backend (absent: `<name> (<records> records waiting)`). */
  describeBehind?(backend: PlannerBackend): string;
}

/** Nobody is behind (a proxy without a fence, and the planner's default). */
export const NO_READ_FENCE: ReadFence = { active: false, behind: () => 0 };

/** The response header naming the read-behind replicas a query had to be answered from. */
export const READ_BEHIND_HEADER = 'X-Influxdb-Proxy-Read-Behind';

/** A statement's text for a backend whose database is `db` (db qualifiers renamed, limits widened…). */
export type TextFor = (db: string) => string;

/**
 * How one statement is answered. Backend lists are indices into `topology.backends`, best first. On a
 * proxy serving several databases, `db` is the statement's client database: each backend runs it in
 * that db as its dbMap maps it (absent: each backend's own `db`).
 */
export type StatementPlan = (
  | PlanKinds
  /** SHOW DATABASES on a proxy serving several: the `allowed` ones some backend has, merged. */
  | { kind: 'databases'; backends: number[]; allowed: '*' | readonly string[] }
) & { db?: string };

type PlanKinds =
  /** Answered by the proxy itself (SHOW DATABASES, a database this proxy does not serve). */
  | { kind: 'local'; outcome: StatementOutcome }
  /** One backend answers: the first candidate that does (next on network error, timeout or 5xx). */
  | { kind: 'single'; candidates: number[]; text: TextFor }
  /**
   * Every healthy backend answers and the answers are merged. Backends that fail are left out; when
   * one of `required` (the keymaps' backend sets) has no member that answered, the answer carries a
   * warning message. No answer at all is a 503.
   */
  | { kind: 'fanout'; backends: number[]; required: number[][]; merge: MergeSpec; text: TextFor; key: string }
  /** One backend of each group answers (failing over within the group); answers merged. */
  | { kind: 'cover'; groups: number[][]; merge: MergeSpec; text: TextFor }
  /** Every backend must run it (CREATE DATABASE …): succeeds only when all do. */
  | { kind: 'all'; backends: number[]; text: TextFor }
  /**
   * SELECT … INTO: the SELECT part (`text`, the statement without its INTO clause) runs on one backend of
   * each group (failing over within it); the rows are written through the proxy's write path, so every
   * backend the target measurement maps to gets them (see select-into.ts).
   */
  | { kind: 'into'; groups: number[][]; text: TextFor; target: { name?: string; rp?: string }; statement: string }
  /** No backend can answer it: the request gets 503. */
  | { kind: 'unavailable'; message: string };

export type QueryPlan =
  /** A forbidden statement: the whole request is refused (400, or `status`), nothing reaches a backend. */
  | { kind: 'refused'; message: string; status?: number }
  | {
      kind: 'plans';
      statements: StatementPlan[];
      /** Set when every statement goes to the same backends: one request, streamed back as is. */
      stream?: { candidates: number[]; text: TextFor; db?: string };
      /**
       * Set when a read-behind replica had to be chosen (every replica of its set is behind): the
       * READ_BEHIND_HEADER value, e.g. `b (120 records waiting)`.
       */
      readBehind?: string;
    };

const DEFAULT_KEYMAP = '_default_';

/** Statements that read or write a database and so need one (the request's `db`, unless they name one). */
const NEEDS_DB = new Set<string>([
  'select',
  'explain',
  'delete',
  'drop-series',
  'drop-measurement',
  'show-measurements',
  'show-series',
  'show-tag-keys',
  'show-tag-values',
  'show-field-keys',
  'show-measurement-cardinality',
  'show-series-cardinality',
  'show-tag-key-cardinality',
  'show-tag-values-cardinality',
  'show-field-key-cardinality',
  'show-retention-policies',
]);

/** SHOW statements that take a FROM: one measurement → the backend holding it; otherwise fan out. */
const SHOW_FROM = new Map<string, MergeSpec['kind']>([
  ['show-series', 'rows'],
  ['show-tag-keys', 'rows'],
  ['show-tag-values', 'rows'],
  ['show-field-keys', 'rows'],
  ['show-measurement-cardinality', 'cardinality'],
  ['show-series-cardinality', 'cardinality'],
  ['show-tag-key-cardinality', 'cardinality'],
  ['show-tag-values-cardinality', 'cardinality'],
  ['show-field-key-cardinality', 'cardinality'],
]);

/** Statements that change every backend's state (when the operator allows them). */
const EVERYWHERE = new Set<string>([
  'create-database',
  'drop-database',
  'create-retention-policy',
  'drop-retention-policy',
  'alter-retention-policy',
  'create-continuous-query',
  'drop-continuous-query',
  'create-subscription',
  'drop-subscription',
  'create-user',
  'drop-user',
  'set-password',
  'grant',
  'revoke',
  'drop-shard',
]);

const FANOUT_CREATE = new Set(['create-database', 'create-retention-policy']);

/** `drop-database` → `DROP DATABASE`. */
export function statementWords(kind: string): string {
  return kind.replace(/-/g, ' ').toUpperCase();
}

const forbiddenSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function forbiddenSet(list: readonly string[]): ReadonlySet<string> {
  let set = forbiddenSets.get(list);
  if (!set) {
    set = new Set(list);
    forbiddenSets.set(list, set);
  }
  return set;
}

/**
 * Judges every statement of a parsed query and decides who answers each. Pure: reads the topology,
 * never talks to a backend. `clientDb` is the request's `db` parameter.
 */
export function planQuery(
  statements: readonly ParsedStatement[],
  topology: PlannerTopology,
  clientDb: string,
  fence: ReadFence = NO_READ_FENCE,
): QueryPlan {
  const refusal = refuse(statements, topology);
  if (refusal) return { kind: 'refused', message: refusal };
  const notServed = refuseCreate(statements, topology);
  if (notServed) return { kind: 'refused', message: notServed, status: 403 };
  const plans = statements.map((stmt) => planStatement(stmt, topology, clientDb, fence));
  const readBehind = fence.active ? describeReadBehind(plans, topology, fence) : undefined;
  const first = plans[0];
  if (
    first?.kind === 'single' &&
    plans.every((p) => p.kind === 'single' && sameList(p.candidates, first.candidates) && p.db === first.db)
  ) {
    const singles = plans as Extract<StatementPlan, { kind: 'single' }>[];
    const text: TextFor = singles.length === 1 ? first.text : (db) => singles.map((p) => p.text(db)).join('; ');
    const stream = first.db === undefined ? { candidates: first.candidates, text } : { candidates: first.candidates, text, db: first.db };
    return { kind: 'plans', statements: plans, stream, ...(readBehind ? { readBehind } : {}) };
  }
  return readBehind ? { kind: 'plans', statements: plans, readBehind } : { kind: 'plans', statements: plans };
}

/** The first choices of the plans that are read-behind, as READ_BEHIND_HEADER's value (undefined: none). */
function describeReadBehind(plans: readonly StatementPlan[], topology: PlannerTopology, fence: ReadFence): string | undefined {
  const chosen = new Set<number>();
  for (const p of plans) {
    if (p.kind === 'single') chosen.add(p.candidates[0]);
    else if (p.kind === 'cover') for (const g of p.groups) chosen.add(g[0]);
    else if (p.kind === 'fanout') for (const i of p.backends) chosen.add(i);
  }
  const parts: string[] = [];
  for (const i of chosen) {
    const b = topology.backends[i];
    const records = fence.behind(b);
    if (records > 0) parts.push(fence.describeBehind?.(b) ?? `${b.name} (${records} records waiting)`);
  }
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** The 400 message when any statement is forbidden (every statement is judged; none is exempt). */
function refuse(statements: readonly ParsedStatement[], topology: PlannerTopology): string | undefined {
  const forbidden = forbiddenSet(topology.node.forbiddenStatements);
  for (let i = 0; i < statements.length; i++) {
    const kind = statements[i].kind;
    const where = `statement ${i + 1} of ${statements.length}`;
    if (forbidden.has(kind)) {
      return `${statementWords(kind)} is forbidden by this proxy (${where}); no statement was executed`;
    }
    if (FANOUT_CREATE.has(kind) && !topology.node.fanoutCreate) {
      return `${statementWords(kind)} is forbidden by this proxy (${where}, fanoutCreate is off); no statement was executed`;
    }
    const sideDoor = sideDoorOf(statements[i]);
    if (sideDoor && forbidden.has(sideDoor.needs)) {
      return `${sideDoor.words} is forbidden by this proxy (${where}, as ${statementWords(sideDoor.needs)} is); no statement was executed`;
    }
    const inexact = kind === 'select' && statements[i].into ? inexactInto(statements[i], topology) : undefined;
    if (inexact) return `SELECT … INTO cannot run exactly through this proxy (${where}): ${inexact}; no statement was executed`;
  }
  return undefined;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The topology as one statement sees it: the router of its database (and that db, on a multi-database proxy). */
type Scoped = PlannerTopology & { readonly db?: string };

function planStatement(stmt: ParsedStatement, topology: PlannerTopology, clientDb: string, fence: ReadFence): StatementPlan {
  const routers = topology.routers;
  if (!routers?.multiDb) return planScoped(stmt, topology, clientDb, fence);
  const dbError = checkDatabases(stmt, servesOf(topology), clientDb);
  if (dbError === undefined && stmt.kind === 'show-databases') {
    return { kind: 'databases', backends: everyBackend(topology), allowed: topology.node.databases ?? '*' };
  }
  const db = dbError === undefined ? statementDb(stmt, clientDb) : undefined;
  const router = db === undefined ? null : routers.forDb(db);
  if (db === undefined || router === null) return planScoped(stmt, topology, clientDb, fence);
  const scoped: Scoped = {
    backends: topology.backends,
    byName: topology.byName,
    node: topology.node,
    router,
    routers,
    config: topology.config,
    db,
  };
  const plan = planScoped(stmt, scoped, clientDb, fence);
  return plan.kind === 'local' || plan.kind === 'unavailable' ? plan : { ...plan, db };
}

/** Whether clients may name a db: the routers' word, else the node's single `db` (any when it is ''). */
function servesOf(topology: PlannerTopology): (db: string) => boolean {
  const routers = topology.routers;
  if (routers) return (db) => routers.serves(db);
  const node = topology.node.db;
  return (db) => node === '' || db === node;
}

/** The client database a statement works in: the first it names, else the request's (undefined: none, e.g. SHOW USERS). */
function statementDb(stmt: ParsedStatement, clientDb: string): string | undefined {
  if (stmt.kind === 'create-database' || stmt.kind === 'drop-database') return stmt.database;
  return namedDatabases(stmt, clientDb)[0];
}

/**
 * CREATE DATABASE of a db a multi-database proxy does not serve: refused before anything runs, as
 * influxd's authorizer refuses a statement the user may not run (403 `error authorizing query: …`).
 * Telegraf sends CREATE DATABASE at start and goes on writing when it fails.
 */
function refuseCreate(statements: readonly ParsedStatement[], topology: PlannerTopology): string | undefined {
  const routers = topology.routers;
  if (!routers?.multiDb) return undefined;
  for (const stmt of statements) {
    if (stmt.kind !== 'create-database' || stmt.database === undefined || routers.serves(stmt.database)) continue;
    return `error authorizing query: not authorized to execute statement '${stmt.text}', database ${JSON.stringify(stmt.database)} is not served by this proxy`;
  }
  return undefined;
}

function planScoped(stmt: ParsedStatement, topology: Scoped, clientDb: string, fence: ReadFence): StatementPlan {
  const dbError = checkDatabases(stmt, servesOf(topology), clientDb);
  if (dbError !== undefined) {
    // influxd answers SHOW MEASUREMENTS on a database it does not have with an empty result.
    if (stmt.kind === 'show-measurements' && dbError.startsWith('database not found')) return local({});
    return local({ error: dbError });
  }
  const text = textFor(stmt);
  switch (stmt.kind) {
    case 'show-databases':
      return local(showDatabases(topology));
    case 'create-database':
    case 'drop-database': {
      const node = topology.node.db;
      if (!servesOf(topology)(stmt.database!)) {
        return local({
          error:
            stmt.kind === 'create-database'
              ? `database ${JSON.stringify(stmt.database)} cannot be created through this proxy, which serves database ${JSON.stringify(node)}`
              : `database not found: ${stmt.database}`,
        });
      }
      return { kind: 'all', backends: everyBackend(topology), text: renameDatabase(stmt) };
    }
    case 'select': {
      if (stmt.into) return planInto(stmt, topology);
      const sets = routeSets(stmt, topology);
      if (sets.length <= 1) return single(sets[0] ?? queryable(topology), topology, text, fence);
      const groups = sets.map((set) => candidates(set, topology, fence));
      if (groups.some((g) => g.length === 0))
        return unavailable(
          sets.find((_s, i) => groups[i].length === 0)!,
          topology,
        );
      // influxd applies SLIMIT/SOFFSET per measurement, and a measurement lives on one backend set:
      // each backend's window is already the right one, nothing to re-apply after the merge.
      return { kind: 'cover', groups, merge: { kind: 'select' }, text };
    }
    case 'explain': {
      const sets = routeSets(stmt, topology);
      return single(sets[0] ?? queryable(topology), topology, text, fence);
    }
    case 'show-measurements':
      return fanout(stmt, topology, 'rows', text, fence);
    case 'show-retention-policies':
      return fanout(stmt, topology, 'retention-policies', text, fence);
    case 'delete':
    case 'drop-series':
    case 'drop-measurement': {
      const sets = stmt.sources.length > 0 ? routeSets(stmt, topology) : [];
      const backends = sets.length > 0 ? dedupe([...new Set(sets.flat())], topology) : everyBackend(topology);
      return { kind: 'all', backends, text };
    }
  }
  const showKind = SHOW_FROM.get(stmt.kind);
  if (showKind) {
    const only = stmt.sources.length === 1 ? stmt.sources[0] : undefined;
    if (only?.kind === 'measurement') {
      return single(topology.router.routeByName(only.name) ?? queryable(topology), topology, text, fence);
    }
    return fanout(stmt, topology, showKind, text, fence);
  }
  if (EVERYWHERE.has(stmt.kind)) return { kind: 'all', backends: everyBackend(topology), text };
  // Server-level statements (SHOW USERS, SHOW STATS, SHOW SHARDS, KILL QUERY …): any one backend.
  return single(queryable(topology), topology, text, fence);
}

/**
 * influxd runs an INTO with fill(null), written or by default, as fill(none): a time bucket without points
 * writes nothing, where the SELECT alone answers 0 for count() there. The proxy runs the SELECT itself, so it
 * says fill(none). Only a statement grouped by time has buckets to fill. The clauses after GROUP BY hold no
 * database name, so their distance from the statement's end survives the database rewrite.
 */
function intoFill(stmt: ParsedStatement, text: string): string {
  const select = stmt.select;
  const groupBy = stmt.clauses.groupBy;
  if (!select?.timeDimension || !groupBy || (select.fill && select.fill.option !== 'null')) return text;
  const at = (offset: number) => text.length - (stmt.end - offset);
  const fill = stmt.clauses.fill;
  if (fill) return text.slice(0, at(fill.start)) + 'fill(none)' + text.slice(at(fill.end));
  return text.slice(0, at(groupBy.end)) + ' fill(none)' + text.slice(at(groupBy.end));
}

/**
 * SELECT … INTO: the source side is planned as a SELECT (one backend per backend set of its sources), the
 * text loses its INTO clause (the rows are written by the proxy, not by the backend that read them).
 */
function planInto(stmt: ParsedStatement, topology: PlannerTopology): StatementPlan {
  const into = stmt.into!;
  const clause = stmt.clauses.into!;
  // The INTO target's db is left as written (it is cut out); every other database reference sits after
  // the INTO clause (FROM follows it), so the text up to the clause's end keeps its offsets.
  const withoutInto: TextFor = (db) => {
    const t = rewriteDatabase(stmt, db, { into: false });
    return intoFill(stmt, t.slice(0, clause.start - stmt.start).trimEnd() + ' ' + t.slice(clause.end - stmt.start).trimStart());
  };
  const sets = routeSets(stmt, topology);
  const groups = (sets.length > 0 ? sets : [queryable(topology)]).map((set) => candidates(set, topology));
  const empty = groups.findIndex((g) => g.length === 0);
  if (empty >= 0) return unavailable(sets[empty] ?? queryable(topology), topology);
  const target: { name?: string; rp?: string } = {};
  if (!into.sourceMeasurement && into.name !== undefined) target.name = into.name;
  if (into.rp !== undefined) target.rp = into.rp;
  return { kind: 'into', groups, text: withoutInto, target, statement: stmt.text };
}

/**
 * Why a SELECT … INTO cannot be reproduced by running its SELECT alone on one replica, if it cannot: influxd
 * drops the tag columns top()/bottom() add and keeps their points' own times only when it writes into a target.
 */
function inexactInto(stmt: ParsedStatement, topology: PlannerTopology): string | undefined {
  // Sources on different backend sets would each be read from a replica of their own set, and a measurement
  // a regex finds on two of them would be written (and counted) twice: influxd's `written` cannot be given.
  const sets = routeSets(stmt, topology);
  if (sets.length > 1) {
    const names = sets.map((set) => `[${set.map((i) => topology.backends[i].name).join(', ')}]`).join(' and ');
    return `its sources live on different backend sets (${names}); run one SELECT … INTO per set`;
  }
  const call = firstCall(stmt.select?.fields ?? [], TARGET_CHANGES);
  return call ? `${call}() writes differently into a target than it answers` : undefined;
}

/** Selectors whose answer influxd changes when it writes it into a target. */
const TARGET_CHANGES = new Set(['top', 'bottom']);

/** The first call of one of `names` in the fields' trees, in the order they are written. */
function firstCall(fields: readonly SelectField[], names: ReadonlySet<string>): string | undefined {
  const stack: Expr[] = [];
  for (let i = fields.length - 1; i >= 0; i--) stack.push(fields[i].expr);
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.type === 'call') {
      if (names.has(e.name)) return e.name;
      for (let i = e.args.length - 1; i >= 0; i--) stack.push(e.args[i]);
    } else if (e.type === 'binary') {
      stack.push(e.rhs, e.lhs);
    } else if (e.type === 'paren') {
      stack.push(e.expr);
    }
  }
  return undefined;
}

function local(outcome: StatementOutcome): StatementPlan {
  return { kind: 'local', outcome };
}

/**
 * The error influxd would give for the databases a statement uses: `database name required` without
 * one, `database not found: x` for one other than the proxy's (when the proxy's is set).
 */
function checkDatabases(stmt: ParsedStatement, serves: (db: string) => boolean, clientDb: string): string | undefined {
  for (const db of namedDatabases(stmt, clientDb)) {
    if (db === '') return 'database name required';
    if (!serves(db)) return `database not found: ${db}`;
  }
  return undefined;
}

/** The databases a statement uses, the request's first when it uses it. */
function namedDatabases(stmt: ParsedStatement, clientDb: string): string[] {
  const named: string[] = [];
  if (stmt.onDatabase !== undefined) named.push(stmt.onDatabase);
  let usesClientDb = NEEDS_DB.has(stmt.kind) && stmt.onDatabase === undefined && !stmt.onAllDatabases;
  if (usesClientDb && stmt.sources.length > 0) {
    usesClientDb = false;
    forEachLeaf(stmt.sources, (source) => {
      if (source.db !== undefined) named.push(source.db);
      else usesClientDb = true;
    });
  } else {
    forEachLeaf(stmt.sources, (source) => {
      if (source.db !== undefined) named.push(source.db);
    });
  }
  if (stmt.into?.db !== undefined) named.push(stmt.into.db);
  if (usesClientDb) named.unshift(clientDb);
  return named;
}

type LeafSource = Exclude<Source, { kind: 'subquery' }>;

function forEachLeaf(sources: readonly Source[], visit: (source: LeafSource) => void): void {
  for (const source of sources) {
    if (source.kind === 'subquery') forEachLeaf(source.statement.sources, visit);
    else visit(source);
  }
}

/** The statement with its explicit database names (`db.rp.m`, `ON db`, `INTO db.rp.m`) set to the backend's. */
function textFor(stmt: ParsedStatement): TextFor {
  return (db) => rewriteDatabase(stmt, db);
}

/** CREATE/DROP DATABASE name → the backend's own database. */
function renameDatabase(stmt: ParsedStatement): TextFor {
  const name = stmt.databaseSpan!;
  return (db) => stmt.text.slice(0, name.start - stmt.start) + quoteIdent(db) + stmt.text.slice(name.end - stmt.start);
}

/**
 * For a fan-out whose answers are cut after the merge: every backend is asked for `limit + offset`
 * rows and no offset. Clauses sit after every database reference, so they are found from the text's end.
 */
function widenWindow(
  stmt: ParsedStatement,
  text: TextFor,
  limitClause: ClauseRange | undefined,
  offsetClause: ClauseRange | undefined,
  keyword: 'LIMIT',
  limit: number | undefined,
  offset: number | undefined,
): TextFor {
  if (!offsetClause || !offset) return text;
  return (db) => {
    const t = text(db);
    const at = (pos: number) => t.length - (stmt.end - pos);
    const edits: { start: number; end: number; text: string }[] = [{ start: at(offsetClause.start), end: at(offsetClause.end), text: '' }];
    if (limitClause && limit && limit > 0) {
      edits.push({ start: at(limitClause.start), end: at(limitClause.end), text: `${keyword} ${limit + offset}` });
    }
    edits.sort((a, b) => b.start - a.start);
    let out = t;
    for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
    return out;
  };
}

function fanout(stmt: ParsedStatement, topology: PlannerTopology, kind: MergeSpec['kind'], text: TextFor, fence: ReadFence): StatementPlan {
  const required = requiredSets(topology);
  if (Object.keys(topology.config.hashKeymaps ?? {}).length > 0) return coverSets(stmt, topology, required, kind, text, fence);
  let backends = dedupe(candidates(queryable(topology), topology), topology);
  if (backends.length === 0) return unavailable(queryable(topology), topology);
  if (fence.active) backends = fenceFanout(backends, required, topology, fence);
  const windowed = kind === 'rows';
  const merge: MergeSpec = windowed ? { kind, limit: stmt.limit, offset: stmt.offset } : { kind };
  return {
    kind: 'fanout',
    backends,
    required,
    merge,
    key: `${backends.join(',')}\u0000${stmt.text}`,
    text: windowed ? widenWindow(stmt, text, stmt.clauses.limit, stmt.clauses.offset, 'LIMIT', stmt.limit, stmt.offset) : text,
  };
}

/**
 * A cluster-wide statement on a cluster with hash groups: one replica of each backend set (each group,
 * each explicit keymap's set) answers, the next of its set when it fails, and the answers are merged.
 * Asking every replica of every group would read each measurement twice or more for nothing.
 */
function coverSets(
  stmt: ParsedStatement,
  topology: PlannerTopology,
  required: readonly number[][],
  kind: MergeSpec['kind'],
  text: TextFor,
  fence: ReadFence,
): StatementPlan {
  const groups = required.map((set) => candidates(set, topology, fence));
  const empty = groups.findIndex((g) => g.length === 0);
  if (empty >= 0) return unavailable(required[empty], topology);
  const windowed = kind === 'rows';
  return {
    kind: 'cover',
    groups,
    merge: windowed ? { kind, limit: stmt.limit, offset: stmt.offset } : { kind },
    text: windowed ? widenWindow(stmt, text, stmt.clauses.limit, stmt.clauses.offset, 'LIMIT', stmt.limit, stmt.offset) : text,
  };
}

/** The keymaps' backend sets, each group of a hash keymap one (queryable members only): a fan-out answer must hear from each. */
function requiredSets(topology: Scoped): number[][] {
  const seen = new Set<string>();
  const out: number[][] = [];
  for (const route of keySets(topology, () => true)) {
    const set = route.filter((i) => !topology.backends[i].config.writeOnly);
    const key = [...set].sort((a, b) => a - b).join(',');
    if (set.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(set);
  }
  return out;
}

/**
 * A fan-out without the read-behind replicas whose every keymap set has a caught-up member asked as
 * well; a behind replica stays when some set would otherwise be answered by none.
 */
function fenceFanout(backends: number[], required: readonly number[][], topology: PlannerTopology, fence: ReadFence): number[] {
  const caughtUp = new Set<string>();
  for (const i of backends) if (fence.behind(topology.backends[i]) === 0) caughtUp.add(dataKey(topology.backends[i]));
  if (caughtUp.size === backends.length) return backends;
  const covered = (set: readonly number[]) => set.some((j) => caughtUp.has(dataKey(topology.backends[j])));
  return backends.filter((i) => {
    const b = topology.backends[i];
    if (fence.behind(b) === 0) return true;
    const key = dataKey(b);
    return required.some((set) => set.some((j) => dataKey(topology.backends[j]) === key) && !covered(set));
  });
}

function single(set: readonly number[], topology: PlannerTopology, text: TextFor, fence: ReadFence): StatementPlan {
  const list = candidates(set, topology, fence);
  if (list.length === 0) return unavailable(set, topology);
  return { kind: 'single', candidates: list, text };
}

function unavailable(set: readonly number[], topology: PlannerTopology): StatementPlan {
  const why = set.map((i) => {
    const b = topology.backends[i];
    return `${b.name} (${b.config.writeOnly ? 'write-only' : 'down'})`;
  });
  return {
    kind: 'unavailable',
    message: why.length > 0 ? `no backend can answer: ${why.join(', ')}` : 'no backend can answer: none is configured',
  };
}

/**
 * Healthy, query-able members of `set`: those in the proxy's zone first, then the rest, each in `set`'s
 * order. Read-behind members are left out while a caught-up one is there; when all are behind, they
 * are ordered least-behind first (zone order among equals).
 */
export function candidates(set: readonly number[], topology: PlannerTopology, fence: ReadFence = NO_READ_FENCE): number[] {
  const zone = topology.node.zone;
  const same: number[] = [];
  const other: number[] = [];
  for (const i of set) {
    const b = topology.backends[i];
    if (b.config.writeOnly || !b.isHealthy) continue;
    if (zone !== '' && b.config.zone === zone) same.push(i);
    else other.push(i);
  }
  const list = same.length === 0 ? other : other.length === 0 ? same : same.concat(other);
  return fence.active && list.length > 0 ? fenceCandidates(list, topology, fence) : list;
}

function fenceCandidates(list: number[], topology: PlannerTopology, fence: ReadFence): number[] {
  const caughtUp = list.filter((i) => fence.behind(topology.backends[i]) === 0);
  if (caughtUp.length === list.length) return list;
  if (caughtUp.length > 0) return caughtUp;
  // Array.prototype.sort is stable: equal backlogs keep the zone order
  return list.slice().sort((a, b) => fence.behind(topology.backends[a]) - fence.behind(topology.backends[b]));
}

function queryable(topology: PlannerTopology): number[] {
  const out: number[] = [];
  topology.backends.forEach((b, i) => {
    if (!b.config.writeOnly) out.push(i);
  });
  return out;
}

function everyBackend(topology: PlannerTopology): number[] {
  return dedupe(
    topology.backends.map((_b, i) => i),
    topology,
  );
}

/** The identity of the data a backend serves: two entries with the same URL and db are one. */
export function dataKey(b: PlannerBackend): string {
  return `${b.config.url.replace(/\/+$/, '')}\u0000${b.config.db}`;
}

function dedupe(list: readonly number[], topology: PlannerTopology): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (const i of list) {
    const key = dataKey(topology.backends[i]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(i);
  }
  return out;
}

function showDatabases(topology: PlannerTopology): StatementOutcome {
  const names = topology.node.db !== '' ? [topology.node.db] : [...new Set(topology.backends.map((b) => b.config.db))].sort();
  return { series: [{ name: 'databases', columns: ['name'], values: names.map((n) => [n]) }] };
}

/**
 * The distinct backend sets the statement's measurements route to (keymap exact match, else
 * `_default_`). A regex source matches the keymaps' names it matches plus `_default_`, since any
 * measurement no keymap names lives there.
 */
function routeSets(stmt: ParsedStatement, topology: Scoped): (readonly number[])[] {
  const sets = new Map<string, readonly number[]>();
  const add = (route: readonly number[] | null) => {
    if (!route || route.length === 0) return;
    const key = [...route].sort((a, b) => a - b).join(',');
    if (!sets.has(key)) sets.set(key, route);
  };
  forEachLeaf(stmt.sources, (source) => {
    if (source.kind === 'measurement') {
      add(topology.router.routeByName(source.name));
      return;
    }
    const re = goRegex(source.pattern);
    for (const route of keySets(topology, (name) => re === null || re.test(name))) add(route);
  });
  return [...sets.values()];
}

/**
 * The backend sets the keymap keys send measurements to: a named key's (when `match` takes its name)
 * and the default's, a hash keymap's each of its groups (any measurement may land in any), from the
 * routing reads follow (the one before the change while a rebalance runs). On a multi-database proxy,
 * the keys of the statement's db (`db.m`, then `db._default_` before `_default_`) and the plain ones.
 */
function keySets(topology: Scoped, match: (name: string) => boolean): (readonly number[])[] {
  const out: (readonly number[])[] = [];
  for (const name of keyNames(topology, topology.db ?? '')) {
    if (!match(name)) continue;
    const route = topology.router.routeByName(name);
    if (route) out.push(route);
  }
  out.push(...defaultSets(topology, topology.db ?? ''));
  return out;
}

/**
 * The measurement names the keymap keys name for `db`, defaults left out: a multi-database proxy's
 * `db.m` as `m` (another db's `x.m` stays `x.m`: the routing table reads it as that name too).
 */
export function keyNames(topology: PlannerTopology, db: string): Set<string> {
  const multiDb = topology.routers?.multiDb === true;
  const own = `${db}.`;
  const names = new Set<string>();
  for (const key of new Set([...Object.keys(topology.config.keymaps), ...Object.keys(topology.config.hashKeymaps ?? {})])) {
    if (key === DEFAULT_KEYMAP || (multiDb && key.endsWith(`.${DEFAULT_KEYMAP}`))) continue;
    names.add(multiDb && key.startsWith(own) ? key.slice(own.length) : key);
  }
  return names;
}

/**
 * The backend sets (indices) a read of any measurement of `db` asks for the measurements no key names
 * (see DatabaseRouters.readDefaultSets); a hand-built topology without routers: its explicit `_default_`.
 */
export function defaultSets(topology: PlannerTopology, db: string): number[][] {
  if (topology.routers) return topology.routers.readDefaultSets(db).map((names) => indicesOf(topology, names));
  const explicit = topology.config.keymaps[DEFAULT_KEYMAP];
  return explicit ? [indicesOf(topology, explicit)] : [];
}

/** Backend names → indices (unknown names left out). */
export function indicesOf(topology: PlannerTopology, names: readonly string[]): number[] {
  const out: number[] = [];
  for (const name of names) {
    const i = topology.byName?.get(name) ?? topology.backends.findIndex((b) => b.name === name);
    if (i !== undefined && i >= 0) out.push(i);
  }
  return out;
}

const regexCache = new Map<string, RegExp | null>();

/** A Go RE2 pattern as a JS RegExp; null when it cannot be translated (then it is taken to match anything). */
export function goRegex(pattern: string): RegExp | null {
  let re = regexCache.get(pattern);
  if (re !== undefined) return re;
  let flags = '';
  let body = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    body = body.slice(lead[0].length);
    for (const f of lead[1]) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  body = body.replace(/\(\?P</g, '(?<').replace(/\\z/g, '$');
  try {
    re = new RegExp(body, flags);
  } catch {
    re = null;
  }
  if (regexCache.size > 1000) regexCache.clear();
  regexCache.set(pattern, re);
  return re;
}
