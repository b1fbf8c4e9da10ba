import { JobEngine } from '@app/data-movement/job-model';
import { createJobEngine } from '@app/data-movement/job-runner-engine';
import type { Provider } from '@nestjs/common';
import type { SentinelOptions } from '../cli/sentinel-options';
import { SENTINEL_OPTIONS } from '../sentinel-options.token';
import { SentinelJobMetrics } from './sentinel-job-metrics';
import { SentinelJobsService } from './sentinel-jobs.service';

/**
 * Data-movement jobs on the sentinel (registered in SentinelModule beside the SentinelService they
 * follow): the leader runs them; every sentinel shows them (GET /admin/jobs, /metrics, /meta).
 */
export const SENTINEL_JOB_PROVIDERS: Provider[] = [
  {
    provide: JobEngine,
    useFactory: (o: SentinelOptions) => createJobEngine({ pointsPerWindow: o.jobPointsPerWindow }),
    inject: [SENTINEL_OPTIONS],
  },
  SentinelJobMetrics,
  SentinelJobsService,
];
