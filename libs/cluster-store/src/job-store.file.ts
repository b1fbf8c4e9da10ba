import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JobRecord } from '@app/data-movement/job-model';
import { MemoryJobStore, parseJobRecord } from './job-store';

/** A write to the state file from a process that does not own it. */
export class JobStoreReadOnlyError extends Error {
  override readonly name = 'JobStoreReadOnlyError';
  constructor(path: string) {
    super(`jobs are run by worker 0, which owns ${path}: this worker only reads it; retry (connections go to the workers in turn)`);
  }
}

/** What the state file holds. */
interface StateFile {
  version: 1;
  jobs: JobRecord[];
}

/**
 * The jobs of a proxy on a config file (no store to share them through): a JSON state file, rewritten
 * whole after every change (temp file, fsync, rename, fsync of the directory), so after a crash it
 * holds either the old or the new content, never half of one. Read once at start; only the process
 * that runs jobs (the primary, or worker 0) opens it.
 */
export class FileJobStore extends MemoryJobStore {
  override readonly scope = 'process' as const;

  /**
   * `readOnly`: for the processes that do not run jobs (workers other than worker 0): every read
   * re-reads the file the running process writes, and every write is refused.
   */
  constructor(
    readonly path: string,
    private readonly readOnly = false,
  ) {
    super();
    this.load();
  }

  override async list(): Promise<JobRecord[]> {
    if (this.readOnly) this.load();
    return super.list();
  }

  override async get(id: string): Promise<JobRecord | null> {
    if (this.readOnly) this.load();
    return super.get(id);
  }

  override async create(record: JobRecord, allBackends: readonly string[]): Promise<JobRecord> {
    if (this.readOnly) throw new JobStoreReadOnlyError(this.path);
    return super.create(record, allBackends);
  }

  override async update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | null> {
    if (this.readOnly) throw new JobStoreReadOnlyError(this.path);
    return super.update(id, change);
  }

  private load(): void {
    this.records.clear();
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`cannot read the job state file ${this.path}: ${(err as Error).message}`);
    }
    let parsed: Partial<StateFile>;
    try {
      parsed = JSON.parse(text) as Partial<StateFile>;
    } catch (err) {
      throw new Error(`the job state file ${this.path} is not valid JSON (${(err as Error).message}); move it away to start afresh`);
    }
    for (const raw of parsed.jobs ?? []) {
      const record = parseJobRecord(JSON.stringify(raw));
      if (record) this.records.set(record.id, record);
    }
  }

  protected override async persist(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const body: StateFile = { version: 1, jobs: [...this.records.values()] };
    const temp = `${this.path}.${process.pid}.tmp`;
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(body, null, 1)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temp, this.path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    // the rename itself is durable only once the directory is
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } catch {
      /* some file systems cannot fsync a directory */
    } finally {
      await dir.close();
    }
  }
}
