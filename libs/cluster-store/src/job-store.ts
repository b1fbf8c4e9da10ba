import { randomBytes } from 'node:crypto';
import { backendsOfJob, type JobRecord, JobRefusedError, type JobRequest, type JobState } from '@app/data-movement/job-model';

/**
 * Where data-movement jobs live, so that a job outlives the process running it: Redis (a hash beside
 * the config), etcd (keys under `<prefix>runtime/jobs/`), or a JSON state file for a proxy on a config
 * file. Every write is a compare-and-set: a sentinel leader, a proxy answering the admin endpoint and
 * the CLI may write the same records at once, and none of them may undo another's write.
 */
export abstract class JobStore {
  /** `store` when shared through Redis or etcd; `process` for a state file or memory (one process). */
  abstract readonly scope: 'store' | 'process';
  /** Every job, oldest first (finished ones up to the history cap). */
  abstract list(): Promise<JobRecord[]>;
  abstract get(id: string): Promise<JobRecord | null>;
  /**
   * Stores a new job. Refused (JobRefusedError 409) when an unfinished job already touches one of the
   * backends it touches (backendsOfJob over `allBackends`); the check and the write are one atomic step.
   */
  abstract create(record: JobRecord, allBackends: readonly string[]): Promise<JobRecord>;
  /**
   * Compare-and-set: `change` gets the record as stored and returns the new one, or null to leave it
   * alone. Retried (a bounded number of times) when another writer got in between. Resolves to the
   * record as stored afterwards (null when there is no such job).
   */
  abstract update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | null>;
  /** Marks an unfinished job cancelled (its runner sees it at its next progress and stops); a finished one stays as it is. */
  async cancel(id: string, why = 'cancelled by the operator'): Promise<JobRecord | null> {
    return this.update(id, (r) => (isFinished(r.state) ? null : { ...r, state: 'cancelled', error: why, finishedAt: Date.now() }));
  }
  async close(): Promise<void> {}
}

/** Finished jobs kept for `jobs` to show (the oldest finished ones beyond it are deleted on create). */
export const JOB_HISTORY = 50;
/** How often a compare-and-set is retried when another writer got in between. */
const CAS_ATTEMPTS = 20;

export function isFinished(state: JobState): boolean {
  return state === 'done' || state === 'failed' || state === 'cancelled';
}

/** A new job id: sortable by creation time, unique across processes (`recover-mf3k2x1a-3f9c`). */
export function newJobId(kind: string, now = Date.now()): string {
  return `${kind}-${now.toString(36)}-${randomBytes(2).toString('hex')}`;
}

/** A fresh pending record for `request`. */
export function newJobRecord(request: JobRequest, now = Date.now()): JobRecord {
  return { id: newJobId(request.kind, now), request, state: 'pending', createdAt: now };
}

/** Creation order (ties broken by id). */
export function byCreation(a: JobRecord, b: JobRecord): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Throws JobRefusedError 409 when an unfinished job among `existing` shares a backend with `record`. */
export function checkNoConflict(existing: readonly JobRecord[], record: JobRecord, allBackends: readonly string[]): void {
  const wanted = new Set(backendsOfJob(record.request, allBackends));
  for (const other of existing) {
    if (isFinished(other.state) || other.id === record.id) continue;
    const shared = backendsOfJob(other.request, allBackends).filter((b) => wanted.has(b));
    if (shared.length > 0) {
      throw new JobRefusedError(
        `job ${other.id} (${other.request.kind}, ${other.state}) still holds backend${shared.length > 1 ? 's' : ''} ${shared.join(', ')}; wait for it or cancel it`,
        409,
      );
    }
  }
}

/** The ids of finished jobs beyond the history cap, once `record` is added (oldest first). */
export function prunable(existing: readonly JobRecord[], cap = JOB_HISTORY): string[] {
  const finished = existing.filter((r) => isFinished(r.state)).sort(byCreation);
  return finished.slice(0, Math.max(0, finished.length - cap)).map((r) => r.id);
}

/** A stored record's text → a record, or null when it is not one (never throws: one bad record must not hide the rest). */
export function parseJobRecord(text: string | null | undefined): JobRecord | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as JobRecord;
    if (!value || typeof value !== 'object' || typeof value.id !== 'string' || typeof value.state !== 'string' || !value.request)
      return null;
    return value;
  } catch {
    return null;
  }
}

/**
 * Retries `attempt` while it reports that another writer got in between (false), a bounded number of
 * times with a short random pause, so two writers racing do not race again in lockstep.
 */
export async function casLoop<T>(what: string, attempt: () => Promise<{ done: true; value: T } | { done: false }>): Promise<T> {
  for (let i = 0; i < CAS_ATTEMPTS; i++) {
    const result = await attempt();
    if (result.done) return result.value;
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 20)));
  }
  throw new Error(`${what}: the job store kept changing under ${CAS_ATTEMPTS} attempts`);
}

/**
 * Jobs in this process only: what a sentinel on a config file uses (it leads alone) and the base of
 * the state file. Operations run one after another, so each is atomic by construction.
 */
export class MemoryJobStore extends JobStore {
  readonly scope: 'store' | 'process' = 'process';
  protected readonly records = new Map<string, JobRecord>();
  private queue: Promise<unknown> = Promise.resolve();

  async list(): Promise<JobRecord[]> {
    return this.serial(async () => [...this.records.values()].sort(byCreation));
  }

  async get(id: string): Promise<JobRecord | null> {
    return this.serial(async () => this.records.get(id) ?? null);
  }

  async create(record: JobRecord, allBackends: readonly string[]): Promise<JobRecord> {
    return this.serial(async () => {
      const existing = [...this.records.values()];
      checkNoConflict(existing, record, allBackends);
      if (this.records.has(record.id)) throw new JobRefusedError(`job ${record.id} exists already`, 409);
      for (const id of prunable([...existing, record])) this.records.delete(id);
      this.records.set(record.id, record);
      await this.persist();
      return record;
    });
  }

  async update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | null> {
    return this.serial(async () => {
      const current = this.records.get(id);
      if (!current) return null;
      const next = change(current);
      if (!next) return current;
      this.records.set(id, { ...next, id });
      await this.persist();
      return this.records.get(id)!;
    });
  }

  /** Writes the records where they must survive (nothing in memory). */
  protected async persist(): Promise<void> {}

  /** Runs `op` after every earlier one. */
  protected serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
