import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { WriteModule } from '../write/write.module';
import { PrometheusWriteHandler } from './prometheus-write.handler';

/** POST /api/v1/prom/write: Prometheus remote write, decoded into lines that take /write's path. */
@Module({
  imports: [ClusterModule, WriteModule],
  providers: [PrometheusWriteHandler],
  exports: [PrometheusWriteHandler],
})
export class PrometheusWriteModule {}
