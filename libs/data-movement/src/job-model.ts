import type { ClusterConfig } from '@app/config';

/**
 * The shapes of a data-movement job, shared by the engine that plans and copies (this lib) and the
 * coordination that stores, schedules and reports jobs (the sentinel, the proxy, the admin CLI).
 * Everything here is plain JSON: a job record is written to the config store (Redis or etcd) or a
 * state file as is, and read back by another process, so a job outlives the process running it.
 */

/** recover: refill one backend from its replicas; resync: make replicas agree; rebalance: follow a keymap change; cleanup: drop what no keymap maps to a backend. */
export type JobKind = 'recover' | 'resync' | 'rebalance' | 'cleanup';

/** What an operator asks for (CLI or admin endpoint). */
export interface JobRequest {
  readonly kind: JobKind;
  /** recover and cleanup: the backend the job is about. */
  readonly backend?: string;
  /** resync: only these measurements (absent or empty: every measurement). */
  readonly measurements?: readonly string[];
  /** cleanup: the operator's explicit confirmation (`--yes`); without it cleanup is refused. */
  readonly confirm?: boolean;
  /** Copy throttle in points per second (absent: the runner's default; 0: unthrottled). */
  readonly pointsPerSecond?: number;
  /**
   * rebalance: the keymaps in force before the change, recorded when the job is created. While the job
   * runs, proxies write a moving measurement to its old and new owners and read it from the old ones.
   */
  readonly keymapsBefore?: Readonly<Record<string, readonly string[]>>;
  /** rebalance: the hash keymaps (`{"hash": [groups]}` entries, key → group names) in force before the change. */
  readonly hashKeymapsBefore?: Readonly<Record<string, readonly string[]>>;
  /** rebalance: the groups (name → backend names) in force before the change; needed when hashKeymapsBefore names groups. */
  readonly groupsBefore?: Readonly<Record<string, readonly string[]>>;
}

/** Time bounds are epoch milliseconds, [start, end). */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** Create on `target` the databases and retention policies (duration, shard duration, replication, default) that `source` has. */
export interface SchemaStep {
  readonly op: 'schema';
  readonly sources: readonly string[];
  readonly target: string;
  /** Source db → target db (each backend writes into its own `db`). */
  readonly dbs: Readonly<Record<string, string>>;
  /**
   * Only create what is missing (the db, retention policies it lacks, never made default), change
   * nothing the target has: rebalance's new owners keep their own settings. Absent: recover's full copy.
   */
  readonly createOnly?: boolean;
  /**
   * Several databases: backend name → its db for this step's client db (sources and target); `dbs` maps
   * between the same names. Absent: each backend's own `db`.
   */
  readonly dbOf?: Readonly<Record<string, string>>;
  /** Several databases: the client db this step is for (absent: a single-database fleet). */
  readonly clientDb?: string;
}

/**
 * Copy one measurement of one (db, rp) from the first healthy of `sources` to every one of `targets`,
 * window by window over `span`, each window read with a chunked `SELECT * … GROUP BY *`.
 */
export interface CopyStep {
  readonly op: 'copy';
  readonly measurement: string;
  readonly rp: string;
  /** Backend name → the db the measurement lives in on that backend. */
  readonly dbOf: Readonly<Record<string, string>>;
  readonly sources: readonly string[];
  readonly targets: readonly string[];
  readonly span: TimeWindow;
  readonly windowMs: number;
  /** Several databases: the client db the measurement is in (absent: a single-database fleet). */
  readonly clientDb?: string;
}

/**
 * resync: window by window over `span`, compare `count(*)` per field on every replica; where they
 * differ, copy the window from each replica to every other (the union), then compare again.
 */
export interface CompareStep {
  readonly op: 'compare';
  readonly measurement: string;
  readonly rp: string;
  readonly dbOf: Readonly<Record<string, string>>;
  readonly replicas: readonly string[];
  readonly span: TimeWindow;
  readonly windowMs: number;
  /** Several databases: the client db the measurement is in (absent: a single-database fleet). */
  readonly clientDb?: string;
}

/** cleanup: `DROP MEASUREMENT` on `backend` (in its db), for a measurement no keymap maps to it any more. */
export interface DropStep {
  readonly op: 'drop';
  readonly backend: string;
  readonly db: string;
  readonly measurement: string;
}

export type JobStep = SchemaStep | CopyStep | CompareStep | DropStep;

/** What the planner found and will do; `--dry-run` prints it. */
export interface JobPlan {
  readonly steps: readonly JobStep[];
  /** Points the copy steps will read (from counts on the sources; compare steps count only what they may copy). */
  readonly estimatedPoints: number;
  /** Line-protocol bytes those points come to, estimated from a sample. */
  readonly estimatedBytes: number;
  /** Epoch ms the plan was made. */
  readonly plannedAt: number;
}

/** Where a job is: steps before `step` are finished; within it, windows before `windowStart` are. */
export interface JobCursor {
  readonly step: number;
  /** Start (epoch ms) of the first window of `step` not yet finished; absent: the step's first. */
  readonly windowStart?: number;
}

export interface JobProgress {
  readonly cursor: JobCursor;
  readonly windowsDone: number;
  readonly windowsTotal: number;
  readonly pointsCopied: number;
  readonly bytesCopied: number;
  /** Points per second over the last windows. */
  readonly rate: number;
  /** Seconds left at that rate (null: unknown). */
  readonly etaSeconds: number | null;
  readonly updatedAt: number;
  /** resync: windows whose counts still differed after the union copy (each one is logged). */
  readonly windowsStillDiffering?: number;
}

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

/** A job as stored: what was asked, its plan once made, and how far it got. */
export interface JobRecord {
  readonly id: string;
  readonly request: JobRequest;
  readonly state: JobState;
  readonly createdAt: number;
  /** The sentinel or proxy running it now (or last). */
  readonly runner?: string;
  readonly plan?: JobPlan;
  readonly progress?: JobProgress;
  /** Why it failed or was cancelled. */
  readonly error?: string;
  readonly finishedAt?: number;
}

/** The backends a job touches: no two unfinished jobs may share one. */
export function backendsOfJob(request: JobRequest, allBackends: readonly string[]): string[] {
  switch (request.kind) {
    case 'recover':
    case 'cleanup':
      return request.backend ? [request.backend] : [];
    default:
      return [...allBackends];
  }
}

/** What a running job reports after each finished window (the runner stores it; a rejection stops the job). */
export type ProgressSink = (progress: JobProgress) => Promise<void>;

export interface RunOptions {
  /** Aborted when the job is cancelled or its runner loses the right to run it (a deposed leader). */
  readonly signal: AbortSignal;
  /** Points per second over the whole job (0: unthrottled). */
  readonly pointsPerSecond: number;
  readonly onProgress: ProgressSink;
}

/**
 * Plans and runs jobs against the backends of a config. The coordination (sentinel leader, or the
 * proxy itself with a file config) holds one and drives it; the engine keeps no state between calls
 * other than connections, so any process can resume a job from its stored cursor.
 */
export abstract class JobEngine {
  /** The plan for `request` under `config`, discovered from the backends themselves (throws a JobRefusedError when it cannot be run). */
  abstract plan(request: JobRequest, config: ClusterConfig): Promise<JobPlan>;
  /** Runs `job.plan` from `job.progress.cursor` (or the start) to the end, under `config`. Resolves when done; rejects on failure or abort. */
  abstract run(job: JobRecord, config: ClusterConfig, options: RunOptions): Promise<void>;
  /** Closes connections. */
  abstract close(): Promise<void>;
}

/** A job that cannot be planned or started as asked (unknown backend, cleanup without confirmation, a busy backend…): the operator's mistake, answered 400/409. */
export class JobRefusedError extends Error {
  override readonly name = 'JobRefusedError';
  constructor(
    message: string,
    /** 409 when another job holds a backend it needs, else 400. */
    readonly status: 400 | 409 = 400,
  ) {
    super(message);
  }
}
