import type { TimeWindow } from './job-model';

/**
 * Window arithmetic for copy and compare steps. Windows are [start, end) in epoch ms, aligned to
 * multiples of the window size counted from the epoch, so planning the same span twice gives the same
 * windows and a cursor (a window's start) means the same thing to every process that reads it.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/**
 * The window sizes a plan may choose, smallest first: all divide a week evenly, so windows of
 * every size line up with influxd's default shard groups (7 days from the epoch's Thursday is
 * still a multiple of every size here) and one window never straddles two shard groups of that size.
 */
export const WINDOW_SIZES_MS: readonly number[] = [
  MINUTE_MS,
  5 * MINUTE_MS,
  15 * MINUTE_MS,
  HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
  DAY_MS,
  7 * DAY_MS,
];

/** The window size a plan uses when it knows nothing of the data's density. */
export const DEFAULT_WINDOW_MS = HOUR_MS;

/**
 * Points a window should hold at most (at the measurement's average density). Large enough that a
 * window's fixed cost (one SELECT, one progress record in the store, a compare's counts) is under a
 * percent of copying it; small enough that a window is copied in a second or two, so an interrupted
 * job repeats little and progress moves often.
 */
export const TARGET_POINTS_PER_WINDOW = 200_000;

/** `t` rounded down to a multiple of `size` (also for times before 1970). */
export function alignDown(t: number, size: number): number {
  return Math.floor(t / size) * size;
}

/** `t` rounded up to a multiple of `size`. */
export function alignUp(t: number, size: number): number {
  return Math.ceil(t / size) * size;
}

/** The aligned span that covers [firstMs, lastMs] (both inclusive: lastMs is a point's time). */
export function alignedSpan(firstMs: number, lastMs: number, windowMs: number): TimeWindow {
  return { start: alignDown(firstMs, windowMs), end: alignDown(lastMs, windowMs) + windowMs };
}

/**
 * The largest window size under which `points` spread evenly over [firstMs, lastMs] put at most
 * `target` points in one window (the smallest size when even that holds more).
 */
export function chooseWindowMs(points: number, firstMs: number, lastMs: number, target = TARGET_POINTS_PER_WINDOW): number {
  if (!(points > 0)) return DEFAULT_WINDOW_MS;
  const spanMs = Math.max(lastMs - firstMs, 1);
  let chosen = WINDOW_SIZES_MS[0];
  for (const size of WINDOW_SIZES_MS) {
    if ((points * Math.min(size, spanMs)) / spanMs <= target) chosen = size;
    else break;
  }
  return chosen;
}

/** How many windows `span` holds. */
export function windowCount(span: TimeWindow, windowMs: number): number {
  return Math.max(0, Math.ceil((span.end - span.start) / windowMs));
}

/** How many windows of `span` start before `from` (the windows a cursor at `from` has finished). */
export function windowsBefore(span: TimeWindow, windowMs: number, from: number): number {
  if (from <= span.start) return 0;
  return Math.min(windowCount(span, windowMs), Math.ceil((from - span.start) / windowMs));
}

/** The windows of `span` from the one holding `from` (absent: the first) to the end. */
export function* windowsFrom(span: TimeWindow, windowMs: number, from?: number): Generator<TimeWindow> {
  let start = from === undefined || from <= span.start ? span.start : span.start + windowsBefore(span, windowMs, from) * windowMs;
  // a cursor that is not on a window boundary (a plan made with another size) resumes at the window holding it
  if (from !== undefined && from > span.start && start > from) start -= windowMs;
  for (; start < span.end; start += windowMs) yield { start, end: Math.min(start + windowMs, span.end) };
}
