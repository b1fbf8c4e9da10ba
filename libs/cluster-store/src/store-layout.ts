/**
 * How the cluster config and the runtime records are laid out in Redis and etcd, and how store
 * contents become the raw document that parseClusterConfig validates. Pure functions: the providers
 * do the I/O, these are unit-tested on their own.
 */
import { type ClusterConfig, type ConfigRules, ConfigValidationError, parseClusterConfig } from '@app/config';

// ---------------------------------------------------------------------------------------------
// Redis (the Go proxy layout, written by config.py)

/** Hash: backend name → JSON object. */
export const REDIS_BACKENDS_KEY = 'b:';
/** Hash: measurement → JSON list of backend names. */
export const REDIS_KEYMAPS_KEY = 'm:';
/** Hash: proxy name → JSON object. */
export const REDIS_PROXIES_KEY = 'n:';
/** Hash: group name → JSON list of backend names (what a `{"hash": [groups]}` keymap spreads over). */
export const REDIS_GROUPS_KEY = 'g:';
/**
 * Pub/sub channel on which config.py and POST /reload announce a new config. The message is
 * `{"db":N,...}`; proxies using another database index ignore it (pub/sub is server-wide).
 */
export const REDIS_CONFIG_CHANNEL = 'influxdb-proxy:config-changed';
/** Membership records: `influxdb-proxy:member:<name>`, plain string keys with an expiry. */
export const REDIS_MEMBER_PREFIX = 'influxdb-proxy:member:';
/** The sentinels' leader lock: the leader's claim (JSON), with a TTL renewed only by its holder. */
export const REDIS_SENTINEL_LEADER_KEY = 'influxdb-proxy:sentinel:leader';
/** The leading sentinel's publication (backend health, replay slots), with a TTL. */
export const REDIS_SENTINEL_STATE_KEY = 'influxdb-proxy:sentinel:state';
/** Sentinel membership records: `influxdb-proxy:sentinel:member:<name>`, with an expiry. */
export const REDIS_SENTINEL_MEMBER_PREFIX = 'influxdb-proxy:sentinel:member:';

export interface RedisConfigHashes {
  backends: Record<string, string>;
  keymaps: Record<string, string>;
  proxies: Record<string, string>;
  /** Absent: no groups (a store written before they existed). */
  groups?: Record<string, string>;
}

/** The three hashes, as HGETALL returned them, → a validated config. */
export function configFromRedisHashes(
  hashes: RedisConfigHashes,
  where: string,
  rules: ConfigRules,
  warn: (msg: string) => void = () => {},
): ClusterConfig {
  const empty = [hashes.backends, hashes.keymaps, hashes.proxies].every((h) => Object.keys(h).length === 0);
  if (empty) {
    throw new ConfigValidationError(
      `${where} holds no configuration (hashes ${REDIS_BACKENDS_KEY} ${REDIS_KEYMAPS_KEY} ${REDIS_PROXIES_KEY} are empty); write one with config.py`,
    );
  }
  const raw = {
    backends: decodeFields(hashes.backends, 'backends', (n) => `hash ${REDIS_BACKENDS_KEY} field ${JSON.stringify(n)}`),
    keymaps: decodeFields(hashes.keymaps, 'keymaps', (n) => `hash ${REDIS_KEYMAPS_KEY} field ${JSON.stringify(n)}`),
    proxies: decodeFields(hashes.proxies, 'proxies', (n) => `hash ${REDIS_PROXIES_KEY} field ${JSON.stringify(n)}`),
    groups: decodeFields(hashes.groups ?? {}, 'groups', (n) => `hash ${REDIS_GROUPS_KEY} field ${JSON.stringify(n)}`),
  };
  return parseClusterConfig(raw, rules, warn);
}

// ---------------------------------------------------------------------------------------------
// etcd

/**
 * Sections under the prefix: `<prefix>backends/<name>`, `<prefix>keymaps/<measurement>`, `<prefix>proxies/<name>`,
 * `<prefix>groups/<name>` (a JSON list of backend names).
 */
export const ETCD_SECTIONS = ['backends', 'keymaps', 'proxies', 'groups'] as const;
/**
 * Runtime state (membership, later health and replay slots) lives under `<prefix>runtime/`, which is
 * none of the config sections, so config.py's replace never touches it and the config never sees it.
 */
export const ETCD_RUNTIME_DIR = 'runtime/';
export const ETCD_MEMBERS_DIR = 'runtime/proxies/';
/** Sentinel membership records, each on its sentinel's lease. */
export const ETCD_SENTINELS_DIR = 'runtime/sentinels/';
/** The sentinels' election (etcd3's election API: `<dir>election/leader/<lease id>`) and the leader's publication. */
export const ETCD_SENTINEL_DIR = 'runtime/sentinel/';
export const ETCD_SENTINEL_ELECTION = 'leader';
export const ETCD_SENTINEL_STATE_KEY = 'runtime/sentinel/state';

/** Every key and value under `prefix` → a validated config. */
export function configFromEtcdKeys(
  prefix: string,
  kvs: Record<string, string>,
  rules: ConfigRules,
  warn: (msg: string) => void = () => {},
): ClusterConfig {
  const sections: Record<(typeof ETCD_SECTIONS)[number], Record<string, string>> = {
    backends: {},
    keymaps: {},
    proxies: {},
    groups: {},
  };
  for (const [key, value] of Object.entries(kvs)) {
    if (!key.startsWith(prefix)) continue;
    const rel = key.slice(prefix.length);
    if (rel.startsWith(ETCD_RUNTIME_DIR)) continue;
    const slash = rel.indexOf('/');
    const section = slash < 0 ? rel : rel.slice(0, slash);
    const name = slash < 0 ? '' : rel.slice(slash + 1);
    if (!(ETCD_SECTIONS as readonly string[]).includes(section) || name === '') {
      warn(`unknown etcd key "${key}" ignored`);
      continue;
    }
    sections[section as (typeof ETCD_SECTIONS)[number]][name] = value;
  }
  if (Object.values(sections).every((s) => Object.keys(s).length === 0)) {
    throw new ConfigValidationError(
      `etcd holds no configuration under ${prefix} (no ${ETCD_SECTIONS.map((s) => `${s}/`).join(', ')} keys); write one with config.py --etcd`,
    );
  }
  const raw = {
    backends: decodeFields(sections.backends, 'backends', (n) => `key ${prefix}backends/${n}`),
    keymaps: decodeFields(sections.keymaps, 'keymaps', (n) => `key ${prefix}keymaps/${n}`),
    proxies: decodeFields(sections.proxies, 'proxies', (n) => `key ${prefix}proxies/${n}`),
    groups: decodeFields(sections.groups, 'groups', (n) => `key ${prefix}groups/${n}`),
  };
  return parseClusterConfig(raw, rules, warn);
}

/** A stable text of store contents: equal texts mean nothing changed. */
export function fingerprint(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function decodeFields(fields: Record<string, string>, section: string, locate: (name: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(fields)) {
    try {
      out[name] = JSON.parse(text);
    } catch (err) {
      throw new ConfigValidationError(`${section}.${name}: not valid JSON (${locate(name)}): ${(err as Error).message}`);
    }
  }
  return out;
}
