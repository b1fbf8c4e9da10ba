import { JobStoreReadOnlyError } from '@app/cluster-store';
import { JobRefusedError } from '@app/data-movement/job-model';
import { jobSummary, parseJobRequest } from '@app/data-movement/job-runner-admin';
import { Body, Controller, Get, Header, HttpException, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ProxyJobsService } from './proxy-jobs.service';

/**
 * The data-movement admin endpoints (admin-only when authEnabled, as every /admin/… path):
 * GET /admin/jobs, GET /admin/jobs/:id, POST /admin/jobs (a JSON JobRequest; `?dry-run=true` answers
 * the plan instead), POST /admin/jobs/:id/cancel. Errors are `{"error": "…"}`: 400 a request that cannot
 * be run, 409 a backend another unfinished job holds, 404 no such job, 503 the store or a backend did not answer.
 */
@Controller('admin/jobs')
export class ProxyJobsController {
  constructor(private readonly jobs: ProxyJobsService) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  async list() {
    const jobs = await this.answer(() => this.jobs.store.list());
    return { runner: this.jobs.runs, jobs: jobs.map((j) => ({ ...jobSummary(j), record: j })) };
  }

  @Get(':id')
  @Header('Cache-Control', 'no-store')
  async get(@Param('id') id: string) {
    const job = await this.answer(() => this.jobs.store.get(id));
    if (!job) throw new HttpException(`no job ${id}`, HttpStatus.NOT_FOUND);
    return { ...jobSummary(job), record: job };
  }

  @Post()
  async create(@Body() body: unknown, @Query('dry-run') dryRun: string | undefined, @Res({ passthrough: true }) res: Response) {
    const result = await this.answer(() => this.jobs.submit(parseJobRequest(body), dryRun === 'true' || dryRun === ''));
    if ('plan' in result) {
      res.status(200);
      return { plan: result.plan };
    }
    res.status(201);
    return { ...jobSummary(result.job), record: result.job };
  }

  @Post(':id/cancel')
  async cancel(@Param('id') id: string, @Res({ passthrough: true }) res: Response) {
    const job = await this.answer(() => this.jobs.cancel(id));
    if (!job) throw new HttpException(`no job ${id}`, HttpStatus.NOT_FOUND);
    res.status(200);
    return { ...jobSummary(job), record: job };
  }

  /** Runs `call`, turning what went wrong into the status and `{"error"}` body an operator can act on. */
  private async answer<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof HttpException) throw err;
      if (err instanceof JobRefusedError) throw new HttpException(err.message, err.status);
      if (err instanceof JobStoreReadOnlyError) throw new HttpException(err.message, HttpStatus.SERVICE_UNAVAILABLE);
      throw new HttpException(`cannot answer now: ${(err as Error).message}`, HttpStatus.SERVICE_UNAVAILABLE);
    }
  }
}
