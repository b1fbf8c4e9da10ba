import { type BackendConfig, ConfigProvider } from '@app/config';
import { Controller, Get, Header } from '@nestjs/common';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { WriteStats } from '../write/write-stats';

/** GET /meta: the seed's document (config and backend status) plus what this proxy sees. */
@Controller()
export class MetaController {
  constructor(
    private readonly cluster: ClusterStateService,
    private readonly provider: ConfigProvider,
    private readonly stats: WriteStats,
  ) {}

  @Get('meta')
  @Header('Cache-Control', 'no-store')
  meta() {
    const topology = this.cluster.topology;
    const backends: Record<string, Omit<BackendConfig, 'password'> & { password?: string }> = {};
    const backendStatus: Record<string, boolean> = {};
    const backendDetail: Record<string, unknown> = {};
    for (const b of topology.backends) {
      backends[b.name] = redact(b.config);
      backendStatus[b.name] = b.isHealthy;
      backendDetail[b.name] = { ...b.status(), batches: b.batcher.pending };
    }
    return {
      proxies: topology.config.proxies,
      backends,
      backendStatus,
      backendDetail,
      measurementToBackends: topology.config.keymaps,
      provider: this.provider.describe(),
      writeStats: this.stats,
    };
  }
}

function redact(config: BackendConfig): BackendConfig {
  return config.password === undefined ? config : { ...config, password: '******' };
}
