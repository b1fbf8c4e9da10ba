import { Registry } from 'prom-client';
import type { JobProgress, JobRecord } from './job-model';
import { JobMetrics } from './job-runner-metrics';

const progress = (pointsCopied: number, windowsDone: number): JobProgress => ({
  cursor: { step: 0 },
  windowsDone,
  windowsTotal: 10,
  pointsCopied,
  bytesCopied: 0,
  rate: 50,
  etaSeconds: 1,
  updatedAt: 0,
});
const job = (p: JobProgress, state: JobRecord['state'] = 'running'): JobRecord => ({
  id: 'j1',
  request: { kind: 'recover', backend: 'b' },
  state,
  createdAt: 0,
  progress: p,
});

describe('JobMetrics', () => {
  it('counts what this process copied (not what a previous runner had), and shows the stored jobs', async () => {
    const registry = new Registry();
    const m = new JobMetrics(registry, 'x_');
    m.observe(job(progress(100, 2))); // taken over at 100 points: not ours
    m.observe(job(progress(160, 3)));
    m.observe(job(progress(220, 4), 'done'));
    m.setJobs([job(progress(220, 4)), { ...job(progress(0, 0), 'done'), id: 'j0' }]);
    const text = await registry.metrics();
    expect(text).toContain('x_job_points_copied_total{kind="recover"} 120');
    expect(text).toContain('x_job_windows_done_total{kind="recover"} 2');
    expect(text).toContain('x_jobs{state="running"} 1');
    expect(text).toContain('x_jobs{state="done"} 1');
    expect(text).toContain('x_job_progress_ratio{id="j1",kind="recover"} 0.4');
    // a proxy's workers all read the same store: their gauges are not summed
    const json = await registry.getMetricsAsJSON();
    expect(json.find((g) => g.name === 'x_jobs')?.aggregator).toBe('max');
  });
});
