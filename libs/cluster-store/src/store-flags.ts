/**
 * The command-line flags that choose the config store, shared by bin/influxdb-proxy and
 * bin/influxdb-sentinel: both apps add them to their yargs parser with withStoreFlags() and turn the
 * parsed values into ConfigStoreOptions with storeOptions(). Nothing here reads the environment.
 */
import type { Argv } from 'yargs';
import {
  type ConfigStoreOptions,
  DEFAULT_ETCD_PREFIX,
  normalizeEtcdPrefix,
  parseEtcdHosts,
  parseRedisAddress,
  parseSentinels,
  StoreAddressError,
} from './store-options';

/** Adds --config, --redis (and its companions), --etcd (and its companions), --store-refresh, --store-timeout. */
export function withStoreFlags<T>(argv: Argv<T>) {
  return argv
    .option('config', {
      type: 'string',
      description: 'cluster config JSON file (the default store, unless --redis or --etcd is given)',
      defaultDescription: '<install dir>/config.json',
    })
    .option('redis', {
      type: 'string',
      description: 'config in Redis at host:port or redis://[user:pwd@]host:port[/db] (Go proxy layout: hashes b: m: n:)',
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
    });
}

/** What withStoreFlags() parses (camel-cased by yargs). */
export interface StoreArgs {
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
