/**
 * Whether a backend's spool may be replayed now. Without a sentinel every proxy replays on its own
 * (OPEN_REPLAY_GATE); with one, the leading sentinel hands out replay slots and the gate stays shut
 * for a backend until this proxy holds a slot for it, so a recovering InfluxDB is not stampeded by
 * every proxy's backlog at once. Also the injection token of the app's gate.
 */
export abstract class ReplayGate {
  /** Asked before the replay loop starts and before each record it sends; must be cheap. */
  abstract mayReplay(backend: string): boolean;
  /** The replay loop found the spool empty and stopped: a slot held for this backend can be given back. */
  abstract drained(backend: string): void;
}

/** Always open: what a proxy does when no sentinel coordinates replays. */
export const OPEN_REPLAY_GATE: ReplayGate = Object.freeze({
  mayReplay: () => true,
  drained: () => {},
});

/**
 * A backend's health as the leading sentinel published it, fed into the Backend by the app. While it
 * has not expired it overrides the Backend's own health checks; a write that fails still marks the
 * backend down at once for this proxy.
 */
export interface HealthOverride {
  up: boolean;
  /** Epoch ms (the sentinel's clock) of its last change. */
  since: number;
  lastError: string | null;
  /** The sentinel that decided it. */
  by: string;
  /** Local epoch ms after which it no longer counts (no live sentinel): the own checks decide again. */
  expiresAt: number;
}
