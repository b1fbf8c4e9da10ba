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
  /** Cap of this backend's spool on disk, in bytes; a full spool answers 503. */
  spoolMaxBytes: number;
  /** Consecutive failed health checks that mark the backend down (a failed write does at once). */
  downAfter: number;
  /** Consecutive successful health checks that bring it back up. */
  upAfter: number;
  /** Cap on lines replayed from the spool per second (0: one record in flight is the only limit). */
  replayLinesPerSecond: number;
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
  /**
   * durable (default): 204 once every target backend acknowledged or the lines are fsynced in its spool.
   * buffered: 204 once the lines are parsed and queued (still spooled on failure, drained on shutdown).
   */
  ackMode: 'durable' | 'buffered';
  /**
   * /query statement kinds (as @app/influxql names them, e.g. `drop-database`) that make the proxy refuse
   * the whole request with 400 before any backend sees any of its statements.
   */
  forbiddenStatements: string[];
  /** CREATE DATABASE / CREATE RETENTION POLICY run on every backend; when false they are refused. */
  fanoutCreate: boolean;
  /** Query guard: most GROUP BY time() buckets one SELECT may ask for (0: no limit). */
  maxSelectBuckets: number;
  /** Query guard: refuse raw SELECTs that have neither a LIMIT nor a time bound. */
  maxUnboundedRawSelect: boolean;
}

export interface ClusterConfig {
  backends: Record<string, BackendConfig>;
  /** measurement → backend names; `_default_` catches the rest. */
  keymaps: Record<string, string[]>;
  proxies: Record<string, ProxyNodeConfig>;
}

export const DEFAULT_KEYMAP = '_default_';

/** Statements /query refuses unless the proxy's config says otherwise. */
export const DEFAULT_FORBIDDEN_STATEMENTS: readonly string[] = Object.freeze([
  'delete',
  'drop-continuous-query',
  'drop-database',
  'drop-measurement',
  'drop-retention-policy',
  'drop-series',
  'drop-shard',
  'drop-subscription',
  'drop-user',
  'grant',
  'revoke',
  'alter-retention-policy',
  'kill-query',
  'set-password',
  'create-user',
  'create-continuous-query',
  'create-subscription',
]);
