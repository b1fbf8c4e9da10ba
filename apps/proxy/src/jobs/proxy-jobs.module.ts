import { JobEngine } from '@app/data-movement/job-model';
import { createJobEngine } from '@app/data-movement/job-runner-engine';
import { Module } from '@nestjs/common';
import type { ProxyOptions } from '../cli/proxy-options';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { ClusterModule } from '../cluster/cluster.module';
import { ProxyJobsController } from './proxy-jobs.controller';
import { ProxyJobsService } from './proxy-jobs.service';

/** Data-movement jobs on the proxy: the admin endpoints, and the runner when the config is a file (JobWatch, in ClusterModule, follows them). */
@Module({
  imports: [ClusterModule],
  controllers: [ProxyJobsController],
  providers: [
    {
      provide: JobEngine,
      useFactory: (o: ProxyOptions) => createJobEngine({ pointsPerWindow: o.jobPointsPerWindow }),
      inject: [PROXY_OPTIONS],
    },
    ProxyJobsService,
  ],
  exports: [ProxyJobsService],
})
export class ProxyJobsModule {}
