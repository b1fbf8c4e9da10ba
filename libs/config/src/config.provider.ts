import type { Observable } from 'rxjs';
import type { ClusterConfig } from './cluster-config.schema';

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
}
