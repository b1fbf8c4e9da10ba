import type { WriteOutcome } from './write-outcome';

/**
 * What a Backend tells about its batches as they happen, so that the app can count them (metrics)
 * without this library knowing how. Called on the write path: implementations must be cheap and
 * must not throw.
 */
export interface BackendObserver {
  /** A batch was sent to the backend and answered (or failed) after `seconds`. */
  batchSent(lines: number, seconds: number, outcome: WriteOutcome): void;
  /** A batch was fsynced in the backend's spool (it is acknowledged from there). */
  spooled(lines: number): void;
  /** The spool refused a batch (`full`: its cap; `disk`: the disk failed): the write is answered 503. */
  spoolRefused(lines: number, why: 'full' | 'disk'): void;
  /** The replay loop delivered a spooled record (or a line-aligned part of one). */
  replayed(lines: number, outcome: WriteOutcome): void;
  /** The backend refused a replayed record for good: it was moved to the rejected-record store. */
  setAside(lines: number): void;
  /** An operator dropped set-aside records. */
  rejectedDropped(lines: number): void;
}

/** Observes nothing. */
export const NO_OBSERVER: BackendObserver = Object.freeze({
  batchSent() {},
  spooled() {},
  spoolRefused() {},
  replayed() {},
  setAside() {},
  rejectedDropped() {},
});
