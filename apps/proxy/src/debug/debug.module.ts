import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { DebugVarsController } from './debug-vars.controller';
import { DebugVarsService } from './debug-vars.service';

/** GET /debug/vars: the proxy's counters in influxd's expvar JSON. */
@Module({
  imports: [ClusterModule],
  controllers: [DebugVarsController],
  providers: [DebugVarsService],
})
export class DebugModule {}
