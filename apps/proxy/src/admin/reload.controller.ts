import { ConfigProvider, ConfigValidationError } from '@app/config';
import { BadRequestException, Controller, HttpCode, Post } from '@nestjs/common';
import { ClusterStateService } from '../cluster/cluster-state.service';

/** POST /reload: re-read the config store now; an invalid config is refused and the old one kept. */
@Controller()
export class ReloadController {
  constructor(
    private readonly provider: ConfigProvider,
    private readonly cluster: ClusterStateService,
  ) {}

  @Post('reload')
  @HttpCode(204)
  async reload(): Promise<void> {
    try {
      // the provider also announces it on watch(); applying it here lets us answer with the verdict
      await this.cluster.apply(await this.provider.reload());
    } catch (err) {
      if (err instanceof ConfigValidationError) throw new BadRequestException(err.message);
      throw err;
    }
  }
}
