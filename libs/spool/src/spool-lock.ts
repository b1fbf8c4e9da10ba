import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/** Another live process holds the lock. */
export class SpoolLockedError extends Error {
  constructor(
    readonly path: string,
    readonly ownerPid: number,
  ) {
    super(`${path} is held by the live process ${ownerPid}: another proxy owns this spool directory`);
    this.name = 'SpoolLockedError';
  }
}

/**
 * A lock file that makes two live owners of one spool directory impossible: created with O_EXCL and
 * holding the owner's PID. A lock whose PID is no longer alive (the owner was killed, the machine
 * rebooted) is stale and taken over. Taking over is itself O_EXCL after the unlink, so of two
 * processes racing for a stale lock only one wins.
 *
 * The PID check cannot tell a recycled PID from the owner: a stale lock whose PID now belongs to an
 * unrelated process is refused, and the message names that PID so an operator can remove the file.
 */
export class SpoolDirLock {
  private constructor(
    readonly path: string,
    private held: boolean,
  ) {}

  /** Takes the lock at `path` for this process, or throws SpoolLockedError. */
  static acquire(path: string): SpoolDirLock {
    // two tries: the second after removing a stale lock (a racing process may have taken it meanwhile)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        try {
          writeSync(fd, `${process.pid}\n`);
        } finally {
          closeSync(fd);
        }
        return new SpoolDirLock(path, true);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = readOwner(path);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new SpoolLockedError(path, owner);
      // stale (dead owner), unreadable or half-written (the owner died between open and write), or ours from before
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const owner = readOwner(path);
    throw new SpoolLockedError(path, owner ?? -1);
  }

  /** Removes the lock file if it still names this process. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    if (readOwner(this.path) !== process.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone: nothing to release
    }
  }
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user — alive
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
