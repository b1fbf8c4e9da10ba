import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigProvider } from './config.provider';
import { EtcdConfigProvider } from './etcd-config.provider';
import { FileConfigProvider } from './file-config.provider';
import { MembershipStore } from './membership';
import { RedisConfigProvider } from './redis-config.provider';
import { SentinelStore } from './sentinel-store';
import type { ConfigStoreOptions } from './store-options';

export const CONFIG_STORE_OPTIONS = Symbol('CONFIG_STORE_OPTIONS');

function createProvider(options: ConfigStoreOptions): ConfigProvider {
  switch (options.kind) {
    case 'file':
      return new FileConfigProvider(options.path);
    case 'redis':
      return new RedisConfigProvider(options);
    case 'etcd':
      return new EtcdConfigProvider(options);
  }
}

@Module({})
export class ConfigModule {
  static forRoot(options: ConfigStoreOptions): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [
        { provide: CONFIG_STORE_OPTIONS, useValue: options },
        { provide: ConfigProvider, useFactory: createProvider, inject: [CONFIG_STORE_OPTIONS] },
        // membership records live beside the config, through the same connection
        { provide: MembershipStore, useFactory: (p: ConfigProvider) => p.membership(), inject: [ConfigProvider] },
        // so do the sentinels' election, publication and records
        { provide: SentinelStore, useFactory: (p: ConfigProvider) => p.sentinels(), inject: [ConfigProvider] },
      ],
      exports: [ConfigProvider, MembershipStore, SentinelStore],
    };
  }
}
