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
  /**
   * PEM file of the CA(s) that sign an https:// backend's certificate; replaces Node's bundled CAs for
   * this backend. Verification is never switched off.
   */
  caFile?: string;
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
  /**
   * Most bytes of one batch the proxy builds from several requests (a request larger than this goes
   * alone); under the backend's `max-body-size`, so merged batches are never answered 413.
   */
  maxBatchBytes: number;
  /** Cap of the backend's rejected-record store (records it refused for good on replay), in bytes. */
  rejectedMaxBytes: number;
}

/** One proxy node, chosen with --node. */
export interface ProxyNodeConfig {
  listenAddr: string;
  /** When set, clients must use this db name. */
  db: string;
  zone: string;
  /** Self-report period in seconds (0: no self-report). */
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
   * Every `interval` seconds, write this proxy's counters as points to `selfReportMeasurement` through
   * its own write path (routed by the keymaps like any line). Off by default: it writes into users' databases.
   */
  selfReport: boolean;
  selfReportMeasurement: string;
  /**
   * /query statement kinds (as @app/influxql names them, e.g. `drop-database`) that make the proxy refuse
   * the whole request with 400 before any backend sees any of its statements.
   */
  forbiddenStatements: string[];
  /** CREATE DATABASE / CREATE RETENTION POLICY run on every backend; when false they are refused. */
  fanoutCreate: boolean;
  /** Query guard: most GROUP BY time() buckets one SELECT may ask for (0: no limit). */
  maxSelectBuckets: number;
  /** Query guard: most buckets all the SELECTs of one request may ask for together (0: no limit). */
  maxRequestBuckets: number;
  /**
   * Bytes of backend answers one /query request may hold for merging (answers the proxy builds: merged,
   * fanned out, CSV, several statements); past it a statement is answered with an error (0: no limit).
   */
  maxQueryAnswerBytes: number;
  /** Query guard: refuse raw SELECTs that have neither a LIMIT nor a time bound. */
  maxUnboundedRawSelect: boolean;
  /** Users allowed in when `authEnabled`, by name. */
  users: Record<string, ProxyUser>;
  /** Requests must authenticate as one of `users` (as influxd's auth-enabled). */
  authEnabled: boolean;
  /** /ping and /health need a user too (as influxd's ping-auth-enabled); only with authEnabled. */
  pingAuthEnabled: boolean;
  /** /meta and /metrics need an admin user; only with authEnabled (/reload always needs one then). */
  metaAuthEnabled: boolean;
  /** PEM certificate chain and private key files: the listener speaks HTTPS. Re-read on a config reload. */
  tlsCert?: string;
  tlsKey?: string;
  /** Seconds a client may take to send a request's headers (and to finish a TLS handshake). */
  headersTimeout: number;
  /** Seconds a client may take to send a whole request, body included. */
  requestTimeout: number;
  /** Requests served at once (/ping, /health and /metrics not counted); more are answered 503. */
  maxConcurrentRequests: number;
  /**
   * Bytes of write bodies held in memory (received, or batched and waiting for backends); a write that
   * would pass it is answered 503 until the backends catch up.
   */
  maxBufferedWriteBytes: number;
  /**
   * Slowest average rate (bytes/s) a write body may arrive at once 10 s have passed; slower ones get
   * 408 and a closed connection (0: off, leaving only requestTimeout).
   */
  minBodyRate: number;
  /**
   * Connections open at once from one client address (0: no cap); more are closed as they arrive.
   * One address cannot then take the process's file descriptors from everyone else.
   */
  maxConnectionsPerAddress: number;
  /**
   * Failed password checks one client address may make in a burst; past it, requests from that
   * address whose credentials are not already known to be good get 401 at once, without a check.
   */
  authFailureBurst: number;
  /** How fast that allowance comes back, in failed checks per minute. */
  authFailuresPerMinute: number;
}

/** A proxy user; `hash` is an scrypt PHC string (bin/influxdb-proxy-passwd makes one). */
export interface ProxyUser {
  hash: string;
  /** Admins may use /reload (and /meta, /metrics with metaAuthEnabled). */
  admin: boolean;
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
