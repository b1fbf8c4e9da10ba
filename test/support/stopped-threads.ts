/** Whether a SIGSTOPped process has really stopped: kill() only queues the signal. */
import * as fs from 'node:fs';

/** Whether every thread of `pid` is in the stopped state (Linux /proc). */
export function allThreadsStopped(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state === 'T' || state === 't';
    });
  } catch {
    return false;
  }
}

/**
 * Sends SIGSTOP to `pid` and returns once every thread of it is stopped (at most 500 ms): a request
 * sent in between would otherwise still be answered.
 */
export function stopAndWait(pid: number): void {
  // never kill(-1 or 0, …): that would signal every process of the user, or the test's own group
  if (!(pid > 0)) throw new Error(`no process to stop (pid ${pid})`);
  process.kill(pid, 'SIGSTOP');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 500 && !allThreadsStopped(pid); i++) Atomics.wait(pause, 0, 0, 1);
}
