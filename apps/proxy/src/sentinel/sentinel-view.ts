import type { HealthOverride } from '@app/backend';
import type { ReplaySlot, SentinelState } from '@app/cluster-store';

/**
 * What this proxy knows of the leading sentinel's publications, judged by its own clock only:
 * - a sentinel is live while a new publication (another term or seq) was seen within its `staleAfter`;
 * - the health it published for a backend overrides the own checks while it is live;
 * - a replay slot may be used while the last read that listed it began less than `slotTtl` ago
 *   (the leader re-grants a slot it took back no sooner than that), and never again once given back.
 * Without a live sentinel, or for a backend the sentinel does not know, replays are this proxy's own
 * business as before.
 */
export class SentinelView {
  /** The newest read's result (null: nothing published, or the read failed). */
  private latest: SentinelState | null = null;
  private latestAt = -Infinity;
  /** The last publication ever seen, and when (local) it was first seen. */
  private last: SentinelState | null = null;
  private freshAt = -Infinity;
  private lastKey = '';
  private decided = false;
  private readonly released = new Map<string, string>();

  constructor(private readonly me: string) {}

  /** A read that began at `startedAt` (local ms) found `state`. */
  observe(state: SentinelState | null, startedAt: number): void {
    this.decided = true;
    if (startedAt < this.latestAt) return; // an older read finishing late
    this.latest = state;
    this.latestAt = startedAt;
    if (!state) return;
    const key = `${state.term}/${state.seq}`;
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.freshAt = startedAt;
    }
    this.last = state;
  }

  /** A read that began at `startedAt` failed: no slot can be confirmed by it. */
  readFailed(startedAt: number): void {
    if (startedAt < this.latestAt) return;
    this.latest = null;
    this.latestAt = startedAt;
  }

  /** Before the first read answers, nobody knows whether a sentinel coordinates replays; after `decide()`, assume not. */
  decide(): void {
    this.decided = true;
  }

  get isDecided(): boolean {
    return this.decided;
  }

  /** The live leader's last publication, or undefined. */
  live(now: number): SentinelState | undefined {
    const s = this.last;
    return s && now - this.freshAt < s.staleAfter ? s : undefined;
  }

  /** Local ms when a new publication was last seen (null: never). */
  get lastSeen(): number | null {
    return Number.isFinite(this.freshAt) ? this.freshAt : null;
  }

  /** The published health of `backend` as an override of the own checks, while the sentinel is live. */
  health(backend: string, now: number): HealthOverride | undefined {
    const s = this.live(now);
    const h = s?.backends[backend];
    if (!s || !h) return undefined;
    return { up: h.up, since: h.since, lastError: h.lastError, by: h.by, expiresAt: this.freshAt + s.staleAfter };
  }

  /** The slot this proxy may replay to `backend` under now, if any. */
  slot(backend: string, now: number): ReplaySlot | undefined {
    const s = this.latest;
    if (!s || !this.live(now) || now - this.latestAt >= s.slotTtl) return undefined;
    const slot = s.slots[backend]?.[this.me];
    return slot && this.released.get(backend) !== slot.id ? slot : undefined;
  }

  mayReplay(backend: string, now: number): boolean {
    if (!this.decided) return false;
    const s = this.live(now);
    if (!s || !(backend in s.backends)) return true; // nobody coordinates this backend: replay on our own
    return this.slot(backend, now) !== undefined;
  }

  /** Gives the slot held for `backend` back for good; returns its id, or undefined when none was held. */
  release(backend: string): string | undefined {
    const slot = this.latest?.slots[backend]?.[this.me];
    if (!slot || this.released.get(backend) === slot.id) return undefined;
    this.released.set(backend, slot.id);
    return slot.id;
  }

  /** Slots held now, by backend (for the membership record). */
  held(now: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const backend of Object.keys(this.latest?.slots ?? {})) {
      const slot = this.slot(backend, now);
      if (slot) out[backend] = slot.id;
    }
    return out;
  }

  /** The last slot given back, by backend (for the membership record: the leader then frees it). */
  givenBack(): Record<string, string> {
    return Object.fromEntries(this.released);
  }
}
