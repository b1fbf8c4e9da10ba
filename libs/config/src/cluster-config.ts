/** One InfluxDB backend, as the seed's config.py describes it (times in milliseconds). */
export interface BackendConfig {
  url: string;
  db: string;
  zone: string;
  /** Longest time a batch may wait before it is sent. */
  interval: number;
  /** Write request timeout. */
  timeout: number;
  /** Query request timeout. */
  timeoutQuery: number;
  /** Most lines in one batch sent to the backend. */
  maxRowLimit: number;
  /** Health-check period. */
  checkInterval: number;
  /** Replay pacing for the spool. */
  rewriteInterval: number;
  /** Write-only backends never answer queries. */
  writeOnly: boolean;
  username?: string;
  password?: string;
  /** gzip bodies sent to this backend. */
  gzip: boolean;
  /** Write batches in flight at once toward this backend. */
  concurrency: number;
}

/** One proxy node, chosen with --node. */
export interface ProxyNodeConfig {
  listenAddr: string;
  /** When set, clients must use this db name. */
  db: string;
  zone: string;
  /** Self-report period in seconds. */
  interval: number;
  /** Idle keep-alive timeout for client connections, in seconds. */
  idleTimeout: number;
  writeTracing: boolean;
  queryTracing: boolean;
}

export interface ClusterConfig {
  backends: Record<string, BackendConfig>;
  /** measurement → backend names; `_default_` catches the rest. */
  keymaps: Record<string, string[]>;
  proxies: Record<string, ProxyNodeConfig>;
}

export const DEFAULT_KEYMAP = '_default_';
