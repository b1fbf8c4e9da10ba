import { parsePasswordHash } from '@app/auth';
import { BufferPool, ReplayGate } from '@app/backend';
import { ClusterStoreModule } from '@app/cluster-store';
import type { ConfigRules } from '@app/config';
import { STATEMENT_KINDS } from '@app/influxql';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { MetaController } from './admin/meta.controller';
import { RejectedController } from './admin/rejected.controller';
import { ReloadController } from './admin/reload.controller';
import type { ProxyOptions } from './cli/proxy-options';
import { ClusterStateService } from './cluster/cluster-state.service';
import { MembershipService } from './cluster/membership.service';
import { HealthController } from './health/health.controller';
import { InfluxExceptionFilter } from './http/influx-exception.filter';
import { ProxyServer } from './http/proxy-server';
import { RequestObserver } from './http/request-observer';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsModule } from './metrics/metrics.module';
import { RequestGate } from './http/request-gate';
import { PingHandler } from './ping/ping.handler';
import { PROXY_OPTIONS } from './proxy-options.token';
import { QueryHandler } from './query/query.handler';
import { ShardSpanCache } from '@app/query';
import { SentinelFeedService } from './sentinel/sentinel-feed.service';
import { SentinelViewService } from './sentinel/sentinel-view.service';
import { SelfReportService } from './self-report/self-report.service';
import { WriteBudget } from './write/write-budget';
import { SlowBodyWatch } from './write/slow-body-watch';
import { WriteHandler } from './write/write.handler';

/** What config validation takes from the product: the statement kinds proxies may forbid, the users' hash check. */
const CONFIG_RULES: ConfigRules = {
  statementKinds: STATEMENT_KINDS.filter((kind) => kind !== 'unknown'),
  checkPasswordHash: parsePasswordHash,
};

@Module({})
export class AppModule {
  static forRoot(options: ProxyOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [ClusterStoreModule.forRoot(options.store, CONFIG_RULES), MetricsModule.forRoot()],
      controllers: [ReloadController, RejectedController, MetaController, HealthController, MetricsController],
      providers: [
        { provide: PROXY_OPTIONS, useValue: options },
        { provide: APP_FILTER, useClass: InfluxExceptionFilter },
        { provide: BufferPool, useValue: new BufferPool() },
        ClusterStateService,
        MembershipService,
        SentinelViewService,
        { provide: ReplayGate, useExisting: SentinelViewService },
        SentinelFeedService,
        WriteHandler,
        PingHandler,
        QueryHandler,
        ShardSpanCache,
        RequestObserver,
        SelfReportService,
        ProxyServer,
        RequestGate,
        WriteBudget,
        SlowBodyWatch,
      ],
    };
  }
}
