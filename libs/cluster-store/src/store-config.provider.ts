import { type ClusterConfig, ConfigProvider, type ConfigRules, ConfigValidationError } from '@app/config';
import type { ContextLogger } from '@app/logging';
import { Subject, type Observable } from 'rxjs';
import type { JobStore } from './job-store';
import type { MembershipStore } from './membership';
import type { SentinelStore } from './sentinel-store';
import { fingerprint } from './store-layout';
import { describeStore, type EtcdStoreOptions, type RedisStoreOptions } from './store-options';

/**
 * What the Redis and etcd providers share: the store is re-read (debounced: a burst of change
 * notices is one read, and a notice during a read means one more read after it), and a config is
 * applied only when the store's content changed and validates; a refused one is logged once and the
 * last good config stays. `Raw` is the store's content as read.
 */
export abstract class StoreConfigProvider<Raw> extends ConfigProvider {
  protected abstract readonly logger: ContextLogger;
  protected abstract readonly options: RedisStoreOptions | EtcdStoreOptions;
  /** What validation takes from the app (statement kinds, password hash check). */
  protected abstract readonly rules: ConfigRules;
  /** Membership records and the sentinels' records live in the same store. */
  protected abstract readonly members: MembershipStore;
  protected abstract readonly sentinelStore: SentinelStore;
  /** Data-movement jobs live in the same store. */
  protected abstract readonly jobStore: JobStore;
  private readonly changes = new Subject<ClusterConfig>();
  /** Fingerprint of the store contents last looked at (applied, or refused and logged once). */
  protected lastSeen?: string;
  protected closed = false;
  private debounce?: NodeJS.Timeout;
  private checking = false;
  private checkAgain = false;

  /** Reads the config's part of the store. */
  protected abstract readStore(): Promise<Raw>;

  /** The config the content stands for; throws ConfigValidationError when it is not a valid one. */
  protected abstract configFrom(raw: Raw): ClusterConfig;

  /** Where the config lives, for log lines and errors. */
  protected abstract where(): string;

  watch(): Observable<ClusterConfig> {
    return this.changes.asObservable();
  }

  describe() {
    return describeStore(this.options);
  }

  /** Where proxies register themselves: beside the config, under keys that cannot collide with it. */
  membership(): MembershipStore {
    return this.members;
  }

  /**
   * Where sentinels elect their leader and publish backend health and replay slots, and where proxies
   * read them: beside the config (runtime keys with TTLs or leases).
   */
  sentinels(): SentinelStore {
    return this.sentinelStore;
  }

  /** Where data-movement jobs are recorded: beside the config (a Redis hash, etcd keys under `runtime/jobs/`). */
  jobs(): JobStore {
    return this.jobStore;
  }

  /** Reads the store now (start-up, POST /reload): its config, and the content is remembered as seen. */
  protected async readNow(): Promise<ClusterConfig> {
    return this.adopt(await this.readStore());
  }

  /** Remembers `raw` as seen and returns its config. */
  protected adopt(raw: Raw): ClusterConfig {
    this.lastSeen = fingerprint(raw);
    return this.configFrom(raw);
  }

  /** A change may have happened: re-read soon. */
  protected scheduleCheck(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), 50);
  }

  /** No more reads or changes (close()). */
  protected stopChecking(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    this.changes.complete();
  }

  private async check(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    try {
      let raw: Raw;
      try {
        raw = await this.readStore();
      } catch (err) {
        this.logger.debug(`re-reading ${this.where()} failed: ${(err as Error).message}`);
        return;
      }
      const print = fingerprint(raw);
      if (print === this.lastSeen) return;
      this.lastSeen = print;
      let config: ClusterConfig;
      try {
        config = this.configFrom(raw);
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
