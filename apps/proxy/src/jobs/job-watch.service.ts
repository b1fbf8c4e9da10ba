import { fingerprint, JobStore, withTimeout } from '@app/cluster-store';
import type { JobRecord } from '@app/data-movement/job-model';
import { rebalanceRoutingBefore, recoveringBackends } from '@app/data-movement/job-runner-admin';
import type { RoutingConfig } from '@app/router';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Subject } from 'rxjs';
import { SentinelViewService } from '../sentinel/sentinel-view.service';

/** How often the job store is read: a recover's read fence and a rebalance's routes follow within this. */
const POLL_MS = 1_000;
/** A read of the store that takes longer is given up (the last jobs read stay in force). */
const READ_TIMEOUT_MS = 2_000;

/**
 * What this proxy knows of the data-movement jobs, read from the job store every second (the store the
 * sentinels run them from, or this proxy's own state file): the backends under recovery (read-behind
 * for every query), and the keymaps before an unfinished rebalance (the topology routes writes to old
 * and new owners and queries to the old ones). ClusterStateService re-reads it before applying a new
 * config, so a topology is never built with new keymaps without knowing the rebalance that follows them.
 */
@Injectable()
export class JobWatch implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Jobs');
  private timer?: NodeJS.Timeout;
  private reading?: Promise<void>;
  private running = false;
  private last: readonly JobRecord[] = [];
  private readError?: string;
  private moving?: RoutingConfig;
  private movingPrint = '';
  private readonly movingChanged = new Subject<void>();
  /** Told of every list read (the job gauges). */
  onJobs?: (jobs: readonly JobRecord[]) => void;
  /** Emits when a rebalance starts or ends (the topology must be rebuilt with the routes it asks for). */
  readonly rebalanceChanges = this.movingChanged.asObservable();

  constructor(
    readonly store: JobStore,
    private readonly sentinel: SentinelViewService,
  ) {}

  /** The routing in force before the unfinished rebalance, if one is under way. */
  get routingBefore(): RoutingConfig | undefined {
    return this.moving;
  }

  /** The jobs as last read (oldest first), and why the last read failed. */
  get jobs(): { jobs: readonly JobRecord[]; error?: string } {
    return { jobs: this.last, ...(this.readError ? { error: this.readError } : {}) };
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.reading;
    this.movingChanged.complete();
  }

  /** Reads the store now (one read at a time: a caller during a read waits for it and reads again). */
  async refresh(): Promise<void> {
    while (this.reading) await this.reading;
    this.reading = this.read().finally(() => (this.reading = undefined));
    await this.reading;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, POLL_MS);
    this.timer.unref();
  }

  private async read(): Promise<void> {
    let jobs: JobRecord[];
    try {
      jobs = await withTimeout(this.store.list(), READ_TIMEOUT_MS, `no answer within ${READ_TIMEOUT_MS} ms`);
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.readError) this.logger.warn(`cannot read the data-movement jobs: ${message}; the last ones read stay in force`);
      this.readError = message;
      return;
    }
    this.readError = undefined;
    this.last = jobs;
    this.onJobs?.(jobs);
    const recovering = recoveringBackends(jobs);
    if (this.sentinel.readFence.setRecovering(recovering)) {
      this.logger.log(
        recovering.length > 0
          ? `read-behind while recovering: ${recovering.join(', ')}; queries go to their replicas`
          : 'no backend is being recovered any more',
      );
    }
    const moving = rebalanceRoutingBefore(jobs);
    const print = moving ? fingerprint(moving) : '';
    if (print !== this.movingPrint) {
      this.moving = moving;
      this.movingPrint = print;
      this.logger.log(
        moving
          ? 'a rebalance is under way: moving measurements are written to their old and new owners and read from the old ones'
          : 'no rebalance under way: the keymaps alone route',
      );
      this.movingChanged.next();
    }
  }
}
