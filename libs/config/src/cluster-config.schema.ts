import { PasswordHashFormatError, parsePasswordHash } from '@app/auth';
import { STATEMENT_KINDS, type StatementKind } from '@app/influxql';
import { z } from 'zod';
import {
  type BackendConfig,
  type ClusterConfig,
  DEFAULT_FORBIDDEN_STATEMENTS,
  type ProxyNodeConfig,
} from './cluster-config';

/** A config that cannot be used; the message names the offending field. */
export class ConfigValidationError extends Error {
  override readonly name = 'ConfigValidationError';
}

// config.py writes lower-case keys and Go matched them case-insensitively; we accept any case.
const flag = z.union([z.boolean(), z.number()]).transform((v) => Boolean(v));
const ms = z.number().int().positive();

const backendSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  db: z.string().min(1),
  zone: z.string().default(''),
  interval: ms.default(1000),
  timeout: ms.default(10000),
  timeoutQuery: ms.default(600000),
  maxRowLimit: ms.default(10000),
  checkInterval: ms.default(1000),
  rewriteInterval: ms.default(10000),
  writeOnly: flag.default(false),
  username: z.string().optional(),
  password: z.string().optional(),
  caFile: z.string().min(1).optional(),
  gzip: flag.default(false),
  concurrency: z.number().int().min(1).max(256).default(4),
  spoolMaxBytes: z.number().int().positive().default(1024 * 1024 * 1024),
  downAfter: z.number().int().min(1).default(3),
  upAfter: z.number().int().min(1).default(2),
  replayLinesPerSecond: z.number().nonnegative().default(0),
  // influxd's [http] max-body-size is 25 000 000 bytes by default: stay well under it
  maxBatchBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(16 * 1024 * 1024),
  rejectedMaxBytes: z.number().int().positive().default(256 * 1024 * 1024),
}).superRefine((b, ctx) => {
  if (b.caFile !== undefined && !b.url.startsWith('https:')) {
    ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'only for https:// backends' });
  }
});

type QueryStatementKind = Exclude<StatementKind, 'unknown'>;
/** The statement kinds a proxy's `forbiddenStatements` may name. */
const QUERY_STATEMENT_KINDS = STATEMENT_KINDS.filter((k): k is QueryStatementKind => k !== 'unknown');

/** A proxy user: `hash` must parse (its value never appears in the message); `admin` defaults to false. */
const userSchema = z.object({
  hash: z.string().superRefine((hash, ctx) => {
    try {
      parsePasswordHash(hash);
    } catch (err) {
      if (!(err instanceof PasswordHashFormatError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  }),
  admin: flag.default(false),
});

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

const proxySchema = z.object({
  listenAddr: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]*):\d{1,5}$/, 'must be host:port'),
  db: z.string().default(''),
  zone: z.string().default(''),
  interval: z.number().nonnegative().default(10),
  idleTimeout: z.number().positive().default(10),
  writeTracing: flag.default(false),
  queryTracing: flag.default(false),
  forbiddenStatements: z
    .array(z.enum(QUERY_STATEMENT_KINDS, { error: (issue) => `unknown statement kind ${JSON.stringify(issue.input)}` }))
    .default(() => DEFAULT_FORBIDDEN_STATEMENTS.slice() as QueryStatementKind[]),
  fanoutCreate: flag.default(true),
  maxSelectBuckets: z.number().int().nonnegative().default(100_000),
  maxRequestBuckets: z.number().int().nonnegative().default(1_000_000),
  maxQueryAnswerBytes: z.number().int().nonnegative().default(32 * 1024 * 1024),
  maxUnboundedRawSelect: flag.default(false),
  ackMode: z.enum(['durable', 'buffered']).default('durable'),
  selfReport: flag.default(false),
  selfReportMeasurement: z.string().min(1).default('influx_proxy'),
  users: z
    .record(z.string().min(1), z.preprocess(lowerKeys, userSchema))
    .default({}),
  authEnabled: flag.default(false),
  pingAuthEnabled: flag.default(false),
  metaAuthEnabled: flag.default(false),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  headersTimeout: z.number().positive().default(10),
  requestTimeout: z.number().positive().default(300),
  maxConcurrentRequests: z.number().int().positive().default(1024),
  maxBufferedWriteBytes: z.number().int().positive().default(256 * 1024 * 1024),
  minBodyRate: z.number().int().nonnegative().default(1024),
  maxConnectionsPerAddress: z.number().int().nonnegative().default(256),
  authFailureBurst: z.number().int().positive().default(10),
  authFailuresPerMinute: z.number().positive().default(30),
}).superRefine(checkProxySecurity);

const clusterSchema = z.object({
  backends: z.record(z.string().min(1), z.unknown()),
  keymaps: z.record(z.string(), z.array(z.string().min(1)).min(1)).default({}),
  proxies: z.record(z.string().min(1), z.unknown()).default({}),
});

/**
 * Validates a raw config document and applies the seed's defaults.
 * Unknown fields are reported through `warn` and ignored; anything invalid throws ConfigValidationError.
 */
export function parseClusterConfig(raw: unknown, warn: (msg: string) => void = () => {}): ClusterConfig {
  const top = check(clusterSchema, raw, '');
  const backends: Record<string, BackendConfig> = {};
  for (const [name, value] of Object.entries(top.backends)) {
    backends[name] = check(backendSchema, canonicalKeys(backendSchema, value, `backends.${name}`, warn), `backends.${name}`);
  }
  const proxies: Record<string, ProxyNodeConfig> = {};
  for (const [name, value] of Object.entries(top.proxies)) {
    proxies[name] = check(proxySchema, canonicalKeys(proxySchema, value, `proxies.${name}`, warn), `proxies.${name}`);
  }
  for (const [measurement, names] of Object.entries(top.keymaps)) {
    for (const name of names) {
      if (!backends[name]) {
        throw new ConfigValidationError(`keymaps.${measurement}: unknown backend "${name}"`);
      }
    }
  }
  if (raw && typeof raw === 'object') {
    for (const key of Object.keys(raw)) {
      if (!(key in clusterSchema.shape)) warn(`unknown config field "${key}" ignored`);
    }
  }
  return { backends, keymaps: top.keymaps, proxies };
}

function check<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = [path, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  throw new ConfigValidationError(`${where || 'config'}: ${issue.message}`);
}

/** Maps keys to the schema's spelling regardless of case; drops (and reports) the ones it does not know. */
function canonicalKeys(
  schema: z.ZodObject,
  value: unknown,
  path: string,
  warn: (msg: string) => void,
): unknown {
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
