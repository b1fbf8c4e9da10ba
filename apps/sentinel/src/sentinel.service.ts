import {
  campaignId,
  type FleetBacklog,
  type LeaderCampaign,
  MembershipStore,
  type ProxyMember,
  type SentinelState,
  SentinelStore,
  withTimeout,
} from '@app/cluster-store';
import { type ClusterConfig, ConfigProvider } from '@app/config';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Subject, type Subscription } from 'rxjs';
import { type SentinelOptions, staleAfterMs } from './cli/sentinel-options';
import { HealthChecker } from './health/health-checker.service';
import { fleetBacklog, freshFailureReports } from './health/fleet-reports';
import { HeartbeatFreshness, type ProxyReport, type SlotEvent, type SlotPlan, SlotPlanner } from './replay/slot-planner';
import { SENTINEL_OPTIONS } from './sentinel-options.token';

/**
 * The sentinel's round: it campaigns to lead, and while it leads it probes every backend, reads the
 * proxies' membership records (backlogs, released slots, failing writes), plans replay slots and
 * publishes all of it every interval — each publication fenced by its leadership in the store.
 * Followers only campaign (and serve /meta and /health).
 */
@Injectable()
export class SentinelService implements OnApplicationShutdown {
  private readonly logger = new Logger('Sentinel');
  private campaign?: LeaderCampaign;
  private config?: ClusterConfig;
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  /** A round was asked for while one ran: the next one starts as soon as it ends. */
  private soon = false;
  private stopped = false;
  /** This leadership's id and publication count; a new one at each election. */
  private term = '';
  private seq = 0;
  private adopted = false;
  private planner?: SlotPlanner;
  private readonly freshness = new HeartbeatFreshness();
  private published?: SentinelState;
  /** The fleet's replay backlog per backend as last read from the proxies' records (published as is). */
  private backlog?: Record<string, FleetBacklog>;
  private publishError?: string;
  /** Slot changes planned but not yet published (logged once they are). */
  private unpublished: SlotEvent[] = [];
  /** Emits on every change of role, so the membership record says it at once. */
  readonly roleChanges = new Subject<'leader' | 'follower'>();

  constructor(
    private readonly provider: ConfigProvider,
    private readonly store: SentinelStore,
    private readonly proxies: MembershipStore,
    private readonly health: HealthChecker,
    @Inject(SENTINEL_OPTIONS) private readonly options: SentinelOptions,
  ) {}

  /** Loads the config (failing start-up when it cannot), then campaigns and starts the rounds. */
  async start(): Promise<void> {
    this.config = await this.provider.load();
    this.health.setBackends(this.config.backends);
    this.subscription = this.provider.watch().subscribe((config) => {
      this.config = config;
      this.health.setBackends(config.backends);
      this.logger.log(`config changed: ${Object.keys(config.backends).length} backends to watch`);
    });
    if (this.store.scope === 'process') {
      this.logger.warn('the file config store shares nothing: this sentinel leads alone and no proxy sees what it publishes');
    }
    this.campaign = this.store.campaign(this.options.name, this.options.leaderTtlMs, {
      elected: () => this.onElected(),
      deposed: (reason) => this.onDeposed(reason),
    });
    this.campaign.start();
    this.schedule(0);
  }

  get leading(): boolean {
    return this.campaign?.leading ?? false;
  }

  /** The config in force (undefined before start()). */
  get clusterConfig(): ClusterConfig | undefined {
    return this.config;
  }

  get backends(): ClusterConfig['backends'] {
    return this.config?.backends ?? {};
  }

  /** The last publication of this sentinel while it led (for its /meta), and why the last one failed. */
  get lastPublication(): { state?: SentinelState; error?: string } {
    return { state: this.published, error: this.publishError };
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    this.subscription?.unsubscribe();
    const wasLeading = this.leading;
    // resigning deletes the lock or election key: a follower takes over at once
    await this.campaign?.stop().catch((err: Error) => this.logger.warn(`could not resign: ${err.message}`));
    if (wasLeading) this.logger.log('resigned the leadership');
    this.roleChanges.complete();
    await this.provider.close();
  }

  private onElected(): void {
    this.term = `${this.options.name}-${campaignId()}`;
    this.seq = 0;
    this.adopted = false;
    this.planner = new SlotPlanner({ perBackend: this.options.replaySlots, slotTtl: this.options.slotTtlMs, idPrefix: this.term });
    this.unpublished = [];
    this.logger.log(`elected leader (term ${this.term}): probing ${Object.keys(this.backends).length} backends`);
    this.roleChanges.next('leader');
    this.schedule(0);
  }

  private onDeposed(reason: string): void {
    this.logger.warn(`no longer the leader: ${reason}; publishing stopped`);
    this.roleChanges.next('follower');
  }

  /** Rounds every interval, one at a time. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.round) {
        this.soon = true;
        return;
      }
      const started = Date.now();
      this.round = this.lead()
        .catch((err: Error) => this.logger.warn(`round failed: ${err.message}`))
        .finally(() => {
          this.round = undefined;
          const wait = this.soon ? 0 : Math.max(0, this.options.intervalMs - (Date.now() - started));
          this.soon = false;
          this.schedule(wait);
        });
    }, ms);
  }

  /** One round of the leader; nothing for a follower. */
  private async lead(): Promise<void> {
    const campaign = this.campaign;
    if (!campaign?.leading || !this.planner) return;
    const planner = this.planner;
    const term = this.term;
    const staleAfter = staleAfterMs(this.options);
    if (!this.adopted) {
      // carry on from the previous leader: its verdicts and its slots (a slot may be in use right now)
      const previous = await withTimeout(this.store.readState(), this.storeTimeoutMs, 'no answer');
      if (term !== this.term) return;
      const now = Date.now();
      planner.adopt(previous, now, this.health.maxTimeoutMs);
      this.health.adopt(previous);
      this.backlog = previous?.backlog; // until the proxies' records are read: a fenced backend stays fenced
      this.adopted = true;
      if (previous) {
        this.logger.log(`carrying on from ${previous.leader}'s publication (term ${previous.term}, seq ${previous.seq})`);
      } else {
        this.logger.log(
          `no publication to carry on from: granting no replay slot for ${this.options.slotTtlMs + this.health.maxTimeoutMs} ms`,
        );
      }
    }
    this.health.probeAll();
    // the proxies' records (backlogs, released slots, failing writes); unreadable, the slots stay as they are
    const members = await withTimeout(this.proxies.members(), this.storeTimeoutMs, 'no answer').catch((err: Error) => {
      this.logger.warn(`cannot read the proxies' records: ${err.message}; replay slots unchanged this round`);
      return undefined;
    });
    if (term !== this.term) return; // re-elected meanwhile: the next round starts the new term afresh
    const now = Date.now();
    let plan: SlotPlan;
    if (members) {
      this.freshness.update(members, now);
      this.health.applyReports(
        freshFailureReports(members, (proxy) => this.freshness.ageMs(proxy, now), this.options.intervalMs),
        now,
      );
      this.backlog = fleetBacklog(members);
      plan = planner.plan(
        now,
        this.health.plannerView(),
        members.map((m) => this.report(m, now)),
      );
    } else {
      plan = planner.current(now);
    }
    this.unpublished.push(...plan.events);
    const state: SentinelState = {
      seq: ++this.seq,
      leader: this.options.name,
      term: this.term,
      at: now,
      interval: this.options.intervalMs,
      staleAfter,
      slotTtl: this.options.slotTtlMs,
      backends: this.health.snapshot(this.options.name),
      slots: plan.slots,
      cooling: plan.cooling,
      ...(this.backlog ? { backlog: this.backlog } : {}),
    };
    let written: boolean;
    try {
      // the key outlives a dead leader long enough for the next one to carry on from it (liveness is told by seq)
      written = await campaign.publish(state, 2 * staleAfter);
    } catch (err) {
      this.publishError = (err as Error).message;
      this.logger.warn(`publication ${state.seq} failed: ${this.publishError}`);
      return;
    }
    if (!written) return; // deposed: the campaign said why
    this.published = state;
    this.publishError = undefined;
    for (const event of this.unpublished) this.logSlot(event);
    this.unpublished = [];
  }

  /** How long a round waits for the store: it must publish well within the leader TTL. */
  private get storeTimeoutMs(): number {
    return Math.max(this.options.intervalMs, this.options.leaderTtlMs / 2);
  }

  private report(member: ProxyMember, now: number): ProxyReport {
    return {
      name: member.name,
      heartbeatAgeMs: this.freshness.ageMs(member.name, now),
      beatEveryMs: (member.ttl * 1000) / 3,
      backlog: member.backlog,
      released: member.released ?? {},
      failing: member.failing ?? {},
    };
  }

  /** The slot log: who may replay to which backend, and when that changed. */
  private logSlot(e: SlotEvent): void {
    switch (e.kind) {
      case 'granted':
        this.logger.log(`replay slot ${e.id} for backend ${e.backend} granted to proxy ${e.proxy} (${e.records} records waiting)`);
        break;
      case 'released':
        this.logger.log(`replay slot ${e.id} for backend ${e.backend} released by proxy ${e.proxy} after ${e.heldMs} ms`);
        break;
      case 'revoked':
        this.logger.warn(`replay slot ${e.id} for backend ${e.backend} taken back from proxy ${e.proxy}: ${e.reason}`);
        break;
    }
  }
}
