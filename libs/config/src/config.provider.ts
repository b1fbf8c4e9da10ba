import type { Observable } from 'rxjs';
import type { ClusterConfig } from './cluster-config';
import { InProcessMembershipStore, type MembershipStore } from './membership';
import { InProcessSentinelStore, type SentinelStore } from './sentinel-store';

/** Where the cluster configuration lives: the file, Redis or etcd. Also the injection token. */
export abstract class ConfigProvider {
  /** Reads and validates the configuration; throws when it is missing or invalid. */
  abstract load(): Promise<ClusterConfig>;
  /** Every new valid configuration the store notices by itself after load(); invalid ones are logged and skipped. */
  abstract watch(): Observable<ClusterConfig>;
  /** Re-reads now (POST /reload) and resolves with it for the caller to apply, or rejects with why it is invalid. */
  abstract reload(): Promise<ClusterConfig>;
  /** What /meta shows about the store. */
  abstract describe(): { kind: string; address: string };
  abstract close(): Promise<void>;

  private inProcessMembers?: MembershipStore;
  /**
   * Where proxies register themselves. Stores shared by several proxies (Redis, etcd) keep the records
   * beside the config under keys that cannot collide with it; the default is this process alone.
   */
  membership(): MembershipStore {
    return (this.inProcessMembers ??= new InProcessMembershipStore());
  }

  private inProcessSentinels?: SentinelStore;
  /**
   * Where sentinels elect their leader and publish backend health and replay slots, and where proxies
   * read them. Redis and etcd keep them beside the config (runtime keys with TTLs or leases); the
   * default is this process alone (the file store shares nothing).
   */
  sentinels(): SentinelStore {
    return (this.inProcessSentinels ??= new InProcessSentinelStore());
  }
}
