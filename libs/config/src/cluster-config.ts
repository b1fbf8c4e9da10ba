// The validated shapes (ClusterConfig, and one backend, proxy and user: BackendConfig, ProxyNodeConfig,
// ProxyUser) are in cluster-config.schema.ts, beside the zod schemas whose outputs they are, where each
// field's meaning is documented. This file holds what reads them and what the schemas default to, and
// imports nothing from there: the schemas import from here.

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
