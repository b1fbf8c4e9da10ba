import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpoolDirLock, SpoolLockedError } from './spool-lock';

describe('SpoolDirLock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spool-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the owner PID and removes the file on release', () => {
    const path = join(dir, '+lock');
    const lock = SpoolDirLock.acquire(path);
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a lock whose owner is alive, naming its PID', () => {
    const path = join(dir, '+lock');
    // PID 1 is always alive
    writeFileSync(path, '1\n');
    expect(() => SpoolDirLock.acquire(path)).toThrow(SpoolLockedError);
    expect(() => SpoolDirLock.acquire(path)).toThrow(/live process 1\b/);
  });

  it('takes over a lock left by a dead process', () => {
    const path = join(dir, '+lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(path, `${dead}\n`);
    const lock = SpoolDirLock.acquire(path);
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('takes over an empty (half-written) lock file', () => {
    const path = join(dir, '+lock');
    writeFileSync(path, '');
    SpoolDirLock.acquire(path).release();
  });
});
