import { PRODUCT_CONFIG_RULES } from '@app/cli';
import { applyRoutingChange, type ClusterConfig, ConfigValidationError, parseClusterConfig, routingChangeOf } from '@app/config';
import { planMoves } from '@app/router';
import { BadRequestException, Body, Controller, Header, HttpCode, Inject, Post } from '@nestjs/common';
import type { ProxyOptions } from '../cli/proxy-options';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { discoverMeasurements } from './measurement-discovery';

/**
 * POST /admin/plan: given a candidate config document (the file config's shape), or only new keymaps
 * (and groups) to apply over the config in force (`{"keymaps": {…}, "groups": {…}}` without
 * `backends`), which measurements the backends hold would live elsewhere under it, before it is applied. Moving their data is the
 * data-movement rebalance job's; this only says what it would have to move.
 */
@Controller('admin')
export class PlanController {
  constructor(
    private readonly cluster: ClusterStateService,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
  ) {}

  @Post('plan')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async plan(@Body() candidate: unknown) {
    const topology = this.cluster.topology;
    let after: ClusterConfig;
    try {
      const whole = !!candidate && typeof candidate === 'object' && 'backends' in candidate;
      after = whole
        ? parseClusterConfig(candidate, PRODUCT_CONFIG_RULES)
        : applyRoutingChange(topology.config, routingChangeOf(candidate), PRODUCT_CONFIG_RULES);
    } catch (err) {
      if (err instanceof ConfigValidationError) throw new BadRequestException(`candidate config: ${err.message}`);
      throw err;
    }
    const { measurements, failed } = await discoverMeasurements(topology.backends, topology.node);
    const plan = planMoves(topology.config, after, measurements, this.options.node);
    const byGroup: Record<string, { in: number; out: number }> = {};
    for (const m of plan.moves) {
      if (m.fromGroup !== undefined) (byGroup[m.fromGroup] ??= { in: 0, out: 0 }).out++;
      if (m.toGroup !== undefined) (byGroup[m.toGroup] ??= { in: 0, out: 0 }).in++;
    }
    return {
      node: this.options.node,
      measurements: plan.total,
      moving: plan.moves.length,
      byGroup,
      moves: plan.moves,
      unroutable: plan.unroutable,
      // a backend that did not answer: its measurements are not in the plan
      ...(failed.length > 0 ? { incomplete: failed } : {}),
    };
  }
}
