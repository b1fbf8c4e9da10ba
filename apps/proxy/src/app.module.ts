import { PRODUCT_CONFIG_RULES } from '@app/cli';
import { ClusterStoreModule } from '@app/cluster-store';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminModule } from './admin/admin.module';
import type { ProxyOptions } from './cli/proxy-options';
import { ClusterModule } from './cluster/cluster.module';
import { DebugModule } from './debug/debug.module';
import { InfluxExceptionFilter } from './http/influx-exception.filter';
import { ProxyServer } from './http/proxy-server';
import { RequestGate } from './http/request-gate';
import { RequestObserverModule } from './http/request-observer.module';
import { MetricsModule } from './metrics/metrics.module';
import { PingHandler } from './ping/ping.handler';
import { PrometheusWriteModule } from './prometheus/prometheus-write.module';
import { PromReadModule } from './prometheus/prom-read.module';
import { jobStateOf } from './jobs/proxy-jobs.service';
import { ProxyJobsModule } from './jobs/proxy-jobs.module';
import { ProxyOptionsModule } from './proxy-options.module';
import { QueryModule } from './query/query.module';
import { SelfReportModule } from './self-report/self-report.module';
import { SentinelFeedModule } from './sentinel/sentinel-feed.module';
import { V2Module } from './v2/v2.module';
import { WriteModule } from './write/write.module';

/**
 * The proxy: the global command line, config store and metrics; one module per feature; and here the
 * HTTP front (ProxyServer, which owns the http.Server and hands hot paths to plain handlers, the rest
 * to Nest) with the gate every request passes and /ping.
 */
@Module({})
export class AppModule {
  static forRoot(options: ProxyOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ProxyOptionsModule.forRoot(options),
        ClusterStoreModule.forRoot(options.store, PRODUCT_CONFIG_RULES, jobStateOf(options)),
        MetricsModule.forRoot(),
        ClusterModule,
        RequestObserverModule,
        SentinelFeedModule,
        WriteModule,
        QueryModule,
        V2Module,
        PrometheusWriteModule,
        PromReadModule,
        SelfReportModule,
        AdminModule,
        ProxyJobsModule,
        DebugModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: InfluxExceptionFilter }, RequestGate, PingHandler, ProxyServer],
    };
  }
}
