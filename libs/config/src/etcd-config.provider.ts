import { Logger } from '@nestjs/common';
import { ExponentialBackoff, handleWhen, type IBackoff, noop, retry } from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, isRecoverableError, type Lease, type Watcher } from 'etcd3';
import { Subject, type Observable } from 'rxjs';
import type { ClusterConfig } from './cluster-config';
import { ConfigValidationError } from './cluster-config.schema';
import { ConfigProvider } from './config.provider';
import { MembershipStore, parseMemberRecord, type ProxyMember } from './membership';
import { keepaliveOnce } from './etcd-lease';
import { EtcdSentinelStore } from './etcd-sentinel.store';
import type { SentinelStore } from './sentinel-store';
import { StoreUnavailableError, withTimeout } from './store-errors';
import { configFromEtcdKeys, ETCD_MEMBERS_DIR, ETCD_RUNTIME_DIR, fingerprint } from './store-layout';
import { describeStore, type EtcdStoreOptions } from './store-options';

/**
 * Config in etcd: `<prefix>backends/<name>`, `<prefix>keymaps/<measurement>`, `<prefix>proxies/<name>`,
 * each a JSON value. A watch on the prefix notices changes at once (several keys written in one
 * transaction arrive together and are applied as one config); a slow periodic re-read and a re-read
 * on every reconnect are the safety net. While etcd is unreachable the proxy keeps its last good config.
 */
export class EtcdConfigProvider extends ConfigProvider {
  private readonly logger = new Logger(EtcdConfigProvider.name);
  private readonly client: Etcd3;
  private readonly changes = new Subject<ClusterConfig>();
  private readonly members: EtcdMembershipStore;
  private readonly sentinelStore: EtcdSentinelStore;
  private watcher?: Watcher;
  private lastSeen?: string;
  private refreshTimer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private checking = false;
  private checkAgain = false;
  private unreachable = false;
  private closed = false;

  constructor(private readonly options: EtcdStoreOptions) {
    super();
    this.client = new Etcd3({
      hosts: options.hosts,
      auth: options.username ? { username: options.username, password: options.password ?? '' } : undefined,
      dialTimeout: options.connectTimeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 5_000 }),
      faultHandling: {
        // no circuit breaker: after a restart the next call should go through at once
        host: () => noop,
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }),
        // etcd3 calls .next() on it to start each backoff: that is a factory, whatever its type says
        watchBackoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 2_000 }) as unknown as IBackoff<unknown>,
      },
    });
    this.members = new EtcdMembershipStore(this.client, options.prefix + ETCD_MEMBERS_DIR);
    this.sentinelStore = new EtcdSentinelStore(this.client, options.prefix);
  }

  async load(): Promise<ClusterConfig> {
    let kvs: Record<string, string>;
    try {
      kvs = await withTimeout(
        this.readKeys(),
        this.options.connectTimeoutMs,
        `no answer within ${this.options.connectTimeoutMs} ms`,
      );
    } catch (err) {
      this.closed = true;
      this.client.close();
      const why = (err as Error).message.replace(/[.\s]*Resolution note:\s*$/, '');
      throw new StoreUnavailableError(`cannot reach the config store ${this.where()}: ${why}`);
    }
    this.lastSeen = fingerprint(kvs);
    const config = configFromEtcdKeys(this.options.prefix, kvs, (msg) => this.logger.warn(msg));
    await this.startWatching();
    this.refreshTimer = setInterval(() => this.scheduleCheck(), this.options.refreshSeconds * 1000);
    this.refreshTimer.unref();
    return config;
  }

  watch(): Observable<ClusterConfig> {
    return this.changes.asObservable();
  }

  async reload(): Promise<ClusterConfig> {
    const kvs = await this.readKeys();
    this.lastSeen = fingerprint(kvs);
    return configFromEtcdKeys(this.options.prefix, kvs, (msg) => this.logger.warn(msg));
  }

  describe() {
    return describeStore(this.options);
  }

  override membership(): MembershipStore {
    return this.members;
  }

  override sentinels(): SentinelStore {
    return this.sentinelStore;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refreshTimer);
    clearTimeout(this.debounce);
    this.changes.complete();
    try {
      if (this.watcher) await withTimeout(this.watcher.cancel(), 1_000, 'watch cancel timed out');
    } catch {
      /* closing anyway */
    }
    this.client.close();
  }

  private where(): string {
    return `etcd ${this.options.hosts.join(',')} (prefix ${this.options.prefix})`;
  }

  /** The config keys under the prefix (runtime records left out). */
  private async readKeys(): Promise<Record<string, string>> {
    const all = await this.client.getAll().prefix(this.options.prefix).strings();
    const runtime = this.options.prefix + ETCD_RUNTIME_DIR;
    return Object.fromEntries(Object.entries(all).filter(([key]) => !key.startsWith(runtime)));
  }

  private async startWatching(): Promise<void> {
    const runtime = this.options.prefix + ETCD_RUNTIME_DIR;
    const watcher = await withTimeout(
      this.client.watch().prefix(this.options.prefix).create(),
      this.options.connectTimeoutMs,
      'starting the etcd watch timed out',
    );
    this.watcher = watcher;
    const onKey = (kv: { key: Buffer }) => {
      if (kv.key.toString('utf8').startsWith(runtime)) return; // heartbeats are no config change
      this.scheduleCheck();
    };
    watcher.on('put', onKey);
    watcher.on('delete', onKey);
    watcher.on('disconnected', (err: Error) => {
      if (this.closed || this.unreachable) return;
      this.unreachable = true;
      this.logger.warn(
        `config store ${this.where()} unreachable (${err.message}); serving with the last good config and reconnecting`,
      );
    });
    watcher.on('connected', () => {
      if (this.closed || !this.unreachable) return;
      this.unreachable = false;
      this.logger.log(`config store ${this.where()} reachable again: re-reading the config`);
      this.scheduleCheck();
    });
    watcher.on('error', (err: Error) => this.logger.warn(`etcd watch: ${err.message}`));
  }

  private scheduleCheck(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), 50);
  }

  private async check(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    try {
      let kvs: Record<string, string>;
      try {
        kvs = await this.readKeys();
      } catch (err) {
        this.logger.debug(`re-reading ${this.where()} failed: ${(err as Error).message}`);
        return;
      }
      const print = fingerprint(kvs);
      if (print === this.lastSeen) return;
      this.lastSeen = print;
      let config: ClusterConfig;
      try {
        config = configFromEtcdKeys(this.options.prefix, kvs, (msg) => this.logger.warn(msg));
      } catch (err) {
        if (!(err instanceof ConfigValidationError)) throw err;
        this.logger.error(`config in ${this.where()} refused, keeping the last good one: ${err.message}`);
        return;
      }
      this.logger.log(`config in ${this.where()} changed; applying it`);
      if (!this.closed) this.changes.next(config);
    } finally {
      this.checking = false;
      if (this.checkAgain) {
        this.checkAgain = false;
        this.scheduleCheck();
      }
    }
  }
}

/**
 * Membership records as `<prefix>runtime/proxies/<name>` attached to a lease of `ttl` seconds. Each
 * heartbeat keeps the lease alive and rewrites the record; a lease that etcd no longer knows (it
 * expired during an outage) is replaced by a new one.
 */
export class EtcdMembershipStore extends MembershipStore {
  readonly scope = 'store' as const;
  private lease?: Lease;
  private leaseTtl = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly dir: string,
  ) {
    super();
  }

  async heartbeat(member: ProxyMember): Promise<void> {
    const ttl = Math.max(1, Math.round(member.ttl));
    if (this.lease && this.leaseTtl === ttl) {
      try {
        await keepaliveOnce(this.lease);
      } catch (err) {
        if (!(err instanceof EtcdLeaseInvalidError) && !this.lease.revoked()) throw err;
        this.lease = undefined; // expired while we could not reach etcd: take a new one
      }
    }
    if (!this.lease || this.leaseTtl !== ttl) {
      const lease = this.client.lease(ttl, { autoKeepAlive: false });
      lease.on('lost', () => {
        if (this.lease === lease) this.lease = undefined;
      });
      await lease.grant();
      this.lease = lease;
      this.leaseTtl = ttl;
    }
    await this.lease.put(this.dir + member.name).value(JSON.stringify(member));
  }

  async leave(name: string): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await this.client.delete().key(this.dir + name);
    if (lease) await lease.revoke().catch(() => undefined);
  }

  async members(): Promise<ProxyMember[]> {
    const all = await this.client.getAll().prefix(this.dir).strings();
    return Object.values(all)
      .map(parseMemberRecord)
      .filter((m): m is ProxyMember => m !== null);
  }
}
