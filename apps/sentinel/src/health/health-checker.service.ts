import type { BackendHealth, SentinelState } from '@app/cluster-store';
import type { BackendConfig } from '@app/config';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { SentinelOptions } from '../cli/sentinel-options';
import { SENTINEL_OPTIONS } from '../sentinel-options.token';
import { BackendProber } from './backend-prober';
import { ProbeState, type Transition, type WriteFailureReport } from './probe-state';

interface Checked {
  prober: BackendProber;
  state: ProbeState;
  probing?: Promise<void>;
}

/**
 * The leader's view of every configured backend: one prober and one downAfter/upAfter verdict each. Probes
 * run side by side and never overlap per backend, so a hanging backend delays only its own verdict.
 */
@Injectable()
export class HealthChecker implements OnModuleDestroy {
  private readonly logger = new Logger(HealthChecker.name);
  private readonly backends = new Map<string, Checked>();

  constructor(@Inject(SENTINEL_OPTIONS) private readonly options: SentinelOptions) {}

  /** Follows the config: new backends get a prober, changed ones a new one (and a fresh verdict), removed ones go. */
  setBackends(configs: Record<string, BackendConfig>): void {
    for (const [name, checked] of this.backends) {
      const next = configs[name];
      if (next && JSON.stringify(next) === JSON.stringify(checked.prober.config)) continue;
      this.backends.delete(name);
      void checked.prober.close().catch(() => undefined);
    }
    for (const [name, config] of Object.entries(configs)) {
      if (this.backends.has(name)) continue;
      this.backends.set(name, {
        prober: new BackendProber(name, config, this.options.timeoutMs),
        state: new ProbeState(this.options),
      });
    }
  }

  /** Carries on from the previous leader's verdicts. */
  adopt(state: SentinelState | null): void {
    for (const [name, checked] of this.backends) {
      const previous = state?.backends[name];
      checked.state = new ProbeState(this.options);
      if (previous) checked.state.adopt(previous);
    }
  }

  /** Starts a probe of every backend that has none running. */
  probeAll(): void {
    for (const [name, checked] of this.backends) {
      if (checked.probing) continue;
      checked.probing = checked.prober
        .probe()
        .then((result) => {
          if (this.backends.get(name) !== checked) return; // replaced meanwhile
          this.log(name, checked.state.record(result));
        })
        .finally(() => {
          checked.probing = undefined;
        });
    }
  }

  /** Applies the proxies' reports of failing writes, per backend. */
  applyReports(reports: ReadonlyMap<string, WriteFailureReport[]>, now: number): void {
    for (const [name, checked] of this.backends) this.log(name, checked.state.applyReports(reports.get(name) ?? [], now));
  }

  /** Every backend with a verdict, as published by `by`. */
  snapshot(by: string): Record<string, BackendHealth> {
    const out: Record<string, BackendHealth> = {};
    for (const [name, checked] of this.backends) {
      const health = checked.state.health(by);
      if (health) out[name] = health;
    }
    return out;
  }

  /** What the slot planner needs: the verdict and the write timeout of each backend. */
  plannerView(): Record<string, { up: boolean; timeoutMs: number }> {
    const out: Record<string, { up: boolean; timeoutMs: number }> = {};
    for (const [name, checked] of this.backends) {
      out[name] = { up: checked.state.isUp === true, timeoutMs: checked.prober.config.timeout };
    }
    return out;
  }

  /** The longest write timeout of any backend. */
  get maxTimeoutMs(): number {
    return Math.max(0, ...[...this.backends.values()].map((c) => c.prober.config.timeout));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.backends.values()].map((c) => c.probing));
    await Promise.all([...this.backends.values()].map((c) => c.prober.close().catch(() => undefined)));
    this.backends.clear();
  }

  private log(name: string, transition: Transition | undefined): void {
    if (!transition) return;
    if (transition.to === 'up') this.logger.log(`backend ${name} is up`);
    else this.logger.warn(`backend ${name} is down (${transition.reason}): ${transition.error}`);
  }
}
