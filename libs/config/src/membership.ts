/**
 * Proxy membership: each proxy writes a record about itself into the config store with a TTL
 * (Redis key expiry, etcd lease), refreshes it on a heartbeat, and deletes it on a graceful stop.
 * A proxy killed with -9 disappears when its TTL runs out.
 */

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
}

/** Where membership records live; each ConfigProvider hands out the one beside its config. */
export abstract class MembershipStore {
  /** Writes (or refreshes) this proxy's record with `member.ttl` seconds to live. */
  abstract heartbeat(member: ProxyMember): Promise<void>;
  /** Deletes this proxy's record at once (graceful shutdown). */
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
    this.records.set(member.name, { ...member });
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
    };
  } catch {
    return null;
  }
}

function isObject<T>(value: T | undefined): value is T {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
