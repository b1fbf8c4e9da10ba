import type { JobCursor, JobPlan, JobProgress, JobStep } from './job-model';
import { windowCount, windowsBefore } from './time-windows';

/** Windows whose pace the rate is taken over. */
const RATE_WINDOWS = 20;

/** A step's windows (a schema or drop step counts as one). */
export function stepWindows(step: JobStep): number {
  return step.op === 'copy' || step.op === 'compare' ? windowCount(step.span, step.windowMs) : 1;
}

/** Windows a cursor has finished. */
export function windowsDoneAt(plan: JobPlan, cursor: JobCursor): number {
  let done = 0;
  for (let i = 0; i < Math.min(cursor.step, plan.steps.length); i++) done += stepWindows(plan.steps[i]);
  const step = plan.steps[cursor.step];
  if (step && (step.op === 'copy' || step.op === 'compare') && cursor.windowStart !== undefined) {
    done += windowsBefore(step.span, step.windowMs, cursor.windowStart);
  }
  return done;
}

/**
 * Counts a running job's progress: windows, points and bytes, the rate over the last windows and the
 * time left at that rate. Starts from a stored progress when the job is resumed.
 */
export class ProgressMeter {
  readonly windowsTotal: number;
  windowsDone: number;
  pointsCopied: number;
  bytesCopied: number;
  windowsStillDiffering: number;
  private readonly samples: { at: number; points: number; windows: number }[] = [];
  private rate = 0;

  constructor(
    private readonly plan: JobPlan,
    cursor: JobCursor,
    previous: JobProgress | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.windowsTotal = plan.steps.reduce((n, s) => n + stepWindows(s), 0);
    this.windowsDone = windowsDoneAt(plan, cursor);
    this.pointsCopied = previous?.pointsCopied ?? 0;
    this.bytesCopied = previous?.bytesCopied ?? 0;
    this.windowsStillDiffering = previous?.windowsStillDiffering ?? 0;
    this.samples.push({ at: this.now(), points: this.pointsCopied, windows: this.windowsDone });
  }

  /** Counts one finished window (or schema/drop step) and returns the progress to report with `cursor`. */
  windowDone(cursor: JobCursor, points: number, bytes: number): JobProgress {
    this.windowsDone++;
    this.pointsCopied += points;
    this.bytesCopied += bytes;
    const at = this.now();
    this.samples.push({ at, points: this.pointsCopied, windows: this.windowsDone });
    if (this.samples.length > RATE_WINDOWS + 1) this.samples.shift();
    const first = this.samples[0];
    const seconds = (at - first.at) / 1000;
    if (seconds > 0) this.rate = (this.pointsCopied - first.points) / seconds;
    return {
      cursor,
      windowsDone: this.windowsDone,
      windowsTotal: this.windowsTotal,
      pointsCopied: this.pointsCopied,
      bytesCopied: this.bytesCopied,
      rate: Math.round(this.rate),
      etaSeconds: this.eta(at),
      updatedAt: at,
      ...(this.windowsStillDiffering > 0 ? { windowsStillDiffering: this.windowsStillDiffering } : {}),
    };
  }

  private eta(at: number): number | null {
    const windowsLeft = this.windowsTotal - this.windowsDone;
    if (windowsLeft <= 0) return 0;
    const pointsLeft = this.plan.estimatedPoints - this.pointsCopied;
    if (this.rate > 0 && pointsLeft > 0) return Math.round(pointsLeft / this.rate);
    // nothing (more) to copy by the estimate: the pace of windows says it
    const first = this.samples[0];
    const windows = this.windowsDone - first.windows;
    if (windows <= 0) return null;
    return Math.round((((at - first.at) / 1000) * windowsLeft) / windows);
  }
}
