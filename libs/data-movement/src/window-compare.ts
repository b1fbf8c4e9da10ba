import { quoteIdent } from '@app/influxql';
import { showRows } from './backend-discovery';
import type { CompareStep, TimeWindow } from './job-model';
import { type CopyContext, copyWindow } from './window-copier';

/** Field → points with that field, in one window of one replica. */
export type FieldCounts = Record<string, number>;

export interface CompareResult {
  /** Whether the counts differed at first (then the window was copied both ways). */
  readonly differed: boolean;
  /** Whether they still differ after the copy. */
  readonly stillDiffers: boolean;
  readonly points: number;
  readonly bytes: number;
  /** Each replica's counts, first and (when copied) after. */
  readonly before: Readonly<Record<string, FieldCounts>>;
  readonly after?: Readonly<Record<string, FieldCounts>>;
}

/** `count(*)` per field of one window on one replica (an empty object when it holds none there). */
export async function windowCounts(
  ctx: CopyContext,
  replica: string,
  step: Pick<CompareStep, 'measurement' | 'rp'>,
  window: TimeWindow,
): Promise<FieldCounts> {
  const text = `SELECT count(*) FROM ${quoteIdent(step.measurement)} WHERE time >= ${window.start}ms AND time < ${window.end}ms`;
  const rows = await showRows(ctx.clientOf(replica), text, step.rp);
  const out: FieldCounts = {};
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      // influxd names them count_<field>
      if (k !== 'time' && typeof v === 'number' && v > 0) out[k.startsWith('count_') ? k.slice(6) : k] = v;
    }
  }
  return out;
}

export function sameCounts(a: FieldCounts, b: FieldCounts): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

function allSame(counts: Record<string, FieldCounts>): boolean {
  const list = Object.values(counts);
  return list.every((c) => sameCounts(c, list[0]));
}

async function countsOn(ctx: CopyContext, step: CompareStep, window: TimeWindow): Promise<Record<string, FieldCounts>> {
  const out: Record<string, FieldCounts> = {};
  for (const r of step.replicas) out[r] = await windowCounts(ctx, r, step, window);
  return out;
}

/**
 * Compares one window: per-field counts on every replica; where they differ, the window is copied from
 * each replica that holds points there to every other (the union, points being idempotent), then
 * counted again. Counts that still differ are reported, not retried: the job moves on.
 */
export async function compareWindow(ctx: CopyContext, step: CompareStep, window: TimeWindow): Promise<CompareResult> {
  const before = await countsOn(ctx, step, window);
  if (allSame(before)) return { differed: false, stillDiffers: false, points: 0, bytes: 0, before };
  let points = 0;
  let bytes = 0;
  for (const source of step.replicas) {
    if (Object.keys(before[source]).length === 0) continue;
    const targets = step.replicas.filter((r) => r !== source);
    const copied = await copyWindow(ctx, { measurement: step.measurement, rp: step.rp, sources: [source], targets }, window);
    points += copied.points * targets.length;
    bytes += copied.bytes * targets.length;
  }
  const after = await countsOn(ctx, step, window);
  return { differed: true, stillDiffers: !allSame(after), points, bytes, before, after };
}
