import { JobStore } from '@app/cluster-store';
import { JobEngine } from '@app/data-movement/job-model';
import { JobRunner } from '@app/data-movement/job-runner';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { DEFAULT_JOB_POINTS_PER_SECOND, type SentinelOptions } from '../cli/sentinel-options';
import { SENTINEL_OPTIONS } from '../sentinel-options.token';
import { SentinelService } from '../sentinel.service';
import { SentinelJobMetrics } from './sentinel-job-metrics';

/**
 * Proxies read the job store once a second: a new job waits this long before any data moves, so every
 * proxy fences a backend under recovery (or routes a rebalance) first.
 */
const JOB_SETTLE_MS = 2_000;

/**
 * The leader runs the data-movement jobs recorded in the store; a follower runs none. Elected, it looks
 * at the store at once (a job the previous leader left running is resumed at its stored cursor);
 * deposed, it aborts the job it runs at once, leaving it running in the store for the next leader.
 */
@Injectable()
export class SentinelJobsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Jobs');
  readonly runner: JobRunner;
  private roles?: Subscription;

  constructor(
    private readonly sentinel: SentinelService,
    readonly store: JobStore,
    private readonly engine: JobEngine,
    metrics: SentinelJobMetrics,
    @Inject(SENTINEL_OPTIONS) options: SentinelOptions,
  ) {
    this.runner = new JobRunner({
      name: options.name,
      store,
      engine,
      config: () => sentinel.clusterConfig,
      canRun: () => sentinel.leading,
      defaultPointsPerSecond: options.jobPointsPerSecond ?? DEFAULT_JOB_POINTS_PER_SECOND,
      settleMs: JOB_SETTLE_MS,
      log: (level, message) => this.logger[level](message),
      observe: (job) => metrics.observe(job),
    });
  }

  onApplicationBootstrap(): void {
    this.roles = this.sentinel.roleChanges.subscribe((role) => {
      if (role === 'leader') this.runner.poke();
      else this.runner.abort('deposed: no longer the leader');
    });
    this.runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.roles?.unsubscribe();
    await this.runner.stop();
    await this.engine.close();
  }
}
