import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { HealthController } from '../health/health.controller';
import { MetricsController } from '../metrics/metrics.controller';
import { SentinelFeedModule } from '../sentinel/sentinel-feed.module';
import { MetaController } from './meta.controller';
import { PlanController } from './plan.controller';
import { RejectedController } from './rejected.controller';
import { ReloadController } from './reload.controller';

/** The endpoints operators use, served by Nest: /meta, /reload, /admin/rejected, /admin/plan, /health, /metrics. */
@Module({
  imports: [ClusterModule, SentinelFeedModule],
  controllers: [ReloadController, RejectedController, PlanController, MetaController, HealthController, MetricsController],
})
export class AdminModule {}
