import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { SentinelOptions } from '../cli/sentinel-options';
import { SentinelMembershipService } from '../membership/sentinel-membership.service';
import { SENTINEL_OPTIONS } from '../sentinel-options.token';
import { SentinelService } from '../sentinel.service';

/**
 * GET /health: 200 while this sentinel can do its job (it reaches the store; as leader, its last
 * publication went through), 503 otherwise, with InfluxDB's health document shape.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly sentinel: SentinelService,
    private readonly membership: SentinelMembershipService,
    @Inject(SENTINEL_OPTIONS) private readonly options: SentinelOptions,
  ) {}

  @Get('health')
  @Header('Cache-Control', 'no-store')
  health(@Res({ passthrough: true }) res: Response) {
    const role = this.sentinel.leading ? 'leader' : 'follower';
    const publishError = this.sentinel.leading ? this.sentinel.lastPublication.error : undefined;
    let message: string;
    if (this.membership.failing) message = `the config store does not answer: ${this.membership.failing}`;
    else if (publishError) message = `leading, but the last publication failed: ${publishError}`;
    else if (role === 'leader') message = `leading: probing ${Object.keys(this.sentinel.backends).length} backends`;
    else message = 'following: ready to take over';
    const status = this.membership.failing || publishError ? 'fail' : 'pass';
    res.status(status === 'pass' ? 200 : 503);
    return { name: 'influxdb-sentinel', sentinel: this.options.name, role, status, message };
  }
}
