import { type ConfigStoreOptions, storeOptions, StoreAddressError, withStoreFlags } from '@app/config';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import yargs from 'yargs';
import { type LogRotation, LogOptionError, normalizeRotation } from '../logging/log-destination';

/** Everything the command line decides, parsed once and handed to AppModule.forRoot. */
export interface ProxyOptions {
  /** The config file (the file store's path; unused when the store is Redis or etcd). */
  configPath: string;
  /** Where the cluster config lives: the file (default), Redis or etcd. */
  store: ConfigStoreOptions;
  /** Seconds a membership record lives without a heartbeat (heartbeats come every ttl/3). */
  membershipTtl: number;
  node: string;
  spoolDir: string;
  logFilePath?: string;
  /** Rotation of the --log-file-path file by the proxy (undefined: none). */
  logRotation?: LogRotation;
  logLevel: string;
}

/** The install directory (where package.json is), home of the embedded default config.json. */
export const PROJECT_ROOT = findRoot(__dirname);

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/**
 * Parses argv. Single- and double-dash long flags are both accepted (`-node p1` as the Go seed
 * took them): yargs' short-option groups are switched off, so `-node` is not `-n -o -d -e`.
 */
export function parseProxyArgs(argv: string[]): ProxyOptions {
  const args = withStoreFlags(
    yargs(argv)
      .scriptName('influxdb-proxy')
      .usage('$0 [options]\n\nHigh-availability proxy for InfluxDB 1.x.')
      .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': true }),
  )
    .option('membership-ttl', {
      type: 'number',
      description: 'seconds this proxy stays listed in /meta without a heartbeat (heartbeats every ttl/3)',
      default: 30,
    })
    .option('node', { type: 'string', description: 'name of this proxy in the config\'s "proxies"', default: 'p1' })
    .option('spool-dir', { type: 'string', description: 'directory for per-backend write spools', default: 'spool' })
    .option('log-file-path', { type: 'string', description: 'write logs to this file instead of stdout' })
    .option('log-level', {
      type: 'string',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
      default: 'info',
      description: 'least severe level logged',
    })
    .option('log-rotate-size', {
      type: 'string',
      description: 'rotate the log file when it reaches this size (e.g. 100M; B, K, M, G)',
    })
    .option('log-rotate-interval', {
      type: 'string',
      description: 'rotate the log file every interval: daily, hourly, or e.g. 12h, 1d',
    })
    .option('log-rotate-keep', { type: 'number', description: 'rotated log files kept (FILE.1 … FILE.N)', default: 7 })
    .option('log-rotate-compress', { type: 'boolean', description: 'gzip rotated log files', default: false })
    .strictOptions()
    .version(false)
    .help()
    .wrap(100)
    .exitProcess(true)
    .parseSync();
  const configPath = resolve(args.config ?? resolve(PROJECT_ROOT, 'config.json'));
  let store: ConfigStoreOptions;
  try {
    store = storeOptions(args, configPath);
  } catch (err) {
    if (!(err instanceof StoreAddressError)) throw err;
    console.error(`influxdb-proxy: ${err.message}`);
    process.exit(2);
  }
  let logRotation: LogRotation | undefined;
  if (args.logRotateSize !== undefined || args.logRotateInterval !== undefined) {
    try {
      if (!args.logFilePath) throw new LogOptionError('--log-rotate-size / --log-rotate-interval need --log-file-path');
      logRotation = normalizeRotation({
        size: args.logRotateSize,
        interval: args.logRotateInterval,
        keep: args.logRotateKeep,
        compress: args.logRotateCompress,
      });
    } catch (err) {
      if (!(err instanceof LogOptionError)) throw err;
      console.error(`influxdb-proxy: ${err.message}`);
      process.exit(2);
    }
  }
  if (!(args.membershipTtl > 0)) {
    console.error('influxdb-proxy: --membership-ttl must be a positive number of seconds');
    process.exit(2);
  }
  return {
    configPath,
    store,
    membershipTtl: args.membershipTtl,
    node: args.node,
    spoolDir: resolve(args.spoolDir),
    logFilePath: args.logFilePath ? resolve(args.logFilePath) : undefined,
    logRotation,
    logLevel: args.logLevel,
  };
}

/** The store flags are shared with bin/influxdb-sentinel: see @app/config's store-flags. */
export { storeOptions };
