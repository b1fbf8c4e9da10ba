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
 *
 * A backend that an unfinished `recover` data-movement job is refilling is read-behind as well, for
 * every proxy (they learn it from the job store), until the job is done.
 */
/**
 * How far behind a backend under recovery counts: more than any replay backlog, so when every replica
 * is behind, one with a backlog answers before one still being refilled.
 */
const RECOVERING_WEIGHT = 1e12;

export class BackendReadFence implements ReadFence {
  private behindBy = new Map<string, number>();
  private signature = '';
  /** Backends an unfinished `recover` job is refilling (from the job store): behind any backlog. */
  private recovering: ReadonlySet<string> = new Set();

  constructor(private readonly me: string) {}

  get active(): boolean {
    return this.behindBy.size > 0 || this.recovering.size > 0;
  }

  behind(backend: PlannerBackend): number {
    if (!this.active) return 0;
    const records = this.behindBy.get(backend.name) ?? 0;
    return this.recovering.size > 0 && this.recovering.has(backend.name) ? records + RECOVERING_WEIGHT : records;
  }

  /** A backend being recovered is named so in the read-behind header, not by a made-up record count. */
  describeBehind(backend: PlannerBackend): string {
    const records = this.behindBy.get(backend.name) ?? 0;
    if (!this.recovering.has(backend.name)) return `${backend.name} (${records} records waiting)`;
    return records > 0 ? `${backend.name} (being recovered, ${records} records waiting)` : `${backend.name} (being recovered)`;
  }

  /** The backends under recovery now; true when the set changed. */
  setRecovering(names: readonly string[]): boolean {
    const next = [...new Set(names)].sort();
    if (next.join(',') === [...this.recovering].join(',')) return false;
    this.recovering = new Set(next);
    return true;
  }

  /** The backends read-behind because a `recover` job is refilling them (for /meta). */
  recoveringBackends(): string[] {
    return [...this.recovering];
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
