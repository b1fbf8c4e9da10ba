import { DEFAULT_KEYMAP } from '@app/config';
import { MeasurementRouter } from '@app/router';

type Keymaps = Readonly<Record<string, readonly string[]>>;
type Route = ReturnType<MeasurementRouter['routeByName']>;

/**
 * The routes while a rebalance job moves data: writes go to a measurement's old and new owners (the
 * union of the two keymaps), queries to its old owners (where its history is until the copy is done).
 * Built once per topology: the write path's routeRaw stays a cached lookup, reads a map lookup. A
 * measurement whose route did not change routes as before.
 */
export class RebalanceRouter {
  private readonly writes: MeasurementRouter;
  private readonly reads: MeasurementRouter;

  constructor(
    current: Keymaps,
    before: Keymaps,
    backendIndex: ReadonlyMap<string, number>,
    unescape: (buf: Buffer, start: number, end: number) => string,
  ) {
    // an old owner no longer in the config cannot be asked or written to
    const known = (names: readonly string[]) => names.filter((n) => backendIndex.has(n));
    const readMaps: Record<string, string[]> = {};
    for (const [m, names] of Object.entries(before)) readMaps[m] = known(names);
    // a measurement only the new keymaps name explicitly read where the old ones sent it (its default)
    for (const m of Object.keys(current)) if (!(m in readMaps) && before[DEFAULT_KEYMAP]) readMaps[m] = known(before[DEFAULT_KEYMAP]);
    const writeMaps: Record<string, string[]> = {};
    for (const m of new Set([...Object.keys(current), ...Object.keys(before)])) {
      const union = new Set([...routeOf(current, m), ...known(routeOf(before, m))]);
      writeMaps[m] = [...union];
    }
    this.writes = new MeasurementRouter(writeMaps, backendIndex, unescape);
    this.reads = new MeasurementRouter(readMaps, backendIndex, unescape);
  }

  /** Writes: the old and the new owners. */
  routeRaw(buf: Buffer, start: number, end: number, hash: number): Route {
    return this.writes.routeRaw(buf, start, end, hash);
  }

  /** Queries: the old owners. */
  routeByName(measurement: string): Route {
    return this.reads.routeByName(measurement);
  }
}

/** The backends `keymaps` sends `measurement` to (its own entry, else the default). */
function routeOf(keymaps: Keymaps, measurement: string): readonly string[] {
  return keymaps[measurement] ?? keymaps[DEFAULT_KEYMAP] ?? [];
}
