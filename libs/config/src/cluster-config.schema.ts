import { z } from 'zod';
import { DEFAULT_FORBIDDEN_STATEMENTS } from './cluster-config';

/** A config that cannot be used; the message names the offending field. */
export class ConfigValidationError extends Error {
  override readonly name = 'ConfigValidationError';
}

// config.py writes lower-case keys and Go matched them case-insensitively; we accept any case.
const flag = z.union([z.boolean(), z.number()]).transform((v) => Boolean(v));
const ms = z.number().int().positive();

/** One InfluxDB backend, as the Go proxy's config.py describes it (times in milliseconds). */
const backendSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    db: z.string().min(1),
    zone: z.string().default(''),
    /** Write request timeout. */
    timeout: ms.default(10000),
    /** Query request timeout. */
    timeoutQuery: ms.default(600000),
    /** Most lines in one batch sent to the backend. */
    maxRowLimit: ms.default(10000),
    /** Health-check period. */
    checkInterval: ms.default(1000),
    /** Replay pacing for the spool. */
    rewriteInterval: ms.default(10000),
    /** Write-only backends never answer queries. */
    writeOnly: flag.default(false),
    /**
     * For a proxy serving several `databases`: client db → the db it is written to and read from on this
     * backend (a client db not named here keeps its name). Unused by a proxy without `databases`, which
     * always writes into `db`.
     */
    dbMap: z.record(z.string().min(1), z.string().min(1)).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    /**
     * PEM file of the CA(s) that sign an https:// backend's certificate; replaces Node's bundled CAs for
     * this backend. Verification is never switched off.
     */
    caFile: z.string().min(1).optional(),
    /** gzip bodies sent to this backend. */
    gzip: flag.default(false),
    /**
     * The Go proxy's flush interval, in ms: on a proxy in `ackMode: buffered`, how long a batch that is
     * not full gathers writes before it is sent (it leaves sooner at 16 KiB, maxRowLimit or maxBatchBytes). A durable
     * proxy never waits: its 204 waits for the send. Absent: no wait in either mode.
     */
    interval: z.number().int().min(0).max(60_000).optional(),
    /** Write batches in flight at once toward this backend. */
    concurrency: z.number().int().min(1).max(256).default(4),
    /** Cap of this backend's spool on disk, in bytes; a full spool answers 503. */
    spoolMaxBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024 * 1024),
    /** Consecutive failed health checks that mark the backend down (a failed write does at once). */
    downAfter: z.number().int().min(1).default(3),
    /** Consecutive successful health checks that bring it back up. */
    upAfter: z.number().int().min(1).default(2),
    /** Cap on lines replayed from the spool per second (0: one record in flight is the only limit). */
    replayLinesPerSecond: z.number().nonnegative().default(0),
    /**
     * Most bytes of one batch the proxy builds from several requests (a request larger than this goes
     * alone); under the backend's `max-body-size`, so merged batches are never answered 413.
     * influxd's [http] max-body-size is 25 000 000 bytes by default: stay well under it.
     */
    maxBatchBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(16 * 1024 * 1024),
    /** Cap of the backend's rejected-record store (records it refused for good on replay), in bytes. */
    rejectedMaxBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024),
  })
  .superRefine((b, ctx) => {
    if (b.caFile !== undefined && !b.url.startsWith('https:')) {
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'only for https:// backends' });
    }
  });

/**
 * What validation needs from the rest of the product, handed in by the app so this lib depends on
 * neither the InfluxQL parser nor the password hashing.
 */
export interface ConfigRules {
  /** The statement kinds a proxy's `forbiddenStatements` may name (as @app/influxql classifies them, e.g. `drop-database`). */
  readonly statementKinds: readonly string[];
  /**
   * Throws an Error saying what is wrong with a user's stored password hash (one the proxy could not
   * verify a password against); its message becomes the validation message, so it must never echo the hash.
   */
  readonly checkPasswordHash: (hash: string) => unknown;
}

/** A proxy user; `hash` is an scrypt PHC string (bin/influxdb-proxy-passwd makes one) that must parse. */
function userSchemaFor(rules: ConfigRules) {
  return z.object({
    hash: z.string().superRefine((hash, ctx) => {
      try {
        rules.checkPasswordHash(hash);
      } catch (err) {
        if (!(err instanceof Error)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
      }
    }),
    /** Admins may use /reload (and /meta, /metrics with metaAuthEnabled). */
    admin: flag.default(false),
  });
}

/** User entries take `hash` and `admin` in any case, like every other config key. */
function lowerKeys(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
}

interface ProxySecurityFields {
  users: Record<string, unknown>;
  authEnabled: boolean;
  tlsCert?: string;
  tlsKey?: string;
  headersTimeout: number;
  requestTimeout: number;
}

/** Settings of a proxy that only make sense together. */
function checkProxySecurity(p: ProxySecurityFields, ctx: z.RefinementCtx): void {
  for (const name of Object.keys(p.users)) {
    // Basic and Token credentials end the user name at the first colon
    if (name.includes(':')) ctx.addIssue({ code: 'custom', path: ['users', name], message: 'a user name cannot contain ":"' });
  }
  if (p.authEnabled && Object.keys(p.users).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['users'], message: 'authEnabled needs at least one user' });
  }
  if ((p.tlsCert === undefined) !== (p.tlsKey === undefined)) {
    const missing = p.tlsCert === undefined ? 'tlsCert' : 'tlsKey';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'tlsCert and tlsKey go together' });
  }
  if (p.headersTimeout > p.requestTimeout) {
    ctx.addIssue({ code: 'custom', path: ['headersTimeout'], message: 'cannot be longer than requestTimeout' });
  }
}

/** One proxy node, chosen with --node. */
function proxySchemaFor(rules: ConfigRules) {
  return z
    .object({
      listenAddr: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]*):\d{1,5}$/, 'must be host:port'),
      /** When set, clients must use this db name. */
      db: z.string().default(''),
      /**
       * The databases this proxy serves (a list, or "*" for any): the client's db is used on the backends
       * as is (or as a backend's `dbMap` maps it) instead of each backend's `db`. Absent: one database, as `db` says.
       */
      databases: z.union([z.literal('*'), z.array(z.string().min(1)).min(1)]).optional(),
      zone: z.string().default(''),
      /** Self-report period in seconds (0: no self-report). */
      interval: z.number().nonnegative().default(10),
      /** Idle keep-alive timeout for client connections, in seconds. */
      idleTimeout: z.number().positive().default(10),
      writeTracing: flag.default(false),
      queryTracing: flag.default(false),
      /**
       * /query statement kinds (as @app/influxql names them, e.g. `drop-database`) that make the proxy refuse
       * the whole request with 400 before any backend sees any of its statements.
       */
      forbiddenStatements: z
        .array(z.enum(rules.statementKinds, { error: (issue) => `unknown statement kind ${JSON.stringify(issue.input)}` }))
        .default(() => DEFAULT_FORBIDDEN_STATEMENTS.slice()),
      /** CREATE DATABASE / CREATE RETENTION POLICY run on every backend; when false they are refused. */
      fanoutCreate: flag.default(true),
      /** Query guard: most GROUP BY time() buckets one SELECT may ask for (0: no limit). */
      maxSelectBuckets: z.number().int().nonnegative().default(100_000),
      /** Query guard: most buckets all the SELECTs of one request may ask for together (0: no limit). */
      maxRequestBuckets: z.number().int().nonnegative().default(1_000_000),
      /**
       * Bytes of backend answers one /query request may hold for merging (answers the proxy builds: merged,
       * fanned out, CSV, several statements); past it a statement is answered with an error (0: no limit).
       */
      maxQueryAnswerBytes: z
        .number()
        .int()
        .nonnegative()
        .default(32 * 1024 * 1024),
      /** Query guard: refuse raw SELECTs that have neither a LIMIT nor a time bound. */
      maxUnboundedRawSelect: flag.default(false),
      /**
       * Prometheus remote read: seconds of range a query may span when it does not name its metric (no
       * `__name__` matcher, or only a regex one that matches every name); a longer one is refused (0: no limit).
       */
      promReadMaxRangeWithoutName: z.number().nonnegative().default(3600),
      /**
       * durable (default): 204 once every target backend acknowledged or the lines are fsynced in its spool.
       * buffered: 204 once the lines are parsed and queued (still spooled on failure, drained on shutdown).
       */
      ackMode: z.enum(['durable', 'buffered']).default('durable'),
      /**
       * Every `interval` seconds, write this proxy's counters as points to `selfReportMeasurement` through
       * its own write path (routed by the keymaps like any line). Off by default: it writes into users' databases.
       */
      selfReport: flag.default(false),
      selfReportMeasurement: z.string().min(1).default('influx_proxy'),
      /** Users allowed in when `authEnabled`, by name. */
      users: z.record(z.string().min(1), z.preprocess(lowerKeys, userSchemaFor(rules))).default({}),
      /** Requests must authenticate as one of `users` (as influxd's auth-enabled). */
      authEnabled: flag.default(false),
      /** /ping and /health need a user too (as influxd's ping-auth-enabled); only with authEnabled. */
      pingAuthEnabled: flag.default(false),
      /** /meta and /metrics need an admin user; only with authEnabled (/reload always needs one then). */
      metaAuthEnabled: flag.default(false),
      /** PEM certificate chain and private key files: the listener speaks HTTPS. Re-read on a config reload. */
      tlsCert: z.string().min(1).optional(),
      tlsKey: z.string().min(1).optional(),
      /** Seconds a client may take to send a request's headers (and to finish a TLS handshake). */
      headersTimeout: z.number().positive().default(10),
      /** Seconds a client may take to send a whole request, body included. */
      requestTimeout: z.number().positive().default(300),
      /** Requests served at once (/ping, /health and /metrics not counted); more are answered 503. */
      maxConcurrentRequests: z.number().int().positive().default(1024),
      /**
       * Bytes of write bodies held in memory (received, or batched and waiting for backends); a write that
       * would pass it is answered 503 until the backends catch up.
       */
      maxBufferedWriteBytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1024 * 1024),
      /**
       * Slowest average rate (bytes/s) a write body may arrive at once 10 s have passed; slower ones get
       * 408 and a closed connection (0: off, leaving only requestTimeout).
       */
      minBodyRate: z.number().int().nonnegative().default(1024),
      /**
       * Connections open at once from one client address (0: no cap); more are closed as they arrive.
       * One address cannot then take the process's file descriptors from everyone else.
       */
      maxConnectionsPerAddress: z.number().int().nonnegative().default(256),
      /**
       * Failed password checks one client address may make in a burst; past it, requests from that
       * address whose credentials are not already known to be good get 401 at once, without a check.
       */
      authFailureBurst: z.number().int().positive().default(10),
      /** How fast that allowance comes back, in failed checks per minute. */
      authFailuresPerMinute: z.number().positive().default(30),
    })
    .superRefine(checkProxySecurity);
}

/** One InfluxDB backend, as validated: defaults applied, keys in the schema's spelling. */
export type BackendConfig = z.output<typeof backendSchema>;
/** One proxy node, as validated. */
export type ProxyNodeConfig = z.output<ReturnType<typeof proxySchemaFor>>;
/** A proxy user, as validated. */
export type ProxyUser = z.output<ReturnType<typeof userSchemaFor>>;

/** A validated cluster configuration: what every config store (file, Redis, etcd) yields. */
export interface ClusterConfig {
  backends: Record<string, BackendConfig>;
  /**
   * Keymap key → backend names; `_default_` catches the rest. A key is `measurement`, or with a proxy
   * serving several databases also `db.measurement` and `db._default_`.
   */
  keymaps: Record<string, string[]>;
  /** Keymap key → group names: the keymaps written `{"hash": [groups]}` (absent from `keymaps`). */
  hashKeymaps?: Record<string, string[]>;
  /** Group name → backend names (replicas). */
  groups?: Record<string, string[]>;
  proxies: Record<string, ProxyNodeConfig>;
}

/** A keymap value: backend names, or `{"hash": [group names]}` (one group per measurement, by consistent hash). */
const keymapTargetSchema = z.union([z.array(z.string().min(1)).min(1), z.strictObject({ hash: z.array(z.string().min(1)).min(1) })]);

const clusterSchema = z.object({
  backends: z.record(z.string().min(1), z.unknown()),
  /** `measurement`, `db.measurement`, `db._default_` or `_default_` → backend names or `{"hash": [groups]}`. */
  keymaps: z.record(z.string(), keymapTargetSchema).default({}),
  proxies: z.record(z.string().min(1), z.unknown()).default({}),
  /** Group name → backend names (replicas): what a hash keymap spreads measurements over. */
  groups: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).default({}),
});

/**
 * Validates a raw config document and applies the Go proxy's defaults, with the app's `rules` for the
 * fields this lib cannot judge alone. Unknown fields are reported through `warn` and ignored; anything
 * invalid throws ConfigValidationError.
 */
export function parseClusterConfig(raw: unknown, rules: ConfigRules, warn: (msg: string) => void = () => {}): ClusterConfig {
  const top = check(clusterSchema, raw, '');
  const backends: Record<string, BackendConfig> = {};
  for (const [name, value] of Object.entries(top.backends)) {
    const path = `backends.${name}`;
    backends[name] = check(backendSchema, canonicalKeys(backendSchema, value, path, warn), path);
  }
  const proxySchema = proxySchemaFor(rules);
  const proxies: Record<string, ProxyNodeConfig> = {};
  for (const [name, value] of Object.entries(top.proxies)) {
    proxies[name] = check(proxySchema, canonicalKeys(proxySchema, value, `proxies.${name}`, warn), `proxies.${name}`);
  }
  for (const [group, names] of Object.entries(top.groups)) {
    for (const name of names) {
      if (!backends[name]) throw new ConfigValidationError(`groups.${group}: unknown backend "${name}"`);
    }
  }
  // explicit lists stay in `keymaps` (their consumers read them as before); hash entries go to `hashKeymaps`
  const keymaps: Record<string, string[]> = {};
  const hashKeymaps: Record<string, string[]> = {};
  for (const [key, target] of Object.entries(top.keymaps)) {
    if (Array.isArray(target)) {
      for (const name of target) {
        if (!backends[name]) throw new ConfigValidationError(`keymaps.${key}: unknown backend "${name}"`);
      }
      keymaps[key] = target;
    } else {
      for (const group of target.hash) {
        if (!top.groups[group]) throw new ConfigValidationError(`keymaps.${key}.hash: unknown group "${group}"`);
      }
      hashKeymaps[key] = [...new Set(target.hash)];
    }
  }
  if (raw && typeof raw === 'object') {
    for (const key of Object.keys(raw)) {
      if (!(key in clusterSchema.shape)) warn(`unknown config field "${key}" ignored`);
    }
  }
  return { backends, keymaps, hashKeymaps, groups: top.groups, proxies };
}

function check<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = [path, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  throw new ConfigValidationError(`${where || 'config'}: ${issue.message}`);
}

/** Maps keys to the schema's spelling regardless of case; drops (and reports) the ones it does not know. */
function canonicalKeys(schema: z.ZodObject, value: unknown, path: string, warn: (msg: string) => void): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const known = new Map(Object.keys(schema.shape).map((k) => [k.toLowerCase(), k]));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const canonical = known.get(key.toLowerCase());
    if (canonical) out[canonical] = v;
    else warn(`unknown field "${path}.${key}" ignored`);
  }
  return out;
}
