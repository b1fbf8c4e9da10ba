import { randomBytes } from 'node:crypto';

/**
 * Proxy membership: each proxy writes a record about itself into the config store with a TTL
 * (Redis key expiry, etcd lease), refreshes it on a heartbeat, and deletes it on a graceful stop.
 * A proxy killed with -9 disappears when its TTL runs out. A record carries its writer's owner token,
 * and a store deletes only a record whose token is its own: a second process started under the same
 * name (and failing, e.g. its port is taken) never removes the running one's record.
 */

/** A fresh owner token: one per store instance, so one per process. */
export function ownerToken(): string {
  return randomBytes(8).toString('hex');
}

/** Spool backlog of one backend as one proxy sees it. */
export interface MemberBacklog {
  records: number;
  bytes: number;
  /** Epoch ms of the oldest un-acked record; null when the spool is empty. */
  oldestAt: number | null;
}

/** What a proxy says about itself on each heartbeat. */
export interface ProxyMember {
  /** --node name (the key of its entry in `proxies`). */
  name: string;
  /** The listenAddr it serves on. */
  address: string;
  /** influxdb-proxy's version. */
  version: string;
  zone: string;
  pid: number;
  hostname: string;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms of this heartbeat. */
  lastHeartbeat: number;
  /** Seconds after the last heartbeat when the store forgets this record. */
  ttl: number;
  /** Spool backlog per backend name. */
  backlog: Record<string, MemberBacklog>;
  /** Replay slots this proxy holds (granted by the leading sentinel): backend name → slot id. */
  slots?: Record<string, string>;
  /** The last slot this proxy gave back, per backend (its backlog for that backend had run empty). */
  released?: Record<string, string>;
  /** Backends whose writes failed at this proxy and that its own checks have not seen recover yet. */
  failing?: Record<string, { since: number; error: string }>;
  /**
   * While `failing` is not empty, this record is rewritten at least this often (ms): the leading
   * sentinel counts a report only while the record carrying it is that fresh, so the reports of a
   * proxy killed with -9 stop counting within a few seconds, not after the whole TTL.
   */
  reportEveryMs?: number;
  /** The writing process's owner token (set by the store): only that process deletes the record. */
  owner?: string;
}

/**
 * Where membership records live: the Redis and etcd providers hand out the one beside their config;
 * ClusterStoreModule gives a config file an in-process one.
 */
export abstract class MembershipStore {
  /** Writes (or refreshes) this proxy's record with `member.ttl` seconds to live. */
  abstract heartbeat(member: ProxyMember): Promise<void>;
  /** Deletes this proxy's record at once (graceful shutdown), only if this store instance wrote it (its owner token). */
  abstract leave(name: string): Promise<void>;
  /** Every record that has not expired. */
  abstract members(): Promise<ProxyMember[]>;
  /** `store` when records are shared through the config store; `process` when only this proxy's own is known. */
  abstract readonly scope: 'store' | 'process';
}

/**
 * The file store's membership: one proxy per config file, so the only member is this process.
 * Records expire by their TTL here too, so a stalled heartbeat shows as not alive.
 */
export class InProcessMembershipStore extends MembershipStore {
  readonly scope = 'process' as const;
  private readonly records = new Map<string, ProxyMember>();

  async heartbeat(member: ProxyMember): Promise<void> {
    this.records.set(member.name, { ...member }); // one process: every record here is its own
  }

  async leave(name: string): Promise<void> {
    this.records.delete(name);
  }

  async members(): Promise<ProxyMember[]> {
    const now = Date.now();
    return [...this.records.values()].filter((m) => m.lastHeartbeat + m.ttl * 1000 > now);
  }
}

/** Reads a stored record; anything that is not one is skipped (null). */
export function parseMemberRecord(text: string | null | undefined): ProxyMember | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<ProxyMember>;
    if (!value || typeof value !== 'object' || typeof value.name !== 'string') return null;
    return {
      name: value.name,
      address: String(value.address ?? ''),
      version: String(value.version ?? ''),
      zone: String(value.zone ?? ''),
      pid: Number(value.pid ?? 0),
      hostname: String(value.hostname ?? ''),
      startedAt: Number(value.startedAt ?? 0),
      lastHeartbeat: Number(value.lastHeartbeat ?? 0),
      ttl: Number(value.ttl ?? 0),
      backlog: value.backlog && typeof value.backlog === 'object' ? value.backlog : {},
      ...(isObject(value.slots) ? { slots: value.slots } : {}),
      ...(isObject(value.released) ? { released: value.released } : {}),
      ...(isObject(value.failing) ? { failing: value.failing } : {}),
      ...(typeof value.reportEveryMs === 'number' && value.reportEveryMs > 0 ? { reportEveryMs: value.reportEveryMs } : {}),
      ...(typeof value.owner === 'string' ? { owner: value.owner } : {}),
    };
  } catch {
    return null;
  }
}

function isObject<T>(value: T | undefined): value is T {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
