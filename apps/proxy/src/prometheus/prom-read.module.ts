import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { PromReadHandler } from './prom-read.handler';

/** POST /api/v1/prom/read: Prometheus remote read, routed by metric name like /query (a plain handler, see ProxyServer). */
@Module({
  imports: [ClusterModule],
  providers: [PromReadHandler],
  exports: [PromReadHandler],
})
export class PromReadModule {}
