import { type ConfigRules, ConfigProvider, FileConfigProvider } from '@app/config';
import { type DynamicModule, Module } from '@nestjs/common';
import { EtcdConfigProvider } from './etcd-config.provider';
import { JobStore, MemoryJobStore } from './job-store';
import { FileJobStore } from './job-store.file';
import { InProcessMembershipStore, MembershipStore } from './membership';
import { RedisConfigProvider } from './redis-config.provider';
import { StoreConfigProvider } from './store-config.provider';
import { InProcessSentinelStore, SentinelStore } from './sentinel-store';
import type { ConfigStoreOptions } from './store-options';

export const CONFIG_STORE_OPTIONS = Symbol('CONFIG_STORE_OPTIONS');
/** The app's validation rules, for the provider factory. */
const CONFIG_RULES = Symbol('CONFIG_RULES');

function createProvider(options: ConfigStoreOptions, rules: ConfigRules): ConfigProvider {
  switch (options.kind) {
    case 'file':
      return new FileConfigProvider(options.path, rules);
    case 'redis':
      return new RedisConfigProvider(options, rules);
    case 'etcd':
      return new EtcdConfigProvider(options, rules);
  }
}

/**
 * The config store the flags chose (file, Redis or etcd) as ConfigProvider, and what lives beside the
 * config: the proxies' membership records and the sentinels' election, publication and records. Redis
 * and etcd share those between processes through the config's own connection; the file shares
 * nothing, so they stay in this process.
 */
@Module({})
export class ClusterStoreModule {
  /**
   * `jobState`: where a file config keeps data-movement jobs (the proxy's --job-state-file), written only
   * by the process that runs jobs (the others read it: `readOnly`); without it they live in memory.
   */
  static forRoot(options: ConfigStoreOptions, rules: ConfigRules, jobState?: { path: string; readOnly: boolean }): DynamicModule {
    return {
      module: ClusterStoreModule,
      global: true,
      providers: [
        { provide: CONFIG_STORE_OPTIONS, useValue: options },
        { provide: CONFIG_RULES, useValue: rules },
        { provide: ConfigProvider, useFactory: createProvider, inject: [CONFIG_STORE_OPTIONS, CONFIG_RULES] },
        {
          provide: MembershipStore,
          useFactory: (p: ConfigProvider) => (p instanceof StoreConfigProvider ? p.membership() : new InProcessMembershipStore()),
          inject: [ConfigProvider],
        },
        {
          provide: SentinelStore,
          useFactory: (p: ConfigProvider) => (p instanceof StoreConfigProvider ? p.sentinels() : new InProcessSentinelStore()),
          inject: [ConfigProvider],
        },
        {
          provide: JobStore,
          useFactory: (p: ConfigProvider) =>
            p instanceof StoreConfigProvider
              ? p.jobs()
              : jobState
                ? new FileJobStore(jobState.path, jobState.readOnly)
                : new MemoryJobStore(),
          inject: [ConfigProvider],
        },
      ],
      exports: [ConfigProvider, MembershipStore, SentinelStore, JobStore],
    };
  }
}
