/**
 * What the sentinels write into the config store and the proxies read back: the state the leading
 * sentinel publishes (backend health and replay slots) and each sentinel's membership record. Pure
 * shapes and parsers; the stores do the I/O.
 */

/** One backend as the leading sentinel's probes see it. */
export interface BackendHealth {
  up: boolean;
  /** Epoch ms (the sentinel's clock) of the last change between up and down. */
  since: number;
  lastError: string | null;
  /** X-Influxdb-Version of its last answer. */
  version: string | null;
  /** Epoch ms of the last probe that finished. */
  checkedAt: number;
  /** The sentinel whose probes decided it. */
  by: string;
  /** Why it is down: its probes fail, or proxies report that writes to it fail. */
  reason: 'probe' | 'write-failures' | null;
}

/** Permission for one proxy to replay its spool to one backend. */
export interface ReplaySlot {
  /** Unique per grant: a proxy that gave a slot back never uses that id again. */
  id: string;
  /** Epoch ms (the leader's clock). */
  grantedAt: number;
}

/** A slot taken back from a proxy that may still be using it: nobody else gets it before `remainingMs` has passed. */
export interface CoolingSlot {
  id: string;
  remainingMs: number;
}

/** One backend's replay backlog across the fleet, from the proxies' membership records. */
export interface FleetBacklog {
  /** Records waiting for it, summed over every live proxy record. */
  records: number;
  /** Proxy name → its records waiting (only proxies that hold some). */
  proxies: Record<string, number>;
}

/**
 * The leading sentinel's publication, rewritten every `interval` ms with a TTL of twice `staleAfter`
 * (long enough for the next leader to carry on from it; proxies tell a live leader by a changing seq).
 */
export interface SentinelState {
  /** Counts this leader's publications; a new term starts again from 1. */
  seq: number;
  /** The sentinel that published it. */
  leader: string;
  /** One leadership: changes at every takeover, so (term, seq) tells a new publication from an old one. */
  term: string;
  /** Epoch ms (the leader's clock). */
  at: number;
  /** Milliseconds between publications. */
  interval: number;
  /** Proxies fall back to their own checks when no new publication has appeared for this long (ms). */
  staleAfter: number;
  /** A proxy replays under a slot only while its last read listing that slot is younger than this (ms). */
  slotTtl: number;
  /** Backend name → health. A backend missing here is judged by each proxy's own checks. */
  backends: Record<string, BackendHealth>;
  /** Backend name → proxy name → the slot it holds. */
  slots: Record<string, Record<string, ReplaySlot>>;
  /** Backend name → proxy name → a revoked slot still counted as busy. */
  cooling: Record<string, Record<string, CoolingSlot>>;
  /**
   * Backend name → its backlog across the fleet (backends without one are absent): a backend listed
   * here is read-behind for every proxy. Absent in publications of older sentinels (then each proxy
   * judges by its own spool).
   */
  backlog?: Record<string, FleetBacklog>;
}

/** What a sentinel says about itself on each heartbeat. */
export interface SentinelMember {
  name: string;
  /** The --listen address of its /meta and /health. */
  address: string;
  version: string;
  pid: number;
  hostname: string;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms of this heartbeat. */
  lastHeartbeat: number;
  /** Seconds after the last heartbeat when the store forgets this record. */
  ttl: number;
  /** Whether it believed it led when it wrote this record. */
  leading: boolean;
  /** The writing process's owner token (set by the store): only that process deletes the record. */
  owner?: string;
}

/** Reads a stored publication; anything that is not one is null. */
export function parseSentinelState(text: string | null | undefined): SentinelState | null {
  if (!text) return null;
  let value: Partial<SentinelState>;
  try {
    value = JSON.parse(text) as Partial<SentinelState>;
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object' || typeof value.leader !== 'string' || typeof value.term !== 'string') return null;
  if (![value.seq, value.at, value.interval, value.staleAfter, value.slotTtl].every((n) => typeof n === 'number')) return null;
  return {
    seq: value.seq!,
    leader: value.leader,
    term: value.term,
    at: value.at!,
    interval: value.interval!,
    staleAfter: value.staleAfter!,
    slotTtl: value.slotTtl!,
    backends: isRecord(value.backends) ? value.backends : {},
    slots: isRecord(value.slots) ? value.slots : {},
    cooling: isRecord(value.cooling) ? value.cooling : {},
    ...(isRecord(value.backlog) ? { backlog: parseFleetBacklog(value.backlog) } : {}),
  };
}

/** Keeps the well-formed entries only: a malformed one must not fence a backend by mistake, nor crash a proxy. */
function parseFleetBacklog(value: Record<string, unknown>): Record<string, FleetBacklog> {
  const out: Record<string, FleetBacklog> = {};
  for (const [backend, entry] of Object.entries(value)) {
    if (!isRecord<unknown>(entry) || typeof entry.records !== 'number' || !(entry.records > 0)) continue;
    const proxies: Record<string, number> = {};
    if (isRecord<unknown>(entry.proxies)) {
      for (const [proxy, records] of Object.entries(entry.proxies))
        if (typeof records === 'number' && records > 0) proxies[proxy] = records;
    }
    out[backend] = { records: entry.records, proxies };
  }
  return out;
}

/** Reads a stored sentinel record; anything that is not one is skipped (null). */
export function parseSentinelMember(text: string | null | undefined): SentinelMember | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<SentinelMember>;
    if (!value || typeof value !== 'object' || typeof value.name !== 'string') return null;
    return {
      name: value.name,
      address: String(value.address ?? ''),
      version: String(value.version ?? ''),
      pid: Number(value.pid ?? 0),
      hostname: String(value.hostname ?? ''),
      startedAt: Number(value.startedAt ?? 0),
      lastHeartbeat: Number(value.lastHeartbeat ?? 0),
      ttl: Number(value.ttl ?? 0),
      leading: value.leading === true,
      ...(typeof value.owner === 'string' ? { owner: value.owner } : {}),
    };
  } catch {
    return null;
  }
}

/** The value a leader campaigns with (stored in the Redis lock or the etcd election key). */
export interface LeaderClaim {
  name: string;
  /** Unique per campaign: the fence of every publication. */
  id: string;
}

export function parseLeaderClaim(text: string | null | undefined): LeaderClaim | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<LeaderClaim>;
    return value && typeof value.name === 'string' ? { name: value.name, id: String(value.id ?? '') } : null;
  } catch {
    return null;
  }
}

function isRecord<T>(value: unknown): value is Record<string, T> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
