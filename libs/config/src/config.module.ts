import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigProvider } from './config.provider';
import { FileConfigProvider } from './file-config.provider';

/** Which store holds the cluster config. Redis and etcd join this union. */
export type ConfigStoreOptions = { kind: 'file'; path: string };

export const CONFIG_STORE_OPTIONS = Symbol('CONFIG_STORE_OPTIONS');

function createProvider(options: ConfigStoreOptions): ConfigProvider {
  switch (options.kind) {
    case 'file':
      return new FileConfigProvider(options.path);
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
      ],
      exports: [ConfigProvider],
    };
  }
}
