import type { BackendConfig, ProxyNodeConfig } from './cluster-config.schema';

// The shapes of one backend, one proxy and one user (BackendConfig, ProxyNodeConfig, ProxyUser) are
// the zod schemas' outputs, in cluster-config.schema.ts, where each field's meaning is documented.

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

/**
 * The database a backend is written to and read from for a client's `clientDb`: the backend's own `db`
 * for a proxy serving one database (`multiDb` false), else the client's db as the backend's `dbMap` maps it.
 */
export function backendDatabase(
  backend: { readonly db: string; readonly dbMap?: Readonly<Record<string, string>> },
  clientDb: string,
  multiDb: boolean,
): string {
  if (!multiDb) return backend.db;
  const map = backend.dbMap;
  return map !== undefined && Object.prototype.hasOwnProperty.call(map, clientDb) ? map[clientDb] : clientDb;
}

/** Whether a proxy whose node config says `databases` serves `db`. */
export function servesDatabase(databases: '*' | readonly string[] | undefined, nodeDb: string, db: string): boolean {
  if (databases === undefined) return nodeDb === '' || db === nodeDb;
  return databases === '*' || databases.includes(db);
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
