import type { JobRecord } from '@app/data-movement/job-model';
import type Redis from 'ioredis';
import { byCreation, casLoop, checkNoConflict, JobStore, parseJobRecord, prunable } from './job-store';

/** Hash: job id → the job record as JSON. */
export const REDIS_JOBS_KEY = 'influxdb-proxy:jobs';
/** Bumped by every create: two creates that read the same jobs cannot both write (see CREATE). */
export const REDIS_JOBS_VERSION_KEY = 'influxdb-proxy:jobs:version';

/** Writes a new job only if no other create happened since the caller read the jobs; drops the pruned history with it. */
const CREATE = `
local seen = redis.call('GET', KEYS[2]) or ''
if seen ~= ARGV[1] then return 0 end
redis.call('INCR', KEYS[2])
for i = 4, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1`;

/** Replaces a record only if it is still the text the caller read. */
const UPDATE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

/**
 * Jobs in Redis beside the config (same connection and database index): the hash `influxdb-proxy:jobs`.
 * Creates are serialised by a version counter checked in a script (the conflict check in JS, the
 * write in Lua, atomic together); updates compare the record's text. Readers poll.
 */
export class RedisJobStore extends JobStore {
  readonly scope = 'store' as const;

  constructor(private readonly client: Redis) {
    super();
  }

  async list(): Promise<JobRecord[]> {
    return (await this.read()).records;
  }

  async get(id: string): Promise<JobRecord | null> {
    return parseJobRecord(await this.client.hget(REDIS_JOBS_KEY, id));
  }

  async create(record: JobRecord, allBackends: readonly string[]): Promise<JobRecord> {
    return casLoop<JobRecord>(`creating job ${record.id}`, async () => {
      const { version, records } = await this.read();
      checkNoConflict(records, record, allBackends);
      const drop = prunable([...records, record]);
      const written = await this.client.eval(
        CREATE,
        2,
        REDIS_JOBS_KEY,
        REDIS_JOBS_VERSION_KEY,
        version,
        record.id,
        JSON.stringify(record),
        ...drop,
      );
      return Number(written) === 1 ? { done: true, value: record } : { done: false };
    });
  }

  async update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | null> {
    return casLoop<JobRecord | null>(`updating job ${id}`, async () => {
      const text = await this.client.hget(REDIS_JOBS_KEY, id);
      const current = parseJobRecord(text);
      if (!current || text === null) return { done: true, value: null };
      const next = change(current);
      if (!next) return { done: true, value: current };
      const stored = { ...next, id };
      const written = await this.client.eval(UPDATE, 1, REDIS_JOBS_KEY, id, text, JSON.stringify(stored));
      return Number(written) === 1 ? { done: true, value: stored } : { done: false };
    });
  }

  /** The version counter and every record, read together. */
  private async read(): Promise<{ version: string; records: JobRecord[] }> {
    const replies = await this.client.multi().get(REDIS_JOBS_VERSION_KEY).hgetall(REDIS_JOBS_KEY).exec();
    if (!replies) throw new Error('MULTI/EXEC was aborted');
    for (const [err] of replies) if (err) throw err;
    const version = (replies[0][1] as string | null) ?? '';
    const hash = (replies[1][1] ?? {}) as Record<string, string>;
    const records = Object.values(hash)
      .map(parseJobRecord)
      .filter((r): r is JobRecord => r !== null)
      .sort(byCreation);
    return { version, records };
  }
}
