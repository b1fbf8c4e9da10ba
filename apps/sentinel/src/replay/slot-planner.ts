import type { CoolingSlot, ReplaySlot, SentinelState } from '@app/cluster-store';

/** One proxy as the leader sees it in a planning round (from its membership record). */
export interface ProxyReport {
  name: string;
  /** Milliseconds (the leader's clock) since a new heartbeat of it was seen. */
  heartbeatAgeMs: number;
  /** How often it heartbeats when nothing happens (a third of its membership TTL), in ms. */
  beatEveryMs: number;
  /** Spool backlog per backend. */
  backlog: Record<string, { records: number; oldestAt: number | null }>;
  /** The last slot it gave back, per backend. */
  released: Record<string, string>;
  /** Backends whose writes fail at this proxy. */
  failing: Record<string, unknown>;
}

/** A backend as the planner needs it. */
export interface PlannedBackend {
  /** The sentinel's verdict: slots are granted only while it is up. */
  up: boolean;
  /** Its write timeout: a replayed record may still be in flight that long after a slot was taken back. */
  timeoutMs: number;
}

export type SlotEvent =
  | { kind: 'granted'; backend: string; proxy: string; id: string; records: number }
  | { kind: 'released'; backend: string; proxy: string; id: string; heldMs: number }
  | { kind: 'revoked'; backend: string; proxy: string; id: string; reason: string };

export interface SlotPlan {
  slots: SentinelState['slots'];
  cooling: SentinelState['cooling'];
  events: SlotEvent[];
}

export interface SlotPlannerOptions {
  /** Proxies replaying to one backend at once. */
  perBackend: number;
  /** How long a proxy may keep using a slot after it last read it (ms). */
  slotTtl: number;
  /** Prefix of slot ids (unique per leadership). */
  idPrefix: string;
}

/**
 * Replay slots, as the leader hands them out: per backend at most `perBackend` proxies hold one, each
 * granted to a live proxy (a new heartbeat within two of its heartbeat periods) that reports a backlog
 * for that backend, oldest backlog first, and only while the sentinel sees the backend up. A holder
 * heartbeats at least every slot TTL/3; one silent for a slot TTL loses its slot. A proxy gives its slot back when its backlog is empty (its record names
 * the slot as released) and the next proxy gets one at once. A slot taken back — its proxy stopped
 * heartbeating, or its writes fail — stays busy ("cooling") for the slot TTL plus the backend's write
 * timeout, the longest that proxy may still replay under it.
 */
export class SlotPlanner {
  private readonly grants = new Map<string, Map<string, ReplaySlot>>();
  private readonly cooling = new Map<string, Map<string, { id: string; until: number }>>();
  /** No grants before this (a new leader that found no publication to carry on from). */
  private notBefore = 0;
  private counter = 0;

  constructor(private readonly options: SlotPlannerOptions) {}

  /**
   * Carries on from the previous leader's last publication (its grants and cooling slots). Without one,
   * nothing is granted for a slot TTL plus `maxTimeoutMs`: a slot granted before may still be in use.
   */
  adopt(state: SentinelState | null, now: number, maxTimeoutMs: number): void {
    this.grants.clear();
    this.cooling.clear();
    this.notBefore = state ? 0 : now + this.options.slotTtl + maxTimeoutMs;
    if (!state) return;
    for (const [backend, holders] of Object.entries(state.slots)) {
      this.grants.set(backend, new Map(Object.entries(holders).map(([proxy, slot]) => [proxy, { ...slot }])));
    }
    for (const [backend, holders] of Object.entries(state.cooling)) {
      const map = new Map<string, { id: string; until: number }>();
      for (const [proxy, c] of Object.entries(holders)) map.set(proxy, { id: c.id, until: now + c.remainingMs });
      this.cooling.set(backend, map);
    }
  }

  /** One round: takes back, frees and grants slots; returns what to publish and what happened. */
  plan(now: number, backends: Record<string, PlannedBackend>, proxies: readonly ProxyReport[]): SlotPlan {
    const events: SlotEvent[] = [];
    const byName = new Map(proxies.map((p) => [p.name, p]));
    const names = new Set([...Object.keys(backends), ...this.grants.keys(), ...this.cooling.keys()]);
    for (const backend of names) {
      const view = backends[backend];
      const cooling = this.cooling.get(backend) ?? new Map<string, { id: string; until: number }>();
      for (const [proxy, c] of cooling) if (c.until <= now || !view) cooling.delete(proxy);
      const grants = this.grants.get(backend) ?? new Map<string, ReplaySlot>();
      for (const [proxy, slot] of grants) {
        const report = byName.get(proxy);
        let reason: string | undefined;
        if (!view) reason = 'the backend is no longer configured';
        else if (!report) reason = 'its membership record expired';
        else if (report.released[backend] === slot.id) {
          grants.delete(proxy);
          events.push({ kind: 'released', backend, proxy, id: slot.id, heldMs: now - slot.grantedAt });
          continue;
        } else if (report.heartbeatAgeMs >= this.options.slotTtl) reason = 'no heartbeat within the slot TTL';
        else if (report.failing[backend] !== undefined) reason = 'its writes to the backend fail';
        if (reason === undefined) continue;
        grants.delete(proxy);
        events.push({ kind: 'revoked', backend, proxy, id: slot.id, reason });
        if (view) cooling.set(proxy, { id: slot.id, until: now + this.options.slotTtl + view.timeoutMs });
      }
      if (view?.up && now >= this.notBefore) {
        let free = this.options.perBackend - grants.size - cooling.size;
        const waiting = proxies
          .filter((p) => isAlive(p, this.options.slotTtl) && (p.backlog[backend]?.records ?? 0) > 0)
          .filter((p) => !grants.has(p.name) && !cooling.has(p.name) && p.failing[backend] === undefined)
          .sort((a, b) => oldest(a, backend) - oldest(b, backend) || (a.name < b.name ? -1 : 1));
        for (const p of waiting) {
          if (free <= 0) break;
          const id = `${this.options.idPrefix}-${++this.counter}`;
          grants.set(p.name, { id, grantedAt: now });
          events.push({ kind: 'granted', backend, proxy: p.name, id, records: p.backlog[backend].records });
          free--;
        }
      }
      this.store(this.grants, backend, grants);
      this.store(this.cooling, backend, cooling);
    }
    return { slots: this.publishedSlots(), cooling: this.publishedCooling(now), events };
  }

  /** The slots as they stand, for a round that could not read the proxies' records. */
  current(now: number): SlotPlan {
    return { slots: this.publishedSlots(), cooling: this.publishedCooling(now), events: [] };
  }

  private store<T>(all: Map<string, Map<string, T>>, backend: string, map: Map<string, T>): void {
    if (map.size === 0) all.delete(backend);
    else all.set(backend, map);
  }

  private publishedSlots(): SentinelState['slots'] {
    const out: SentinelState['slots'] = {};
    for (const [backend, holders] of this.grants) out[backend] = Object.fromEntries(holders);
    return out;
  }

  private publishedCooling(now: number): SentinelState['cooling'] {
    const out: SentinelState['cooling'] = {};
    for (const [backend, holders] of this.cooling) {
      out[backend] = Object.fromEntries(
        [...holders].map(([proxy, c]): [string, CoolingSlot] => [proxy, { id: c.id, remainingMs: Math.max(0, c.until - now) }]),
      );
    }
    return out;
  }
}

function isAlive(p: ProxyReport, slotTtl: number): boolean {
  return p.heartbeatAgeMs < Math.max(slotTtl, 2 * p.beatEveryMs);
}

function oldest(p: ProxyReport, backend: string): number {
  return p.backlog[backend]?.oldestAt ?? Number.MAX_SAFE_INTEGER;
}

/**
 * How long ago each proxy last heartbeat, by the leader's own clock: since a new value of its
 * `lastHeartbeat` was seen (comparing its clock with ours would need synced clocks).
 */
export class HeartbeatFreshness {
  private readonly seen = new Map<string, { beat: number; at: number }>();

  update(records: readonly { name: string; lastHeartbeat: number }[], now: number): void {
    const present = new Set<string>();
    for (const r of records) {
      present.add(r.name);
      const last = this.seen.get(r.name);
      if (!last || last.beat !== r.lastHeartbeat) this.seen.set(r.name, { beat: r.lastHeartbeat, at: now });
    }
    for (const name of this.seen.keys()) if (!present.has(name)) this.seen.delete(name);
  }

  ageMs(name: string, now: number): number {
    const last = this.seen.get(name);
    return last === undefined ? Infinity : now - last.at;
  }
}
