import { type ClusterConfig, DEFAULT_KEYMAP } from '@app/config';
import { HashRing } from './hash-ring';

/** What routing reads of a cluster config (a ClusterConfig fits). */
export interface RoutingConfig {
  readonly keymaps: Readonly<Record<string, readonly string[]>>;
  readonly hashKeymaps?: Readonly<Record<string, readonly string[]>>;
  readonly groups?: Readonly<Record<string, readonly string[]>>;
}

/** Where a measurement's lines go: backend names, and the group when a hash keymap chose it. */
export interface Placement {
  readonly backends: readonly string[];
  /** The group a hash keymap placed the measurement in (absent for an explicit keymap entry). */
  readonly group?: string;
  /** The keymap key that decided (`db.m`, `m`, `db._default_` or `_default_`). */
  readonly key: string;
}

/**
 * (db, measurement) → backends, by name. Keys are looked up most specific first: `db.measurement`,
 * `measurement`, `db._default_`, `_default_` (the `db.` forms only for a proxy serving several
 * databases, so a single-database config whose measurement names hold dots keeps its meaning). An
 * explicit entry names its backends; a hash entry picks one of its groups by consistent hash of
 * `db NUL measurement` (of `measurement` alone for a single-database proxy, whose clients may name
 * the db differently while the data lands in one place).
 */
export class RoutingTable {
  private readonly rings = new Map<string, HashRing>();

  constructor(
    private readonly config: RoutingConfig,
    /** The proxy serves several databases (its node config has `databases`). */
    readonly multiDb: boolean,
  ) {}

  /** The keymap key deciding for (db, measurement), or undefined when none does. */
  keyFor(db: string, measurement: string): string | undefined {
    const { keymaps } = this.config;
    const hashed = this.config.hashKeymaps ?? {};
    const has = (k: string) => Object.prototype.hasOwnProperty.call(keymaps, k) || Object.prototype.hasOwnProperty.call(hashed, k);
    if (this.multiDb && has(`${db}.${measurement}`)) return `${db}.${measurement}`;
    if (has(measurement)) return measurement;
    if (this.multiDb && has(`${db}.${DEFAULT_KEYMAP}`)) return `${db}.${DEFAULT_KEYMAP}`;
    if (has(DEFAULT_KEYMAP)) return DEFAULT_KEYMAP;
    return undefined;
  }

  /** Where (db, measurement) lives, or null when no keymap takes it. `db` is ignored by a single-database proxy. */
  resolve(db: string, measurement: string): Placement | null {
    const key = this.keyFor(db, measurement);
    if (key === undefined) return null;
    const explicit = Object.prototype.hasOwnProperty.call(this.config.keymaps, key) ? this.config.keymaps[key] : undefined;
    if (explicit) return { backends: explicit, key };
    const groups = this.config.hashKeymaps![key];
    const group = this.ringOf(groups).locate(this.multiDb ? `${db}\u0000${measurement}` : measurement);
    return { backends: this.config.groups?.[group] ?? [], group, key };
  }

  /**
   * The backend sets a measurement of `db` that no key names may live in: the explicit default's one set,
   * or each group of a hash default; none when there is no default.
   */
  defaultSets(db: string): readonly (readonly string[])[] {
    const key = this.keyFor(db, DEFAULT_KEYMAP);
    if (key === undefined) return [];
    const groups = this.hashGroups(key);
    return groups ? groups.map((g) => this.groupBackends(g)) : [this.config.keymaps[key]];
  }

  /** The groups a hash keymap key spreads over (undefined for an explicit or unknown key). */
  hashGroups(key: string): readonly string[] | undefined {
    const hashed = this.config.hashKeymaps;
    return hashed && Object.prototype.hasOwnProperty.call(hashed, key) ? hashed[key] : undefined;
  }

  /** Backends of a group. */
  groupBackends(group: string): readonly string[] {
    return this.config.groups?.[group] ?? [];
  }

  private ringOf(groups: readonly string[]): HashRing {
    const id = groups.join('\u0000');
    let ring = this.rings.get(id);
    if (!ring) {
      ring = new HashRing(groups);
      this.rings.set(id, ring);
    }
    return ring;
  }
}

/** Whether a proxy node of `config` serves several databases (has `databases`). */
export function isMultiDb(config: Pick<ClusterConfig, 'proxies'>, node: string): boolean {
  return config.proxies[node]?.databases !== undefined;
}
