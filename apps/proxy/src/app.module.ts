import { BufferPool } from '@app/backend';
import { ConfigModule } from '@app/config';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { MetaController } from './admin/meta.controller';
import { ReloadController } from './admin/reload.controller';
import type { ProxyOptions } from './cli/proxy-options';
import { ClusterStateService } from './cluster/cluster-state.service';
import { InfluxExceptionFilter } from './http/influx-exception.filter';
import { ProxyServer } from './http/proxy-server';
import { PingHandler } from './ping/ping.handler';
import { PROXY_OPTIONS } from './proxy-options.token';
import { QueryHandler } from './query/query.handler';
import { QueryStats } from './query/query-stats';
import { WriteHandler } from './write/write.handler';
import { WriteStats } from './write/write-stats';

@Module({})
export class AppModule {
  static forRoot(options: ProxyOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ kind: 'file', path: options.configPath }),
      ],
      controllers: [ReloadController, MetaController],
      providers: [
        { provide: PROXY_OPTIONS, useValue: options },
        { provide: APP_FILTER, useClass: InfluxExceptionFilter },
        { provide: BufferPool, useValue: new BufferPool() },
        ClusterStateService,
        WriteStats,
        WriteHandler,
        PingHandler,
        QueryHandler,
        QueryStats,
        ProxyServer,
      ],
    };
  }
}
