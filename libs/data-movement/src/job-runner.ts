import type { JobStore } from '@app/cluster-store';
import type { ClusterConfig } from '@app/config';
import { type JobEngine, type JobProgress, type JobRecord, JobRefusedError } from './job-model';

export interface JobRunnerOptions {
  /** Who runs (the sentinel's or proxy's name): stored as the job's `runner`. */
  readonly name: string;
  readonly store: JobStore;
  readonly engine: JobEngine;
  /** The config in force (undefined: not loaded yet, nothing runs). */
  readonly config: () => ClusterConfig | undefined;
  /** Whether this process may run jobs now (the sentinel leads; a proxy on a config file always). */
  readonly canRun: () => boolean;
  /** Points per second for a job whose request does not say (0: unthrottled). */
  readonly defaultPointsPerSecond: number;
  /** How often the store is looked at for work, and a running job for a cancel (ms). */
  readonly pollMs?: number;
  /**
   * A pending job is planned no sooner than this after it was created (ms): every proxy reads the job
   * store once a second, and must know of a job (read-behind for a recover, both owners for a
   * rebalance) before any data moves.
   */
  readonly settleMs?: number;
  readonly log?: (level: 'log' | 'warn' | 'error', message: string) => void;
  /** Told of every progress and state this runner stored (metrics). */
  readonly observe?: (job: JobRecord) => void;
}

/** Why a run stopped without finishing the job: it stays as stored, for whoever may run it next. */
class Stopped extends Error {
  override readonly name = 'Stopped';
}

/**
 * Runs data-movement jobs from the job store, one at a time, oldest first, while allowed. A pending
 * job is planned (engine.plan) and stored as running with its plan; a running one is run by the engine
 * from its stored cursor, so a job left running by a dead or deposed runner is resumed where it got.
 * Each progress is stored only while this process may still run jobs and the record still says
 * running (a cancel wins: the job is aborted at once). The end is stored as done, or failed with the
 * error's text. Losing the right to run (canRun() false: a deposed sentinel) aborts the job at once and
 * leaves it running in the store for the next leader.
 *
 * One job at a time overall, not one per backend: jobs on disjoint backends wait for each other. It
 * keeps the copy load on the fleet to one job's throttle, and jobs are rare.
 */
export class JobRunner {
  private readonly pollMs: number;
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  private current?: { id: string; abort: AbortController };
  private stopped = true;

  constructor(private readonly options: JobRunnerOptions) {
    this.pollMs = options.pollMs ?? 1_000;
  }

  /** The job being run now, if any. */
  get running(): string | undefined {
    return this.current?.id;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Looks at the store now (a new job, a new leadership). */
  poke(): void {
    if (!this.stopped && !this.tick) this.schedule(0);
  }

  /** Aborts the running job at once (it stays running in the store); the next tick resumes it when allowed again. */
  abort(why: string): void {
    this.current?.abort.abort(new Stopped(why));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort('the runner stops');
    await this.tick;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      if (this.tick) return;
      this.tick = this.runOnce()
        .catch((err: Error) => this.log('warn', `job round failed: ${err.message}`))
        .finally(() => {
          this.tick = undefined;
          this.schedule(this.pollMs);
        });
    }, ms);
    this.timer.unref?.();
  }

  /** One look at the store: plans and runs the oldest unfinished job, if allowed. Exposed for tests. */
  async runOnce(): Promise<void> {
    if (!this.options.canRun()) return;
    const config = this.options.config();
    if (!config) return;
    const jobs = await this.options.store.list();
    const next = jobs.find((j) => j.state === 'pending' || j.state === 'running');
    if (!next) return;
    if (next.state === 'pending' && Date.now() - next.createdAt < (this.options.settleMs ?? 0)) return;
    let job: JobRecord | null = next;
    if (job.state === 'pending' || !job.plan) job = await this.planJob(job, config);
    if (!job || !this.options.canRun()) return;
    await this.runJob(job, config);
  }

  private async planJob(job: JobRecord, config: ClusterConfig): Promise<JobRecord | null> {
    this.log('log', `planning job ${job.id} (${describeRequest(job)})`);
    let plan;
    try {
      plan = await this.options.engine.plan(job.request, config);
    } catch (err) {
      const refused = err instanceof JobRefusedError;
      const message = (err as Error).message;
      this.log(refused ? 'warn' : 'error', `job ${job.id} cannot be planned: ${message}`);
      await this.finish(job.id, 'failed', `planning failed: ${message}`);
      return null;
    }
    if (!this.options.canRun()) return null;
    const windowsTotal = 0;
    const planned = await this.options.store.update(job.id, (r) =>
      r.state === 'pending' || (r.state === 'running' && !r.plan)
        ? {
            ...r,
            state: 'running',
            runner: this.options.name,
            plan,
            progress: r.progress ?? {
              cursor: { step: 0 },
              windowsDone: 0,
              windowsTotal,
              pointsCopied: 0,
              bytesCopied: 0,
              rate: 0,
              etaSeconds: null,
              updatedAt: Date.now(),
            },
          }
        : null,
    );
    if (!planned || planned.state !== 'running' || !planned.plan) return null; // cancelled meanwhile
    this.log('log', `job ${job.id}: ${plan.steps.length} steps, about ${plan.estimatedPoints} points (${plan.estimatedBytes} bytes)`);
    this.options.observe?.(planned);
    return planned;
  }

  private async runJob(job: JobRecord, config: ClusterConfig): Promise<void> {
    const abort = new AbortController();
    this.current = { id: job.id, abort };
    const pointsPerSecond = job.request.pointsPerSecond ?? this.options.defaultPointsPerSecond;
    // the store is looked at between progress reports too: a cancel or a lost leadership stops a slow window
    const watch = setInterval(() => {
      if (!this.options.canRun()) abort.abort(new Stopped('this process may no longer run jobs'));
      else
        void this.options.store
          .get(job.id)
          .then((r) => {
            if (r && r.state !== 'running') abort.abort(new Stopped(`the job is ${r.state}`));
          })
          .catch(() => undefined);
    }, this.pollMs);
    watch.unref?.();
    let stored = job;
    if (job.runner !== this.options.name) {
      stored =
        (await this.options.store.update(job.id, (r) => (r.state === 'running' ? { ...r, runner: this.options.name } : null))) ?? job;
      const at = job.progress?.cursor;
      this.log(
        'log',
        `job ${job.id}: taking it over from ${job.runner ?? 'nobody'} at step ${at?.step ?? 0}${at?.windowStart !== undefined ? ` window ${new Date(at.windowStart).toISOString()}` : ''}`,
      );
    }
    const onProgress = async (progress: JobProgress): Promise<void> => {
      if (abort.signal.aborted) throw abort.signal.reason as Error;
      if (!this.options.canRun()) {
        abort.abort(new Stopped('this process may no longer run jobs'));
        throw abort.signal.reason as Error;
      }
      const after = await this.options.store.update(job.id, (r) =>
        r.state === 'running' ? { ...r, runner: this.options.name, progress } : null,
      );
      if (!after || after.state !== 'running') {
        abort.abort(new Stopped(`the job is ${after?.state ?? 'gone'}`));
        throw abort.signal.reason as Error;
      }
      this.options.observe?.(after);
    };
    try {
      await this.options.engine.run(stored, config, { signal: abort.signal, pointsPerSecond, onProgress });
      if (abort.signal.aborted) throw abort.signal.reason as Error;
      const done = await this.finish(job.id, 'done');
      if (done?.state === 'done') this.log('log', `job ${job.id} done: ${done.progress?.pointsCopied ?? 0} points copied`);
    } catch (err) {
      const reason = abort.signal.aborted ? (abort.signal.reason as Error) : (err as Error);
      if (reason instanceof Stopped) {
        this.log('warn', `job ${job.id} stopped: ${reason.message}`);
      } else {
        this.log('error', `job ${job.id} failed: ${reason.message}`);
        await this.finish(job.id, 'failed', reason.message).catch((e: Error) =>
          this.log('warn', `could not record the failure of ${job.id}: ${e.message}`),
        );
      }
    } finally {
      clearInterval(watch);
      this.current = undefined;
    }
  }

  /** Stores the end of a job still running (or pending) — only while this process may run jobs. */
  private async finish(id: string, state: 'done' | 'failed', error?: string): Promise<JobRecord | null> {
    if (!this.options.canRun()) return null;
    const after = await this.options.store.update(id, (r) =>
      r.state === 'running' || r.state === 'pending'
        ? { ...r, state, runner: this.options.name, finishedAt: Date.now(), ...(error !== undefined ? { error } : {}) }
        : null,
    );
    if (after) this.options.observe?.(after);
    return after;
  }

  private log(level: 'log' | 'warn' | 'error', message: string): void {
    this.options.log?.(level, message);
  }
}

/** `recover node2`, `resync cpu, mem`, `rebalance`, `cleanup node1`. */
export function describeRequest(job: Pick<JobRecord, 'request'>): string {
  const r = job.request;
  const what = r.backend ?? (r.measurements?.length ? r.measurements.join(', ') : '');
  return what ? `${r.kind} ${what}` : r.kind;
}
