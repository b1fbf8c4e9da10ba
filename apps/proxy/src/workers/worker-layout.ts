import type { LogSettings } from '@app/logging';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/*
 * Where each process of a proxy keeps its spool, inside --spool-dir:
 *
 *   <spool-dir>/+lock              the group's lock (the supervisor's, or the single process's)
 *   <spool-dir>/+worker-<i>.lock   worker i's lock
 *   <spool-dir>/<backend>/         worker 0's spools: the very layout of a single process, so a spool
 *                                  written by `--workers 1` (or an older release) is replayed by worker 0
 *                                  in place, and worker 0's by a later `--workers 1`
 *   <spool-dir>/+worker-<i>/<backend>/   worker i's spools (i ≥ 1)
 *
 * A backend's directory is its name through encodeURIComponent, which always encodes `+`: no backend
 * name can collide with these entries.
 */

/** The environment variable telling a forked worker its slot (0 … workers-1). */
export const WORKER_SLOT_ENV = 'INFLUXDB_PROXY_WORKER_SLOT';

/** Exit code of a process that found its spool directory owned by another live process. */
export const EXIT_SPOOL_LOCKED = 3;

export function groupLockPath(spoolRoot: string): string {
  return join(spoolRoot, '+lock');
}

export function workerLockPath(spoolRoot: string, slot: number): string {
  return join(spoolRoot, `+worker-${slot}.lock`);
}

/** The directory holding worker `slot`'s per-backend spools. */
export function workerSpoolDir(spoolRoot: string, slot: number): string {
  return slot === 0 ? spoolRoot : join(spoolRoot, `+worker-${slot}`);
}

/** `+worker-<i>` directory names in the spool root, with their slot. */
export function workerSlotOfDir(name: string): number | undefined {
  const m = /^\+worker-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Worker spools beyond the slots now configured are replayed by nobody: one warning for each, said at start. */
export function orphanSpoolWarnings(spoolRoot: string, workers: number): string[] {
  let names: string[];
  try {
    names = readdirSync(spoolRoot);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const slot = workerSlotOfDir(name);
    if (slot === undefined || slot < workers) continue;
    out.push(
      `spool directory ${join(spoolRoot, name)} belongs to worker ${slot}, beyond --workers ${workers}: ` +
        `its backlog is not replayed until the proxy runs with at least ${slot + 1} workers`,
    );
  }
  return out;
}

/**
 * The log file of one process of a group. Appending to one file is safe from several processes (each
 * line is appended whole), so without rotation they all share `--log-file-path`, and an external
 * logrotate's SIGHUP reaches them all (the supervisor passes it on). A file the proxy rotates itself
 * (`--log-rotate-size` / `--log-rotate-interval`) must have one rotating writer: worker 0 keeps the
 * path, worker i writes `<path>.worker-<i>`, the supervisor `<path>.supervisor`, each rotated on its own.
 */
export function groupLogSettings<T extends LogSettings>(settings: T, who: number | 'supervisor'): T {
  const path = settings.logFilePath;
  const rotates = settings.logRotation && (settings.logRotation.size !== undefined || settings.logRotation.interval !== undefined);
  if (!path || !rotates || who === 0) return settings;
  return { ...settings, logFilePath: who === 'supervisor' ? `${path}.supervisor` : `${path}.worker-${who}` };
}
