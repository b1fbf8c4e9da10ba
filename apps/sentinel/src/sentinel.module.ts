import { PRODUCT_CONFIG_RULES } from '@app/cli';
import { ClusterStoreModule } from '@app/cluster-store';
import { type DynamicModule, Module } from '@nestjs/common';
import type { SentinelOptions } from './cli/sentinel-options';
import { HealthChecker } from './health/health-checker.service';
import { HealthController } from './http/health.controller';
import { MetaController } from './http/meta.controller';
import { SentinelJobsController } from './jobs/sentinel-jobs.controller';
import { SENTINEL_JOB_PROVIDERS } from './jobs/sentinel-jobs.providers';
import { SentinelMembershipService } from './membership/sentinel-membership.service';
import { SENTINEL_OPTIONS } from './sentinel-options.token';
import { SentinelService } from './sentinel.service';

/** The sentinel: leader election, backend health, replay slots, data-movement jobs, its own membership, GET /meta and GET /health. */
@Module({})
export class SentinelModule {
  static forRoot(options: SentinelOptions): DynamicModule {
    return {
      module: SentinelModule,
      imports: [ClusterStoreModule.forRoot(options.store, PRODUCT_CONFIG_RULES)],
      controllers: [MetaController, HealthController, SentinelJobsController],
      providers: [
        { provide: SENTINEL_OPTIONS, useValue: options },
        HealthChecker,
        SentinelService,
        SentinelMembershipService,
        ...SENTINEL_JOB_PROVIDERS,
      ],
    };
  }
}
