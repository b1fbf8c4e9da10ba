import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobRecord, JobState } from './job-model';

const STATES: readonly JobState[] = ['pending', 'running', 'done', 'failed', 'cancelled'];

/**
 * Data-movement metrics, registered in the app's registry (the proxy's /metrics, the sentinel's):
 * what this process copied (counters, from the progress its runner stored) and the jobs as last read
 * from the store (gauges).
 */
export class JobMetrics {
  private readonly pointsCopied: Counter<'kind'>;
  private readonly windowsDone: Counter<'kind'>;
  private readonly jobs: Gauge<'state'>;
  private readonly progress: Gauge<'id' | 'kind'>;
  private readonly rate: Gauge<'id' | 'kind'>;
  /** Per job id: the points and windows already counted (progress is cumulative). */
  private readonly counted = new Map<string, { points: number; windows: number }>();

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.pointsCopied = new Counter({
      name: `${prefix}job_points_copied_total`,
      help: 'Points copied by the data-movement jobs this process ran',
      labelNames: ['kind'],
      registers,
    });
    this.windowsDone = new Counter({
      name: `${prefix}job_windows_done_total`,
      help: 'Time windows finished by the data-movement jobs this process ran',
      labelNames: ['kind'],
      registers,
    });
    // every worker of a proxy reads the same store: the group shows one reading, not their sum
    const aggregator = 'max' as const;
    this.jobs = new Gauge({
      name: `${prefix}jobs`,
      help: 'Data-movement jobs in the store, by state',
      labelNames: ['state'],
      registers,
      aggregator,
    });
    this.progress = new Gauge({
      name: `${prefix}job_progress_ratio`,
      help: 'Windows done of the windows planned, per unfinished data-movement job',
      labelNames: ['id', 'kind'],
      registers,
      aggregator,
    });
    this.rate = new Gauge({
      name: `${prefix}job_points_per_second`,
      help: 'Copy rate of each unfinished data-movement job, as its runner last stored it',
      labelNames: ['id', 'kind'],
      registers,
      aggregator,
    });
    for (const state of STATES) this.jobs.set({ state }, 0);
  }

  /** A record this process's runner just stored: counts what it copied since the last one. */
  observe(job: JobRecord): void {
    const p = job.progress;
    if (!p) return;
    const before = this.counted.get(job.id);
    // a job taken over from another runner: what it had copied is not ours to count
    if (!before) {
      this.counted.set(job.id, { points: p.pointsCopied, windows: p.windowsDone });
      return;
    }
    const kind = job.request.kind;
    if (p.pointsCopied > before.points) this.pointsCopied.inc({ kind }, p.pointsCopied - before.points);
    if (p.windowsDone > before.windows) this.windowsDone.inc({ kind }, p.windowsDone - before.windows);
    this.counted.set(job.id, { points: Math.max(before.points, p.pointsCopied), windows: Math.max(before.windows, p.windowsDone) });
  }

  /** The jobs as just read from the store. */
  setJobs(jobs: readonly JobRecord[]): void {
    for (const state of STATES) this.jobs.set({ state }, jobs.filter((j) => j.state === state).length);
    this.progress.reset();
    this.rate.reset();
    for (const j of jobs) {
      if (j.state !== 'running' && j.state !== 'pending') continue;
      const labels = { id: j.id, kind: j.request.kind };
      const total = j.progress?.windowsTotal ?? 0;
      this.progress.set(labels, total > 0 ? (j.progress?.windowsDone ?? 0) / total : 0);
      this.rate.set(labels, j.progress?.rate ?? 0);
    }
  }
}
