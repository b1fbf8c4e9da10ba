import type { ClusterConfig } from '@app/config';
import { RoutingTable, isMultiDb } from './routing-table';

/** A measurement, in the client's database. */
export interface MeasurementRef {
  db: string;
  name: string;
}

/** A measurement whose backends change between two configs. */
export interface Move extends MeasurementRef {
  from: string[];
  to: string[];
  fromGroup?: string;
  toGroup?: string;
}

export interface MovePlan {
  /** Measurements looked at. */
  total: number;
  moves: Move[];
  /** Measurements no keymap of the new config takes (their writes would be refused). */
  unroutable: MeasurementRef[];
}

/**
 * Which of `measurements` would live on other backends under `after` than under `before` (as seen by
 * proxy node `node`, whose `databases` decides whether the db takes part in the keys). The data copy
 * itself is the data-movement rebalance job's.
 */
export function planMoves(
  before: Pick<ClusterConfig, 'keymaps' | 'hashKeymaps' | 'groups' | 'proxies'>,
  after: Pick<ClusterConfig, 'keymaps' | 'hashKeymaps' | 'groups' | 'proxies'>,
  measurements: readonly MeasurementRef[],
  node = 'p1',
): MovePlan {
  const old = new RoutingTable(before, isMultiDb(before, node));
  const next = new RoutingTable(after, isMultiDb(after, node));
  const moves: Move[] = [];
  const unroutable: MeasurementRef[] = [];
  for (const m of measurements) {
    const was = old.resolve(m.db, m.name);
    const will = next.resolve(m.db, m.name);
    if (!will) {
      unroutable.push({ db: m.db, name: m.name });
      continue;
    }
    const from = was ? [...new Set(was.backends)].sort() : [];
    const to = [...new Set(will.backends)].sort();
    if (from.length === to.length && from.every((b, i) => b === to[i])) continue;
    const move: Move = { db: m.db, name: m.name, from, to };
    if (was?.group !== undefined) move.fromGroup = was.group;
    if (will.group !== undefined) move.toGroup = will.group;
    moves.push(move);
  }
  return { total: measurements.length, moves, unroutable };
}
