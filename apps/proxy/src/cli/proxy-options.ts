import {
  type ConfigStoreOptions,
  DEFAULT_ETCD_PREFIX,
  normalizeEtcdPrefix,
  parseEtcdHosts,
  parseRedisAddress,
  parseSentinels,
  StoreAddressError,
} from '@app/config';
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
  const args = yargs(argv)
    .scriptName('influxdb-proxy')
    .usage('$0 [options]\n\nHigh-availability proxy for InfluxDB 1.x.')
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': true })
    .option('config', {
      type: 'string',
      description: 'cluster config JSON file (the default store, unless --redis or --etcd is given)',
      defaultDescription: '<install dir>/config.json',
    })
    .option('redis', {
      type: 'string',
      description: 'config in Redis at host:port or redis://[user:pwd@]host:port[/db] (seed layout: hashes b: m: n:)',
    })
    .option('redis-pwd', { type: 'string', description: 'Redis password' })
    .option('redis-db', { type: 'number', description: 'Redis database index', defaultDescription: '0' })
    .option('redis-sentinels', {
      type: 'string',
      description: 'Redis Sentinel addresses h:p,h:p (instead of --redis host:port)',
    })
    .option('redis-master-name', { type: 'string', description: 'master name the sentinels know', default: 'mymaster' })
    .option('redis-sentinel-pwd', { type: 'string', description: 'password of the sentinels themselves' })
    .option('etcd', { type: 'string', description: 'config in etcd: endpoints http://h:p[,http://h:p…]' })
    .option('etcd-prefix', { type: 'string', description: 'etcd key prefix', default: DEFAULT_ETCD_PREFIX })
    .option('etcd-user', { type: 'string', description: 'etcd user (password auth)' })
    .option('etcd-password', { type: 'string', description: 'etcd password' })
    .option('store-refresh', {
      type: 'number',
      description: 'seconds between safety-net re-reads of Redis/etcd (changes are noticed at once otherwise)',
      default: 60,
    })
    .option('store-timeout', {
      type: 'number',
      description: 'seconds start-up waits for Redis/etcd before failing',
      default: 5,
    })
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

interface StoreArgs {
  config?: string;
  redis?: string;
  redisPwd?: string;
  redisDb?: number;
  redisSentinels?: string;
  redisMasterName: string;
  redisSentinelPwd?: string;
  etcd?: string;
  etcdPrefix: string;
  etcdUser?: string;
  etcdPassword?: string;
  storeRefresh: number;
  storeTimeout: number;
}

/** Picks the store from the flags: one of --config, --redis / --redis-sentinels, --etcd. */
export function storeOptions(args: StoreArgs, configPath: string): ConfigStoreOptions {
  const redis = args.redis !== undefined || args.redisSentinels !== undefined;
  const etcd = args.etcd !== undefined;
  const chosen = [args.config !== undefined && '--config', redis && '--redis', etcd && '--etcd'].filter(Boolean);
  if (chosen.length > 1) throw new StoreAddressError(`choose one config store, not ${chosen.join(' and ')}`);
  if (!(args.storeRefresh > 0)) throw new StoreAddressError('--store-refresh must be a positive number of seconds');
  if (!(args.storeTimeout > 0)) throw new StoreAddressError('--store-timeout must be a positive number of seconds');
  const timings = { refreshSeconds: args.storeRefresh, connectTimeoutMs: Math.round(args.storeTimeout * 1000) };
  if (redis) {
    const address = args.redis !== undefined ? parseRedisAddress(args.redis) : { host: '127.0.0.1', port: 6379, tls: false };
    const db = args.redisDb ?? ('db' in address ? address.db : undefined) ?? 0;
    if (!Number.isInteger(db) || db < 0) throw new StoreAddressError('--redis-db must be a database index (0, 1, …)');
    return {
      kind: 'redis',
      ...timings,
      host: address.host,
      port: address.port,
      tls: address.tls,
      username: 'username' in address ? address.username : undefined,
      password: args.redisPwd || ('password' in address ? address.password : undefined) || undefined,
      db,
      sentinels: args.redisSentinels !== undefined ? parseSentinels(args.redisSentinels) : undefined,
      masterName: args.redisMasterName,
      sentinelPassword: args.redisSentinelPwd || undefined,
    };
  }
  if (etcd) {
    return {
      kind: 'etcd',
      ...timings,
      hosts: parseEtcdHosts(args.etcd!),
      prefix: normalizeEtcdPrefix(args.etcdPrefix),
      username: args.etcdUser || undefined,
      password: args.etcdPassword || undefined,
    };
  }
  return { kind: 'file', path: configPath };
}
