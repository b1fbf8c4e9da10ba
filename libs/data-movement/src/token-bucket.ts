/**
 * A token bucket on points for the copy throttle, shared by every step of a job so the rate holds over
 * the whole job. A batch takes its points at once and may overdraw the bucket; the next taker waits
 * until the debt is repaid. Starting empty with a small burst keeps the long-run rate within a
 * fraction of a percent of the limit even for batches larger than a second's worth.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param perSecond points per second (0 or less: unlimited)
   * @param burst points that may go at once after an idle spell (default: a tenth of a second's worth)
   */
  constructor(
    readonly perSecond: number,
    private readonly burst = Math.max(1, perSecond / 10),
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = 0;
    this.last = this.now();
  }

  get unlimited(): boolean {
    return !(this.perSecond > 0);
  }

  /** The ms to wait before `points` may go; takes them (the wait repays any overdraw). */
  reserve(points: number): number {
    if (this.unlimited) return 0;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    const waitMs = this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.perSecond;
    this.tokens -= points;
    return waitMs;
  }

  /** Waits until `points` may go (rejects when `signal` aborts). */
  async take(points: number, signal?: AbortSignal): Promise<void> {
    const waitMs = this.reserve(points);
    if (waitMs > 0) await sleep(waitMs, signal);
  }
}

/** setTimeout as a promise that rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error a run rejects with when aborted: the signal's own reason when it is an Error. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return Object.assign(new Error(typeof reason === 'string' ? reason : 'the job was aborted'), { name: 'AbortError' });
}
