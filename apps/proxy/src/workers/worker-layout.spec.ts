import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupLogSettings, orphanSpoolWarnings, workerSpoolDir } from './worker-layout';

describe('worker layout', () => {
  it("keeps worker 0's spools where a single process keeps them", () => {
    expect(workerSpoolDir('/s', 0)).toBe('/s');
    expect(workerSpoolDir('/s', 2)).toBe('/s/+worker-2');
  });

  it('warns of worker spools beyond --workers, and of no others', () => {
    const root = mkdtempSync(join(tmpdir(), 'worker-layout-'));
    try {
      for (const d of ['a', '+worker-1', '+worker-3']) mkdirSync(join(root, d));
      expect(orphanSpoolWarnings(root, 2)).toEqual([
        `spool directory ${join(root, '+worker-3')} belongs to worker 3, beyond --workers 2: its backlog is not replayed until the proxy runs with at least 4 workers`,
      ]);
      expect(orphanSpoolWarnings(root, 1)).toHaveLength(2);
      expect(orphanSpoolWarnings(root, 4)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('gives each process its own file only where the proxy rotates the log itself', () => {
    const plain = { logLevel: 'info', logFilePath: '/l/proxy.log' };
    expect(groupLogSettings(plain, 1)).toBe(plain);
    const rotated = { ...plain, logRotation: { size: '10M', keep: 3, compress: false } };
    expect(groupLogSettings(rotated, 0).logFilePath).toBe('/l/proxy.log');
    expect(groupLogSettings(rotated, 1).logFilePath).toBe('/l/proxy.log.worker-1');
    expect(groupLogSettings(rotated, 'supervisor').logFilePath).toBe('/l/proxy.log.supervisor');
  });
});
