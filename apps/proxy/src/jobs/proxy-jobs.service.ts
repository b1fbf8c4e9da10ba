import { JobStore } from '@app/cluster-store';
import { JobEngine, type JobPlan, type JobRecord, type JobRequest } from '@app/data-movement/job-model';
import { JobRunner } from '@app/data-movement/job-runner';
import { submitJob } from '@app/data-movement/job-runner-admin';
import { JobMetrics } from '@app/data-movement/job-runner-metrics';
import { newJobRecord } from '@app/cluster-store';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DEFAULT_JOB_POINTS_PER_SECOND, type ProxyOptions } from '../cli/proxy-options';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { ProxyMetrics } from '../metrics/proxy-metrics';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { groupChannel } from '../workers/group-channel';
import { JobWatch } from './job-watch.service';

/** Every proxy reads the jobs once a second: a job waits twice that before it moves data (JobRunner's settleMs). */
export const JOB_SETTLE_MS = 2_000;

/** The job state file a proxy on a config file keeps, and whether this process only reads it (workers other than 0). */
export function jobStateOf(options: ProxyOptions): { path: string; readOnly: boolean } | undefined {
  if (options.store.kind !== 'file' || !options.jobStateFile) return undefined;
  return { path: options.jobStateFile, readOnly: groupChannel.slot !== 0 };
}

/**
 * Data-movement jobs on a proxy. With Redis or etcd the sentinel leader runs them and this proxy only
 * records and shows them (POST /admin/jobs writes into the store). With a config file there is nobody
 * else: the proxy runs them itself with the same runner, from its state file — only the single process
 * or worker 0 (the one process that writes the file).
 */
@Injectable()
export class ProxyJobsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Jobs');
  readonly runner?: JobRunner;
  readonly metrics: JobMetrics;

  constructor(
    readonly store: JobStore,
    private readonly engine: JobEngine,
    private readonly cluster: ClusterStateService,
    private readonly watch: JobWatch,
    metrics: ProxyMetrics,
    @Inject(PROXY_OPTIONS) options: ProxyOptions,
  ) {
    this.metrics = new JobMetrics(metrics.registry, 'influxdb_proxy_');
    watch.onJobs = (jobs) => this.metrics.setJobs(jobs);
    if (store.scope === 'process' && groupChannel.slot === 0) {
      this.runner = new JobRunner({
        name: options.node,
        store,
        engine,
        config: () => cluster.topology.config,
        canRun: () => true,
        defaultPointsPerSecond: options.jobPointsPerSecond ?? DEFAULT_JOB_POINTS_PER_SECOND,
        settleMs: JOB_SETTLE_MS,
        log: (level, message) => this.logger[level](message),
        observe: (job) => this.metrics.observe(job),
      });
    }
  }

  /** Who runs the jobs this proxy shows. */
  get runs(): 'this proxy' | 'the sentinel leader' | 'worker 0' {
    return this.runner ? 'this proxy' : this.store.scope === 'store' ? 'the sentinel leader' : 'worker 0';
  }

  onApplicationBootstrap(): void {
    this.runner?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner?.stop();
    await this.engine.close();
  }

  /** Plans (dry run) or records a job; JobRefusedError when it cannot be. */
  async submit(request: JobRequest, dryRun: boolean): Promise<{ plan: JobPlan } | { job: JobRecord }> {
    const result = await submitJob(this.store, this.engine, this.cluster.topology.config, request, {
      dryRun,
      newRecord: (r) => newJobRecord(r),
    });
    if ('job' in result) {
      this.logger.log(`job ${result.job.id} recorded (${result.job.request.kind}); run by ${this.runs}`);
      await this.watch.refresh(); // this proxy fences / re-routes at once
      this.runner?.poke();
    }
    return result;
  }

  async cancel(id: string): Promise<JobRecord | null> {
    const job = await this.store.cancel(id);
    if (job?.state === 'cancelled') {
      this.logger.log(`job ${id} cancelled`);
      await this.watch.refresh();
    }
    return job;
  }
}
