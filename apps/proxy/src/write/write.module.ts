import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { RequestObserverModule } from '../http/request-observer.module';
import { SlowBodyWatch } from './slow-body-watch';
import { WriteBudget } from './write-budget';
import { WriteHandler } from './write.handler';

/** POST /write: receive, scan, route and hand lines to the backends' batchers, within the memory budget. */
@Module({
  imports: [ClusterModule, RequestObserverModule],
  providers: [WriteBudget, SlowBodyWatch, WriteHandler],
  exports: [WriteHandler, WriteBudget],
})
export class WriteModule {}
