import type { FleetBacklog } from '@app/cluster-store';
import type { PlannerBackend, ReadFence } from '@app/query';

/**
 * Which backends are read-behind, as this proxy knows it: a backend with replay backlog anywhere in the
 * fleet takes writes but answers no query while a caught-up replica can (the query planner asks).
 * Recomputed when the backlog is sampled or a publication is read, never per query: the planner only
 * looks names up, and not even that while no backend is behind.
 *
 * The fleet's backlog comes from the leading sentinel's publication (every proxy's membership record,
 * summed); this proxy's own part of it is replaced by its spool as it is now, which the publication
 * shows only a heartbeat and a round later. Without a live publication (file config, no sentinel, or an
 * older sentinel that does not publish backlogs) the own spools alone decide.
 */
export class BackendReadFence implements ReadFence {
  private behindBy = new Map<string, number>();
  private signature = '';

  constructor(private readonly me: string) {}

  get active(): boolean {
    return this.behindBy.size > 0;
  }

  behind(backend: PlannerBackend): number {
    return this.behindBy.size === 0 ? 0 : (this.behindBy.get(backend.name) ?? 0);
  }

  /**
   * Takes a new sample: `own` gives this proxy's spooled records per backend name, `fleet` the live
   * publication's backlog (undefined: none to go by). Returns true when the set of behind backends changed.
   */
  update(own: ReadonlyMap<string, number>, fleet: Readonly<Record<string, FleetBacklog>> | undefined): boolean {
    const next = new Map<string, number>();
    for (const [name, records] of own) if (records > 0) next.set(name, records);
    if (fleet) {
      for (const [name, entry] of Object.entries(fleet)) {
        const others = entry.records - (entry.proxies[this.me] ?? 0);
        if (others > 0) next.set(name, (next.get(name) ?? 0) + others);
      }
    }
    this.behindBy = next;
    const signature = [...next.keys()].sort().join(',');
    if (signature === this.signature) return false;
    this.signature = signature;
    return true;
  }

  /** Backend name → records waiting fleet-wide, for the backends that are read-behind now (for /meta). */
  describe(): Record<string, number> {
    return Object.fromEntries(this.behindBy);
  }
}
