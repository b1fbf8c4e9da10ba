import { type DynamicModule, Module } from '@nestjs/common';
import type { ProxyOptions } from './cli/proxy-options';
import { PROXY_OPTIONS } from './proxy-options.token';

/** The parsed command line (PROXY_OPTIONS), global: most features read a flag or two from it. */
@Module({})
export class ProxyOptionsModule {
  static forRoot(options: ProxyOptions): DynamicModule {
    return {
      module: ProxyOptionsModule,
      global: true,
      providers: [{ provide: PROXY_OPTIONS, useValue: options }],
      exports: [PROXY_OPTIONS],
    };
  }
}
