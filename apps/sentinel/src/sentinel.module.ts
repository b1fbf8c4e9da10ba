import { parsePasswordHash } from '@app/auth';
import { ClusterStoreModule } from '@app/cluster-store';
import type { ConfigRules } from '@app/config';
import { STATEMENT_KINDS } from '@app/influxql';
import { type DynamicModule, Module } from '@nestjs/common';
import type { SentinelOptions } from './cli/sentinel-options';
import { HealthChecker } from './health/health-checker.service';
import { HealthController } from './http/health.controller';
import { MetaController } from './http/meta.controller';
import { SentinelMembershipService } from './membership/sentinel-membership.service';
import { SENTINEL_OPTIONS } from './sentinel-options.token';
import { SentinelService } from './sentinel.service';

/**
 * What config validation takes from the product: the statement kinds proxies may forbid, the users'
 * hash check (the proxies' own, so the sentinel refuses the configs they refuse).
 */
const CONFIG_RULES: ConfigRules = {
  statementKinds: STATEMENT_KINDS.filter((kind) => kind !== 'unknown'),
  checkPasswordHash: parsePasswordHash,
};

/** The sentinel: leader election, backend health, replay slots, its own membership, GET /meta and GET /health. */
@Module({})
export class SentinelModule {
  static forRoot(options: SentinelOptions): DynamicModule {
    return {
      module: SentinelModule,
      imports: [ClusterStoreModule.forRoot(options.store, CONFIG_RULES)],
      controllers: [MetaController, HealthController],
      providers: [{ provide: SENTINEL_OPTIONS, useValue: options }, HealthChecker, SentinelService, SentinelMembershipService],
    };
  }
}
