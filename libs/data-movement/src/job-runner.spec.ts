import { MemoryJobStore, newJobRecord } from '@app/cluster-store';
import type { ClusterConfig } from '@app/config';
import { type JobPlan, type JobRecord, JobRefusedError, type JobRequest, JobEngine, type RunOptions } from './job-model';
import { JobRunner } from './job-runner';

const CONFIG = { backends: { a: {}, b: {} }, keymaps: {}, proxies: {} } as unknown as ClusterConfig;

/**
 * A small engine that really copies: `windows` windows of 10 points each, from `source` into `target`
 * (point key → value), one window every `windowMs`, reporting its cursor after each. It keeps a count
 * of how often each window was copied, so resuming can be checked.
 */
class CopyEngine extends JobEngine {
  readonly source = new Map<number, number>();
  readonly target = new Map<number, number>();
  readonly copies = new Map<number, number>();
  failAt?: number;
  constructor(
    readonly windows: number,
    readonly windowMs = 0,
  ) {
    super();
    for (let i = 0; i < windows * 10; i++) this.source.set(i, i * 2);
  }
  async plan(request: JobRequest): Promise<JobPlan> {
    if (request.backend === 'nope') throw new JobRefusedError('unknown backend nope');
    return {
      steps: [
        {
          op: 'copy',
          measurement: 'm',
          rp: 'autogen',
          dbOf: {},
          sources: ['a'],
          targets: ['b'],
          span: { start: 0, end: this.windows },
          windowMs: 1,
        },
      ],
      estimatedPoints: this.source.size,
      estimatedBytes: this.source.size * 8,
      plannedAt: Date.now(),
    };
  }
  async run(job: JobRecord, _config: ClusterConfig, options: RunOptions): Promise<void> {
    let points = job.progress?.pointsCopied ?? 0;
    for (let w = job.progress?.cursor.windowStart ?? 0; w < this.windows; w++) {
      if (options.signal.aborted) throw options.signal.reason as Error;
      if (this.failAt === w) throw new Error(`window ${w} could not be read`);
      await new Promise((r) => setTimeout(r, this.windowMs));
      for (let i = w * 10; i < w * 10 + 10; i++) this.target.set(i, this.source.get(i)!);
      this.copies.set(w, (this.copies.get(w) ?? 0) + 1);
      points += 10;
      await options.onProgress({
        cursor: { step: 0, windowStart: w + 1 },
        windowsDone: w + 1,
        windowsTotal: this.windows,
        pointsCopied: points,
        bytesCopied: points * 8,
        rate: 0,
        etaSeconds: null,
        updatedAt: Date.now(),
      });
    }
  }
  async close(): Promise<void> {}
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('JobRunner', () => {
  const runners: JobRunner[] = [];
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
  });
  const runner = (name: string, store: MemoryJobStore, engine: JobEngine, canRun: () => boolean = () => true) => {
    const r = new JobRunner({ name, store, engine, config: () => CONFIG, canRun, defaultPointsPerSecond: 0, pollMs: 20 });
    runners.push(r);
    return r;
  };

  it('plans a pending job, runs it to the end, stores progress and done', async () => {
    const store = new MemoryJobStore();
    const engine = new CopyEngine(5);
    const job = await store.create(newJobRecord({ kind: 'recover', backend: 'b' }), ['a', 'b']);
    runner('s1', store, engine).start();
    const done = await waitFor('done', async () => ((await store.get(job.id))?.state === 'done' ? store.get(job.id) : null));
    expect(done).toMatchObject({ runner: 's1', plan: { estimatedPoints: 50 }, progress: { pointsCopied: 50, windowsDone: 5 } });
    expect(engine.target).toEqual(engine.source);
  });

  it('runs jobs one at a time in creation order', async () => {
    const store = new MemoryJobStore();
    const engine = new CopyEngine(2, 5);
    const first = await store.create(newJobRecord({ kind: 'recover', backend: 'a' }, 1), ['a', 'b']);
    const second = await store.create(newJobRecord({ kind: 'recover', backend: 'b' }, 2), ['a', 'b']);
    runner('s1', store, engine).start();
    await waitFor('both done', async () => (await store.list()).every((r) => r.state === 'done'));
    const [a, b] = [await store.get(first.id), await store.get(second.id)];
    expect(a!.finishedAt!).toBeLessThanOrEqual(b!.progress!.updatedAt);
  });

  it('a job that cannot be planned or fails is stored as failed with the reason', async () => {
    const store = new MemoryJobStore();
    const refused = await store.create(newJobRecord({ kind: 'recover', backend: 'nope' }), ['a', 'b', 'nope']);
    const engine = new CopyEngine(3);
    engine.failAt = 1;
    const broken = await store.create(newJobRecord({ kind: 'recover', backend: 'b' }), ['a', 'b', 'nope']);
    runner('s1', store, engine).start();
    await waitFor('both failed', async () => (await store.list()).every((r) => r.state === 'failed'));
    expect(await store.get(refused.id)).toMatchObject({ error: 'planning failed: unknown backend nope' });
    expect(await store.get(broken.id)).toMatchObject({ error: 'window 1 could not be read', progress: { windowsDone: 1 } });
  });

  it('a cancel stops the running job at once and is not overwritten', async () => {
    const store = new MemoryJobStore();
    const engine = new CopyEngine(100, 10);
    const job = await store.create(newJobRecord({ kind: 'recover', backend: 'b' }), ['a', 'b']);
    const r = runner('s1', store, engine);
    r.start();
    await waitFor('some progress', async () => ((await store.get(job.id))?.progress?.windowsDone ?? 0) >= 2);
    await store.cancel(job.id);
    await waitFor('runner idle', async () => r.running === undefined);
    const copied = engine.copies.size;
    expect(copied).toBeLessThan(100);
    await new Promise((res) => setTimeout(res, 100));
    expect(engine.copies.size).toBe(copied);
    expect(await store.get(job.id)).toMatchObject({ state: 'cancelled' });
  });

  it('a runner that loses the right to run stops at once; another resumes at the stored cursor', async () => {
    const store = new MemoryJobStore();
    const engine = new CopyEngine(30, 10);
    const job = await store.create(newJobRecord({ kind: 'recover', backend: 'b' }), ['a', 'b']);
    let leads = true;
    const first = runner('s1', store, engine, () => leads);
    first.start();
    await waitFor('some progress', async () => ((await store.get(job.id))?.progress?.windowsDone ?? 0) >= 5);
    leads = false;
    first.abort('deposed');
    await waitFor('s1 idle', async () => first.running === undefined);
    const stopped = await store.get(job.id);
    expect(stopped).toMatchObject({ state: 'running', runner: 's1' });
    runner('s2', store, engine).start();
    const done = await waitFor('done', async () => ((await store.get(job.id))?.state === 'done' ? store.get(job.id) : null));
    expect(done).toMatchObject({ runner: 's2', progress: { windowsDone: 30, pointsCopied: 300 } });
    expect(engine.target).toEqual(engine.source);
    // every window copied once, except at most the one in flight when s1 stopped
    const twice = [...engine.copies.values()].filter((n) => n > 1);
    expect(twice.length).toBeLessThanOrEqual(1);
    expect([...engine.copies.values()].every((n) => n <= 2)).toBe(true);
  });
});
