import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { groupChannel } from '../workers/group-channel';
import { HEALTH_QUESTION, mergeBackendViews } from '../workers/group-health';
import { type BackendHealthInput, type HealthReport, healthReport } from './health-report';

/**
 * GET /health: InfluxDB 1.8's document, one check per backend; 503 when the proxy cannot serve.
 * With `--workers N` it answers for the whole proxy: every worker's view merged (group-health.ts).
 */
@Controller()
export class HealthController {
  constructor(private readonly cluster: ClusterStateService) {
    groupChannel.answer(HEALTH_QUESTION, () => this.ownView());
  }

  @Get('health')
  @Header('Cache-Control', 'no-store')
  async health(@Res({ passthrough: true }) res: Response): Promise<HealthReport> {
    const views = groupChannel.inGroup
      ? mergeBackendViews((await groupChannel.gather<BackendHealthInput[]>(HEALTH_QUESTION)).map((a) => a.value))
      : this.ownView();
    const report = healthReport(views, this.cluster.topology.version);
    res.status(report.status === 'pass' ? 200 : 503);
    return report;
  }

  private ownView(): BackendHealthInput[] {
    return this.cluster.topology.backends.map((b) => ({ name: b.name, writeOnly: b.config.writeOnly, status: b.status() }));
  }
}
