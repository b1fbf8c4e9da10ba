import type { BackendHealth } from '@app/cluster-store';

/** One probe of a backend: GET /ping, then SHOW DATABASES. */
export interface ProbeResult {
  ok: boolean;
  /** Why it failed. */
  error?: string;
  version?: string;
  /** Epoch ms when it finished. */
  at: number;
}

/** A proxy saying that writes to the backend fail there (from its membership record). */
export interface WriteFailureReport {
  proxy: string;
  since: number;
  error: string;
}

export interface ProbeThresholds {
  /** Consecutive failed probes that mark an up backend down. */
  downAfter: number;
  /** Consecutive good probes that bring a down backend up. */
  upAfter: number;
  /** Proxies reporting failing writes that mark an up backend down for everyone (0: reports are ignored). */
  writeFailureReports: number;
}

export type Transition = { to: 'up' } | { to: 'down'; reason: 'probe' | 'write-failures'; error: string };

/**
 * One backend's verdict: unknown until its first probe, which decides at once; then down after `downAfter`
 * failed probes in a row and up after `upAfter` good ones. Proxies that report failing writes mark it down
 * even while it answers probes, and it comes back only after `upAfter` good probes once the reports stop.
 */
export class ProbeState {
  private up: boolean | undefined;
  private since = 0;
  private lastError: string | null = null;
  private version: string | null = null;
  private checkedAt = 0;
  private failures = 0;
  private successes = 0;
  private reason: BackendHealth['reason'] = null;
  private reported = false;

  constructor(private readonly thresholds: ProbeThresholds) {}

  /** Carries on from a previous leader's verdict, so a takeover does not flap the backend. */
  adopt(health: BackendHealth): void {
    this.up = health.up;
    this.since = health.since;
    this.lastError = health.lastError;
    this.version = health.version;
    this.checkedAt = health.checkedAt;
    this.reason = health.reason;
    this.failures = 0;
    this.successes = 0;
  }

  get isUp(): boolean | undefined {
    return this.up;
  }

  /** Counts one probe; returns the change of verdict it caused, if any. */
  record(result: ProbeResult): Transition | undefined {
    this.checkedAt = result.at;
    if (result.version) this.version = result.version;
    if (result.ok) {
      this.failures = 0;
      if (this.up === true) return undefined;
      if (this.up === undefined) return this.goUp(result.at);
      if (this.reported) return undefined; // proxies still report failing writes
      return ++this.successes >= this.thresholds.upAfter ? this.goUp(result.at) : undefined;
    }
    const error = result.error ?? 'probe failed';
    this.successes = 0;
    this.lastError = error;
    if (this.up === false) {
      this.reason = 'probe';
      return undefined;
    }
    if (this.up === undefined || ++this.failures >= this.thresholds.downAfter) return this.goDown(result.at, 'probe', error);
    return undefined;
  }

  /** Applies the proxies' current reports of failing writes; returns the change of verdict, if any. */
  applyReports(reports: readonly WriteFailureReport[], now: number): Transition | undefined {
    const threshold = this.thresholds.writeFailureReports;
    this.reported = threshold > 0 && reports.length >= threshold;
    if (!this.reported) return undefined;
    this.successes = 0;
    if (this.up !== true) return undefined;
    const who = reports.map((r) => r.proxy).join(', ');
    const error = `writes fail at proxy ${who}: ${reports[0].error}`;
    this.lastError = error;
    return this.goDown(now, 'write-failures', error);
  }

  /** What the leader publishes; undefined until the first probe has answered. */
  health(by: string): BackendHealth | undefined {
    if (this.up === undefined) return undefined;
    return {
      up: this.up,
      since: this.since,
      lastError: this.lastError,
      version: this.version,
      checkedAt: this.checkedAt,
      by,
      reason: this.up ? null : this.reason,
    };
  }

  private goUp(at: number): Transition {
    this.up = true;
    this.since = at;
    this.successes = 0;
    this.reason = null;
    return { to: 'up' };
  }

  private goDown(at: number, reason: 'probe' | 'write-failures', error: string): Transition {
    this.up = false;
    this.since = at;
    this.failures = 0;
    this.reason = reason;
    return { to: 'down', reason, error };
  }
}
