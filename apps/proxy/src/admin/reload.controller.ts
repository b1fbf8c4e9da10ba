import { ConfigProvider, ConfigValidationError } from '@app/config';
import { BadRequestException, Controller, HttpCode, Post } from '@nestjs/common';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { ProxyMetrics } from '../metrics/proxy-metrics';

/** POST /reload: re-read the config store now; an invalid config is refused and the old one kept. */
@Controller()
export class ReloadController {
  constructor(
    private readonly provider: ConfigProvider,
    private readonly cluster: ClusterStateService,
    private readonly metrics: ProxyMetrics,
  ) {}

  @Post('reload')
  @HttpCode(204)
  async reload(): Promise<void> {
    try {
      // the provider also announces it on watch(); applying it here lets us answer with the verdict
      const config = await this.provider.reload().catch((err: unknown) => {
        this.metrics.configReloadFailures.inc(); // unreadable or invalid (apply() counts its own refusals)
        throw err;
      });
      await this.cluster.apply(config);
    } catch (err) {
      if (err instanceof ConfigValidationError) throw new BadRequestException(err.message);
      throw err;
    }
  }
}
