import { ReplayGate } from '@app/backend';
import { Module } from '@nestjs/common';
import { SentinelViewService } from './sentinel-view.service';

/**
 * What this proxy knows of the sentinels' publication: backend health, replay slots and catch-up
 * fencing. The backends consult it as their ReplayGate, so it sits below the cluster.
 */
@Module({
  providers: [SentinelViewService, { provide: ReplayGate, useExisting: SentinelViewService }],
  exports: [SentinelViewService, ReplayGate],
})
export class SentinelViewModule {}
