/**
 * Which store holds the cluster config, as the command line chose it. Parsed once by the CLI and
 * handed to ClusterStoreModule.forRoot; nothing here reads the environment.
 */

/** Settings every networked store shares. */
interface StoreTimings {
  /** Safety-net re-read period in seconds (changes are normally noticed at once by pub/sub or watch). */
  refreshSeconds: number;
  /** How long start-up waits for the store before giving up with a clear message, in ms. */
  connectTimeoutMs: number;
}

export interface FileStoreOptions {
  kind: 'file';
  path: string;
}

export interface RedisStoreOptions extends StoreTimings {
  kind: 'redis';
  /** Ignored when `sentinels` is set (the sentinels name the master). */
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** Database index (SELECT); the config hashes b:, m:, n: and the membership keys live there. */
  db: number;
  tls: boolean;
  /** Redis Sentinel addresses; when set, the master named `masterName` is asked of them. */
  sentinels?: { host: string; port: number }[];
  masterName?: string;
  sentinelPassword?: string;
}

export interface EtcdStoreOptions extends StoreTimings {
  kind: 'etcd';
  /** `http://host:port` endpoints of the etcd cluster. */
  hosts: string[];
  /** Key prefix, always ending in `/` (default `/influx-proxy/`). */
  prefix: string;
  username?: string;
  password?: string;
}

export type ConfigStoreOptions = FileStoreOptions | RedisStoreOptions | EtcdStoreOptions;

export const DEFAULT_ETCD_PREFIX = '/influx-proxy/';
export const DEFAULT_REDIS_PORT = 6379;

/** A store address the user typed that cannot be used; the message says which and why. */
export class StoreAddressError extends Error {
  override readonly name = 'StoreAddressError';
}

/**
 * `host:port`, `host` (port 6379), `[v6]:port`, or a `redis://[user:password@]host[:port][/db]`
 * (`rediss://` for TLS) URL, as `-redis` takes it.
 */
export function parseRedisAddress(text: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls: boolean;
} {
  const value = text.trim();
  if (/^rediss?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new StoreAddressError(`--redis: ${JSON.stringify(text)} is not a valid redis:// URL`);
    }
    const dbText = url.pathname.replace(/^\//, '');
    if (dbText !== '' && !/^\d+$/.test(dbText)) {
      throw new StoreAddressError(`--redis: database index in ${JSON.stringify(text)} must be a number`);
    }
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
      port: url.port ? Number(url.port) : DEFAULT_REDIS_PORT,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: dbText === '' ? undefined : Number(dbText),
      tls: url.protocol.toLowerCase() === 'rediss:',
    };
  }
  return { ...parseHostPort(value, DEFAULT_REDIS_PORT, '--redis'), tls: false };
}

/** `h:p,h:p` → sentinel addresses (port 26379 when left out). */
export function parseSentinels(text: string): { host: string; port: number }[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => parseHostPort(s, 26379, '--redis-sentinels'));
  if (list.length === 0) throw new StoreAddressError('--redis-sentinels: give at least one host:port');
  return list;
}

/** `http://h:p[,http://h:p…]` → endpoints; a bare `h:p` gets `http://`. */
export function parseEtcdHosts(text: string): string[] {
  const hosts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^https?:\/\//i.test(s) ? s : `http://${s}`));
  if (hosts.length === 0) throw new StoreAddressError('--etcd: give at least one http://host:port');
  for (const h of hosts) {
    try {
      const url = new URL(h);
      if (!url.hostname) throw new Error('no host');
    } catch {
      throw new StoreAddressError(`--etcd: ${JSON.stringify(h)} is not a valid http://host:port endpoint`);
    }
  }
  return hosts.map((h) => h.replace(/\/+$/, ''));
}

/** The etcd key prefix with exactly one trailing `/`. */
export function normalizeEtcdPrefix(prefix: string): string {
  const trimmed = prefix.trim();
  if (trimmed === '') throw new StoreAddressError('--etcd-prefix: must not be empty');
  return trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

function parseHostPort(value: string, defaultPort: number, flag: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]+))(?::(\d{1,5}))?$/.exec(value);
  if (!m) throw new StoreAddressError(`${flag}: ${JSON.stringify(value)} is not host:port`);
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) throw new StoreAddressError(`${flag}: port ${port} is out of range`);
  return { host: m[1] ?? m[2], port };
}

/** What /meta and log lines show of a store: never a password. */
export function describeStore(options: ConfigStoreOptions): { kind: string; address: string } {
  switch (options.kind) {
    case 'file':
      return { kind: 'file', address: options.path };
    case 'redis': {
      if (options.sentinels?.length) {
        const list = options.sentinels.map((s) => hostPort(s.host, s.port)).join(',');
        return { kind: 'redis', address: `sentinel://${list}/${options.masterName ?? 'mymaster'}/${options.db}` };
      }
      return { kind: 'redis', address: `${options.tls ? 'rediss' : 'redis'}://${hostPort(options.host, options.port)}/${options.db}` };
    }
    case 'etcd':
      return { kind: 'etcd', address: `${options.hosts.join(',')} prefix ${options.prefix}` };
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
