import { BufferPool } from '@app/backend';
import { Module } from '@nestjs/common';
import { SentinelViewModule } from '../sentinel/sentinel-view.module';
import { JobWatch } from '../jobs/job-watch.service';
import { ClusterStateService } from './cluster-state.service';
import { MembershipService } from './membership.service';

/**
 * The live cluster: the topology built from the config (backends, router, proxy settings), rebuilt on
 * every change, and this proxy's membership record in the store.
 */
@Module({
  imports: [SentinelViewModule],
  providers: [{ provide: BufferPool, useValue: new BufferPool() }, ClusterStateService, MembershipService, JobWatch],
  exports: [BufferPool, ClusterStateService, MembershipService, SentinelViewModule, JobWatch],
})
export class ClusterModule {}
