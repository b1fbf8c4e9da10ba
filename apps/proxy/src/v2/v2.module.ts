import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { WriteModule } from '../write/write.module';
import { FluxQueryHandler } from './flux-query.handler';
import { V2WriteHandler } from './v2-write.handler';

/**
 * InfluxDB 1.8's compatibility API for v2 clients: /api/v2/write (through the /write handler's own
 * stages) and /api/v2/query (Flux, forwarded). Plain handlers, routed by ProxyServer like /write.
 */
@Module({
  imports: [ClusterModule, WriteModule],
  providers: [V2WriteHandler, FluxQueryHandler],
  exports: [V2WriteHandler, FluxQueryHandler],
})
export class V2Module {}
