import { ShardSpanCache } from '@app/query';
import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { RequestObserverModule } from '../http/request-observer.module';
import { WriteModule } from '../write/write.module';
import { QueryHandler } from './query.handler';

/** GET/POST /query over the query engine (@app/query); SELECT … INTO writes through the write path. */
@Module({
  imports: [ClusterModule, RequestObserverModule, WriteModule],
  providers: [ShardSpanCache, QueryHandler],
  exports: [QueryHandler],
})
export class QueryModule {}
