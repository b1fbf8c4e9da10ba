import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { SentinelFeedService } from './sentinel-feed.service';
import { SentinelViewModule } from './sentinel-view.module';

/** Follows the sentinels' publication in the store and feeds it to the view; reports failing backends back. */
@Module({
  imports: [ClusterModule, SentinelViewModule],
  providers: [SentinelFeedService],
  exports: [SentinelFeedService],
})
export class SentinelFeedModule {}
