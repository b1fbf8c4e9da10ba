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
  gzip: flag.default(false),
  concurrency: z.number().int().min(1).max(256).default(4),
  spoolMaxBytes: z.number().int().positive().default(1024 * 1024 * 1024),
  downAfter: z.number().int().min(1).default(3),
  upAfter: z.number().int().min(1).default(2),
  replayLinesPerSecond: z.number().nonnegative().default(0),
});

type QueryStatementKind = Exclude<StatementKind, 'unknown'>;
/** The statement kinds a proxy's `forbiddenStatements` may name. */
const QUERY_STATEMENT_KINDS = STATEMENT_KINDS.filter((k): k is QueryStatementKind => k !== 'unknown');

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
  maxUnboundedRawSelect: flag.default(false),
  ackMode: z.enum(['durable', 'buffered']).default('durable'),
});

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
