import type { ClusterConfig, ConfigRules } from '@app/config';
import { loggerFor } from '@app/logging';
import Redis, { type RedisOptions } from 'ioredis';
import { MembershipStore, ownerToken, parseMemberRecord, type ProxyMember } from './membership';
import { RedisJobStore } from './job-store.redis';
import { DELETE_IF_OWNER, RedisSentinelStore } from './redis-sentinel.store';
import { StoreConfigProvider } from './store-config.provider';
import { StoreUnavailableError, withTimeout } from './store-errors';
import {
  configFromRedisHashes,
  REDIS_BACKENDS_KEY,
  REDIS_GROUPS_KEY,
  REDIS_CONFIG_CHANNEL,
  REDIS_KEYMAPS_KEY,
  REDIS_MEMBER_PREFIX,
  REDIS_PROXIES_KEY,
  type RedisConfigHashes,
} from './store-layout';
import { describeStore, type RedisStoreOptions } from './store-options';

/**
 * The Go proxy's Redis layout: hashes `b:`, `m:`, `n:` written by config.py. A change is noticed through
 * a pub/sub message on REDIS_CONFIG_CHANNEL (config.py and POST /reload publish one), on every
 * reconnect, and by a slow periodic re-read as a safety net. While Redis is unreachable the proxy
 * keeps its last good config and ioredis reconnects by itself.
 */
export class RedisConfigProvider extends StoreConfigProvider<RedisConfigHashes> {
  protected readonly logger = loggerFor(RedisConfigProvider.name);
  private readonly client: Redis;
  private subscriber?: Redis;
  protected readonly members: RedisMembershipStore;
  protected readonly sentinelStore: RedisSentinelStore;
  protected readonly jobStore: RedisJobStore;
  private readonly address: string;
  private refreshTimer?: NodeJS.Timeout;
  private unreachable = false;
  private lastError?: Error;
  /** Marks this process's own announcements, which it need not act on. */
  private readonly instance = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

  constructor(
    protected readonly options: RedisStoreOptions,
    protected readonly rules: ConfigRules,
  ) {
    super();
    this.address = describeStore(options).address;
    this.client = new Redis(clientOptions(options));
    this.client.on('error', (err: Error) => this.onConnectionError(err));
    this.client.on('ready', () => this.onReady('config'));
    this.members = new RedisMembershipStore(this.client);
    this.sentinelStore = new RedisSentinelStore(this.client);
    this.jobStore = new RedisJobStore(this.client);
  }

  async load(): Promise<ClusterConfig> {
    await this.connect();
    const config = await this.readNow();
    await this.subscribe();
    this.refreshTimer = setInterval(() => this.scheduleCheck(), this.options.refreshSeconds * 1000);
    this.refreshTimer.unref();
    return config;
  }

  async reload(): Promise<ClusterConfig> {
    const config = await this.readNow();
    // tell the other proxies; our own subscriber hears it too and finds nothing new
    this.client
      .publish(REDIS_CONFIG_CHANNEL, JSON.stringify({ db: this.options.db, by: 'reload', from: this.instance }))
      .catch((err: Error) => this.logger.warn(`could not announce the reload on ${REDIS_CONFIG_CHANNEL}: ${err.message}`));
    return config;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopChecking();
    clearInterval(this.refreshTimer);
    this.subscriber?.disconnect();
    try {
      if (this.client.status === 'ready') await withTimeout(this.client.quit(), 1_000, 'quit timed out');
    } catch {
      /* closing anyway */
    }
    this.client.disconnect();
  }

  protected where(): string {
    return `Redis ${this.address}`;
  }

  protected configFrom(hashes: RedisConfigHashes): ClusterConfig {
    return configFromRedisHashes(hashes, this.where(), this.rules, (msg) => this.logger.warn(msg));
  }

  /** Start-up: connect within connectTimeoutMs or fail with a message saying where and why. */
  private async connect(): Promise<void> {
    try {
      await withTimeout(this.client.connect(), this.options.connectTimeoutMs, `no answer within ${this.options.connectTimeoutMs} ms`);
      // connect() resolves on "connect"; wait for "ready" (AUTH and SELECT done) as well
      if (this.client.status !== 'ready') {
        await withTimeout(
          new Promise<void>((resolve) => this.client.once('ready', () => resolve())),
          this.options.connectTimeoutMs,
          `no answer within ${this.options.connectTimeoutMs} ms`,
        );
      }
    } catch (err) {
      const why = this.lastError?.message ?? (err as Error).message;
      this.closed = true;
      this.client.disconnect();
      throw new StoreUnavailableError(`cannot reach the config store ${this.where()}: ${why}`);
    }
    this.unreachable = false;
  }

  private async subscribe(): Promise<void> {
    const sub = this.client.duplicate();
    this.subscriber = sub;
    sub.on('error', () => {
      /* the main connection logs outages */
    });
    sub.on('ready', () => this.onReady('subscriber'));
    sub.on('message', (channel: string, message: string) => {
      if (channel !== REDIS_CONFIG_CHANNEL) return;
      if (!this.isForOurDb(message)) return;
      this.logger.log(`config change announced on ${REDIS_CONFIG_CHANNEL}: re-reading ${this.where()}`);
      this.scheduleCheck();
    });
    await withTimeout(sub.subscribe(REDIS_CONFIG_CHANNEL), this.options.connectTimeoutMs, 'SUBSCRIBE timed out');
  }

  /** Pub/sub is server-wide: a message names the database index it is about (and who sent it). */
  private isForOurDb(message: string): boolean {
    try {
      const parsed = JSON.parse(message) as { db?: unknown; from?: unknown };
      if (parsed?.from === this.instance) return false;
      return parsed?.db === undefined || Number(parsed.db) === this.options.db;
    } catch {
      return true;
    }
  }

  protected async readStore(): Promise<RedisConfigHashes> {
    const replies = await this.client
      .multi()
      .hgetall(REDIS_BACKENDS_KEY)
      .hgetall(REDIS_KEYMAPS_KEY)
      .hgetall(REDIS_PROXIES_KEY)
      .hgetall(REDIS_GROUPS_KEY)
      .exec();
    if (!replies) throw new Error('MULTI/EXEC was aborted');
    const values = replies.map(([err, value]) => {
      if (err) throw err;
      return (value ?? {}) as Record<string, string>;
    });
    // no groups: left out, so a store without them has the same fingerprint as before
    const groups = Object.keys(values[3]).length > 0 ? { groups: values[3] } : {};
    return { backends: values[0], keymaps: values[1], proxies: values[2], ...groups };
  }

  private onConnectionError(err: Error): void {
    this.lastError = err;
    if (this.closed || this.unreachable || this.lastSeen === undefined) return;
    this.unreachable = true;
    this.logger.warn(`config store ${this.where()} unreachable (${err.message}); serving with the last good config and reconnecting`);
  }

  private onReady(which: 'config' | 'subscriber'): void {
    if (this.closed || this.lastSeen === undefined) return;
    if (which === 'config' && this.unreachable) {
      this.unreachable = false;
      this.logger.log(`config store ${this.where()} reachable again: re-reading the config`);
    }
    // a change may have been made (or announced) while we were away
    this.scheduleCheck();
  }
}

/**
 * Membership records as `influxdb-proxy:member:<name>` string keys that expire after their TTL, each
 * stamped with this process's owner token; leave() deletes a record only if it still carries it.
 */
export class RedisMembershipStore extends MembershipStore {
  readonly scope = 'store' as const;
  private readonly owner = ownerToken();

  constructor(private readonly client: Redis) {
    super();
  }

  async heartbeat(member: ProxyMember): Promise<void> {
    const record = JSON.stringify({ ...member, owner: this.owner });
    await this.client.set(REDIS_MEMBER_PREFIX + member.name, record, 'PX', Math.round(member.ttl * 1000));
  }

  async leave(name: string): Promise<void> {
    await this.client.eval(DELETE_IF_OWNER, 1, REDIS_MEMBER_PREFIX + name, this.owner);
  }

  async members(): Promise<ProxyMember[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', `${REDIS_MEMBER_PREFIX}*`, 'COUNT', 200);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.client.mget(...new Set(keys));
    return values.map(parseMemberRecord).filter((m): m is ProxyMember => m !== null);
  }
}

/** ioredis options for a store (the admin CLI writes keymaps with its own connection). */
function clientOptions(options: RedisStoreOptions): RedisOptions {
  const common: RedisOptions = {
    lazyConnect: true,
    username: options.username,
    password: options.password,
    db: options.db,
    connectionName: 'influxdb-proxy',
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: 5_000,
    // a command during an outage fails soon instead of queueing forever; the next heartbeat or re-read retries
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
  };
  if (options.sentinels?.length) {
    return {
      ...common,
      sentinels: options.sentinels,
      name: options.masterName ?? 'mymaster',
      sentinelPassword: options.sentinelPassword,
      sentinelRetryStrategy: (times) => Math.min(100 * times, 2_000),
    };
  }
  return { ...common, host: options.host, port: options.port, tls: options.tls ? {} : undefined };
}
export const redisClientOptions = clientOptions;
