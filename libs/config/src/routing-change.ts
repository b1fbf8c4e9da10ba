import { type ClusterConfig, type ConfigRules, ConfigValidationError, parseClusterConfig } from './cluster-config.schema';

/**
 * New keymaps, and new backend groups when they change too: what `influxdb-proxy-admin rebalance
 * --keymaps` and `plan --keymaps` apply over the config in force (keymap values are lists of backends
 * or `{"hash": [groups]}`, as in a config file).
 */
export interface RoutingChange {
  readonly keymaps: Readonly<Record<string, unknown>>;
  /** Absent: the groups in force stay. */
  readonly groups?: Readonly<Record<string, unknown>>;
}

/** A JSON document → a RoutingChange: an object of keymaps, or a config document whose `keymaps` (and `groups`) are taken. */
export function routingChangeOf(doc: unknown): RoutingChange {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigValidationError('not a JSON object of keymaps');
  const whole = 'keymaps' in doc ? (doc as { keymaps: unknown; groups?: unknown }) : { keymaps: doc };
  const { keymaps, groups } = whole;
  if (!keymaps || typeof keymaps !== 'object' || Array.isArray(keymaps)) throw new ConfigValidationError('keymaps: not a JSON object');
  if (Object.keys(keymaps).length === 0) throw new ConfigValidationError('keymaps: none given (keep at least _default_)');
  if (groups !== undefined && (!groups || typeof groups !== 'object' || Array.isArray(groups))) {
    throw new ConfigValidationError('groups: not a JSON object');
  }
  return { keymaps: keymaps as Record<string, unknown>, ...(groups !== undefined ? { groups: groups as Record<string, unknown> } : {}) };
}

/** The raw keymaps of a parsed config: plain lists, and `{"hash": [groups]}` for the hash keymaps. */
export function rawKeymapsOf(config: Pick<ClusterConfig, 'keymaps' | 'hashKeymaps'>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config.keymaps };
  for (const [key, groups] of Object.entries(config.hashKeymaps ?? {})) out[key] = { hash: groups };
  return out;
}

/** `config` with its keymaps (and groups) replaced by `change`, validated as a whole (ConfigValidationError when it is not valid). */
export function applyRoutingChange(config: ClusterConfig, change: RoutingChange, rules: ConfigRules): ClusterConfig {
  return parseClusterConfig(
    { backends: config.backends, keymaps: change.keymaps, groups: change.groups ?? config.groups ?? {}, proxies: config.proxies },
    rules,
  );
}
