import type { JobRecord } from '@app/data-movement/job-model';
import type { Etcd3 } from 'etcd3';
import { byCreation, casLoop, checkNoConflict, JobStore, parseJobRecord, prunable } from './job-store';

/** `<prefix>runtime/jobs/<id>`: each job record as JSON (under runtime/, which config.py never touches). */
export const ETCD_JOBS_DIR = 'runtime/jobs/';
/** Bumped by every create, in the same transaction: two creates that read the same jobs cannot both write. */
export const ETCD_JOBS_VERSION_KEY = 'runtime/jobs-version';

/**
 * Jobs in etcd beside the config, each write one transaction: a create compares the version key (then
 * puts the job, bumps the version and deletes the pruned history), an update compares the record's
 * value. Readers poll.
 */
export class EtcdJobStore extends JobStore {
  readonly scope = 'store' as const;
  private readonly dir: string;
  private readonly versionKey: string;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
  ) {
    super();
    this.dir = prefix + ETCD_JOBS_DIR;
    this.versionKey = prefix + ETCD_JOBS_VERSION_KEY;
  }

  async list(): Promise<JobRecord[]> {
    return this.records();
  }

  async get(id: string): Promise<JobRecord | null> {
    return parseJobRecord(await this.client.get(this.dir + id).string());
  }

  async create(record: JobRecord, allBackends: readonly string[]): Promise<JobRecord> {
    return casLoop<JobRecord>(`creating job ${record.id}`, async () => {
      // the version first: a create after this read makes the transaction below fail
      const version = await this.client.get(this.versionKey).string();
      const records = await this.records();
      checkNoConflict(records, record, allBackends);
      const drop = prunable([...records, record]);
      const txn =
        version === null ? this.client.if(this.versionKey, 'Create', '==', 0) : this.client.if(this.versionKey, 'Value', '==', version);
      const result = await txn
        .then(
          this.client.put(this.versionKey).value(String(Number(version ?? 0) + 1)),
          this.client.put(this.dir + record.id).value(JSON.stringify(record)),
          ...drop.map((id) => this.client.delete().key(this.dir + id)),
        )
        .commit();
      return result.succeeded ? { done: true, value: record } : { done: false };
    });
  }

  async update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | null> {
    return casLoop<JobRecord | null>(`updating job ${id}`, async () => {
      const text = await this.client.get(this.dir + id).string();
      const current = parseJobRecord(text);
      if (!current || text === null) return { done: true, value: null };
      const next = change(current);
      if (!next) return { done: true, value: current };
      const stored = { ...next, id };
      const result = await this.client
        .if(this.dir + id, 'Value', '==', text)
        .then(this.client.put(this.dir + id).value(JSON.stringify(stored)))
        .commit();
      return result.succeeded ? { done: true, value: stored } : { done: false };
    });
  }

  private async records(): Promise<JobRecord[]> {
    const all = await this.client.getAll().prefix(this.dir).strings();
    return Object.values(all)
      .map(parseJobRecord)
      .filter((r): r is JobRecord => r !== null)
      .sort(byCreation);
  }
}
