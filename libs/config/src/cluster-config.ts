import type { BackendConfig, ProxyNodeConfig } from './cluster-config.schema';

// The shapes of one backend, one proxy and one user (BackendConfig, ProxyNodeConfig, ProxyUser) are
// the zod schemas' outputs, in cluster-config.schema.ts, where each field's meaning is documented.

/** A validated cluster configuration: what every config store (file, Redis, etcd) yields. */
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
