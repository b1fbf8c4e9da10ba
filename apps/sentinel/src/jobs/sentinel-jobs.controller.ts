import { JobStore, withTimeout } from '@app/cluster-store';
import { jobSummary } from '@app/data-movement/job-runner-admin';
import { Controller, Get, Header, NotFoundException, Param } from '@nestjs/common';
import { Registry } from 'prom-client';
import { SentinelJobMetrics } from './sentinel-job-metrics';

/**
 * Read-only views of the data-movement jobs on a sentinel: GET /admin/jobs, GET /admin/jobs/:id, and
 * GET /metrics. Jobs are submitted through a proxy's POST /admin/jobs or the admin CLI (into the store).
 */
@Controller()
export class SentinelJobsController {
  constructor(
    private readonly store: JobStore,
    private readonly metrics: SentinelJobMetrics,
  ) {}

  @Get('admin/jobs')
  @Header('Cache-Control', 'no-store')
  async list() {
    const jobs = await withTimeout(this.store.list(), 5_000, 'the job store did not answer within 5 s');
    return { jobs: jobs.map((j) => ({ ...jobSummary(j), record: j })) };
  }

  @Get('admin/jobs/:id')
  @Header('Cache-Control', 'no-store')
  async get(@Param('id') id: string) {
    const job = await withTimeout(this.store.get(id), 5_000, 'the job store did not answer within 5 s');
    if (!job) throw new NotFoundException({ error: `no job ${id}` });
    return { ...jobSummary(job), record: job };
  }

  @Get('metrics')
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  async scrape(): Promise<string> {
    const jobs = await withTimeout(this.store.list(), 2_000, 'no answer').catch(() => undefined);
    if (jobs) this.metrics.setJobs(jobs);
    return this.metrics.registry.metrics();
  }
}
