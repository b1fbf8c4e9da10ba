import type { ClusterConfig, ConfigRules } from '@app/config';
import { loggerFor } from '@app/logging';
import { ExponentialBackoff, handleWhen, type IBackoff, noop, retry } from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, isRecoverableError, type Lease, type Watcher } from 'etcd3';
import { MembershipStore, ownerToken, parseMemberRecord, type ProxyMember } from './membership';
import { deleteIfOnLease, keepaliveOnce } from './etcd-lease';
import { EtcdSentinelStore } from './etcd-sentinel.store';
import { EtcdJobStore } from './job-store.etcd';
import { StoreUnavailableError, withTimeout } from './store-errors';
import { configFromEtcdKeys, ETCD_MEMBERS_DIR, ETCD_RUNTIME_DIR } from './store-layout';
import { StoreConfigProvider } from './store-config.provider';
import type { EtcdStoreOptions } from './store-options';

/**
 * Config in etcd: `<prefix>backends/<name>`, `<prefix>keymaps/<measurement>`, `<prefix>proxies/<name>`,
 * each a JSON value. A watch on the prefix notices changes at once (several keys written in one
 * transaction arrive together and are applied as one config); a slow periodic re-read and a re-read
 * on every reconnect are the safety net. While etcd is unreachable the proxy keeps its last good config.
 */
export class EtcdConfigProvider extends StoreConfigProvider<Record<string, string>> {
  protected readonly logger = loggerFor(EtcdConfigProvider.name);
  private readonly client: Etcd3;
  protected readonly members: EtcdMembershipStore;
  protected readonly sentinelStore: EtcdSentinelStore;
  protected readonly jobStore: EtcdJobStore;
  private watcher?: Watcher;
  private refreshTimer?: NodeJS.Timeout;
  private unreachable = false;

  constructor(
    protected readonly options: EtcdStoreOptions,
    protected readonly rules: ConfigRules,
  ) {
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
    this.jobStore = new EtcdJobStore(this.client, options.prefix);
  }

  async load(): Promise<ClusterConfig> {
    let kvs: Record<string, string>;
    try {
      kvs = await withTimeout(this.readStore(), this.options.connectTimeoutMs, `no answer within ${this.options.connectTimeoutMs} ms`);
    } catch (err) {
      this.closed = true;
      this.client.close();
      const why = (err as Error).message.replace(/[.\s]*Resolution note:\s*$/, '');
      throw new StoreUnavailableError(`cannot reach the config store ${this.where()}: ${why}`);
    }
    const config = this.adopt(kvs);
    await this.startWatching();
    this.refreshTimer = setInterval(() => this.scheduleCheck(), this.options.refreshSeconds * 1000);
    this.refreshTimer.unref();
    return config;
  }

  async reload(): Promise<ClusterConfig> {
    return this.readNow();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopChecking();
    clearInterval(this.refreshTimer);
    try {
      if (this.watcher) await withTimeout(this.watcher.cancel(), 1_000, 'watch cancel timed out');
    } catch {
      /* closing anyway */
    }
    this.client.close();
  }

  protected where(): string {
    return `etcd ${this.options.hosts.join(',')} (prefix ${this.options.prefix})`;
  }

  protected configFrom(kvs: Record<string, string>): ClusterConfig {
    return configFromEtcdKeys(this.options.prefix, kvs, this.rules, (msg) => this.logger.warn(msg));
  }

  /** The config keys under the prefix (runtime records left out). */
  protected async readStore(): Promise<Record<string, string>> {
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
      this.logger.warn(`config store ${this.where()} unreachable (${err.message}); serving with the last good config and reconnecting`);
    });
    watcher.on('connected', () => {
      if (this.closed || !this.unreachable) return;
      this.unreachable = false;
      this.logger.log(`config store ${this.where()} reachable again: re-reading the config`);
      this.scheduleCheck();
    });
    watcher.on('error', (err: Error) => this.logger.warn(`etcd watch: ${err.message}`));
  }
}

/**
 * Membership records as `<prefix>runtime/proxies/<name>` attached to a lease of `ttl` seconds. Each
 * heartbeat keeps the lease alive and rewrites the record; a lease that etcd no longer knows (it
 * expired during an outage) is replaced by a new one. leave() deletes the record only while it rides on
 * this process's lease (a second process under the same name has its own), then revokes the lease.
 */
export class EtcdMembershipStore extends MembershipStore {
  readonly scope = 'store' as const;
  private readonly owner = ownerToken();
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
    await this.lease.put(this.dir + member.name).value(JSON.stringify({ ...member, owner: this.owner }));
  }

  async leave(name: string): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await deleteIfOnLease(this.client, this.dir + name, lease);
  }

  async members(): Promise<ProxyMember[]> {
    const all = await this.client.getAll().prefix(this.dir).strings();
    return Object.values(all)
      .map(parseMemberRecord)
      .filter((m): m is ProxyMember => m !== null);
  }
}
