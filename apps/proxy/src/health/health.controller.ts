import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { type HealthReport, healthReport } from './health-report';

/** GET /health: InfluxDB 1.8's document, one check per backend; 503 when the proxy cannot serve. */
@Controller()
export class HealthController {
  constructor(private readonly cluster: ClusterStateService) {}

  @Get('health')
  @Header('Cache-Control', 'no-store')
  health(@Res({ passthrough: true }) res: Response): HealthReport {
    const topology = this.cluster.topology;
    const report = healthReport(
      topology.backends.map((b) => ({ name: b.name, writeOnly: b.config.writeOnly, status: b.status() })),
      topology.version,
    );
    res.status(report.status === 'pass' ? 200 : 503);
    return report;
  }
}
