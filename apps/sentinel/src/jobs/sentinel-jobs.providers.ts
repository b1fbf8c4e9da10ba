import { JobEngine } from '@app/data-movement/job-model';
import { createJobEngine } from '@app/data-movement/job-runner-engine';
import type { Provider } from '@nestjs/common';
import { SentinelJobMetrics } from './sentinel-job-metrics';
import { SentinelJobsService } from './sentinel-jobs.service';

/**
 * Data-movement jobs on the sentinel (registered in SentinelModule beside the SentinelService they
 * follow): the leader runs them; every sentinel shows them (GET /admin/jobs, /metrics, /meta).
 */
export const SENTINEL_JOB_PROVIDERS: Provider[] = [
  { provide: JobEngine, useFactory: createJobEngine },
  SentinelJobMetrics,
  SentinelJobsService,
];
