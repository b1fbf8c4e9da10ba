import { type SentinelMember, SentinelStore, withTimeout } from '@app/cluster-store';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ProxyOptions } from '../cli/proxy-options';
import { ClusterStateService } from '../cluster/cluster-state.service';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { SentinelViewService } from './sentinel-view.service';

/** How long start-up waits for the first read of the store before replaying without a sentinel. */
const FIRST_READ_GRACE_MS = 5_000;
/**
 * How often the own backlogs are sampled: a backlog appearing or emptying reaches the membership
 * record (and the read fence) within this, not only at the next TTL/3 heartbeat. Backend.status() of
 * each backend, five times a second: nothing next to the write path.
 */
const BACKLOG_SAMPLE_MS = 200;

/**
 * Reads the leading sentinel's publication from the config store (every half of its interval) and
 * feeds it into each Backend: the published health overrides the own checks while the sentinel is
 * live, a newly granted replay slot starts the replay, an empty backlog gives its slot back. The own
 * backlogs are sampled every BACKLOG_SAMPLE_MS (with a file config too): with the publication's fleet
 * backlog they make the read fence, and a change the leader must know of (a backlog appearing or
 * emptying, writes failing) asks for a heartbeat now; failing writes are re-stated every
 * reportEveryMs, so the leader can tell a live report from a dead proxy's.
 */
@Injectable()
export class SentinelFeedService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Sentinel');
  private timer?: NodeJS.Timeout;
  private grace?: NodeJS.Timeout;
  private sampler?: NodeJS.Timeout;
  /** Own spooled records per backend name (reused by every sample). */
  private readonly ownBacklog = new Map<string, number>();
  private polling?: Promise<void>;
  private running = false;
  private readError?: string;
  private following?: string;
  private readonly verdicts = new Map<string, boolean>();
  private readonly started = new Map<string, string>();
  private signature = '';
  private lastBeatAsk = 0;
  private lastMembers: SentinelMember[] = [];

  constructor(
    private readonly store: SentinelStore,
    private readonly sentinel: SentinelViewService,
    private readonly cluster: ClusterStateService,
    @Inject(PROXY_OPTIONS) private readonly options: ProxyOptions,
  ) {}

  onApplicationBootstrap(): void {
    const view = this.sentinel.view;
    this.sampler = setInterval(() => this.sample(Date.now()), BACKLOG_SAMPLE_MS);
    this.sampler.unref();
    this.sample(Date.now());
    if (this.store.scope === 'process') {
      view.decide(); // the file store shares nothing: no sentinel can coordinate this proxy
      this.kickAll();
      return;
    }
    this.running = true;
    this.grace = setTimeout(() => {
      if (view.isDecided) return;
      this.logger.warn(`no answer from the config store within ${FIRST_READ_GRACE_MS} ms: replaying without a sentinel for now`);
      view.decide();
      this.kickAll();
    }, FIRST_READ_GRACE_MS);
    this.grace.unref();
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.grace);
    clearInterval(this.sampler);
    await this.polling;
  }

  /** The `sentinel` section of /meta: the sentinels, which one leads, when a publication was last seen. */
  async describe() {
    const errors: string[] = [];
    const [members, leader] = await Promise.all([
      withTimeout(this.store.members(), 2_000, 'no answer within 2 s').then(
        (m) => (this.lastMembers = m),
        (err: Error) => {
          errors.push(`sentinels: ${err.message}`);
          return this.lastMembers;
        },
      ),
      withTimeout(this.store.leader(), 2_000, 'no answer within 2 s').catch((err: Error) => {
        errors.push(`leader: ${err.message}`);
        return null;
      }),
    ]);
    const now = Date.now();
    const view = this.sentinel.view;
    const live = view.live(now);
    return {
      leader: leader ?? live?.leader ?? null,
      members: Object.fromEntries(
        members.map((m) => [
          m.name,
          { alive: true, lastSeen: m.lastHeartbeat, address: m.address, version: m.version, leader: m.name === (leader ?? live?.leader) },
        ]),
      ),
      /** Local epoch ms when this proxy last saw a new publication (null: never). */
      lastSeen: view.lastSeen,
      /** Whether a live sentinel's view is in use (else the own checks, and uncoordinated replays). */
      live: live !== undefined,
      publication: live
        ? { leader: live.leader, term: live.term, seq: live.seq, interval: live.interval, staleAfter: live.staleAfter }
        : null,
      slots: view.held(now),
      ...(this.readError ? { readError: this.readError } : {}),
      ...(errors.length ? { error: errors.join('; ') } : {}),
    };
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        const live = this.sentinel.view.live(Date.now());
        this.schedule(live ? Math.min(1_000, Math.max(100, live.interval / 2)) : 500);
      });
    }, ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const view = this.sentinel.view;
    const started = Date.now();
    const firstAnswer = !view.isDecided;
    try {
      view.observe(await withTimeout(this.store.readState(), 2_000, 'no answer within 2 s'), started);
      if (this.readError) this.logger.log('reading the sentinel publication again');
      this.readError = undefined;
    } catch (err) {
      view.readFailed(started);
      if (!this.readError) this.logger.warn(`cannot read the sentinel publication: ${(err as Error).message}`);
      this.readError = (err as Error).message;
    }
    this.feed(Date.now());
    if (firstAnswer && view.isDecided) this.kickAll();
  }

  private feed(now: number): void {
    const view = this.sentinel.view;
    const live = view.live(now);
    if (live?.leader !== this.following) {
      if (live)
        this.logger.log(`following sentinel ${live.leader}: its backend health overrides this proxy's checks, replays wait for its slots`);
      else if (this.following)
        this.logger.warn(`no live sentinel (last seen: ${this.following}): own health checks, replays uncoordinated`);
      this.following = live?.leader;
    }
    for (const backend of this.cluster.topology.backends) {
      const override = view.health(backend.name, now);
      backend.setHealthOverride(override);
      if (override && this.verdicts.get(backend.name) !== override.up) {
        if (override.up) this.logger.log(`backend ${backend.name} is up according to sentinel ${override.by}`);
        else this.logger.warn(`backend ${backend.name} is down according to sentinel ${override.by}: ${override.lastError ?? ''}`);
      }
      if (override) this.verdicts.set(backend.name, override.up);
      else this.verdicts.delete(backend.name);

      const status = backend.status();
      const slot = view.slot(backend.name, now);
      if (slot && status.spool.records === 0 && !status.spool.replaying) {
        this.sentinel.release(backend.name, 'no backlog left');
      } else if (slot && this.started.get(backend.name) !== slot.id) {
        this.started.set(backend.name, slot.id);
        this.logger.log(`replay slot ${slot.id} for backend ${backend.name} granted: replaying ${status.spool.records} records`);
        backend.resumeReplay();
      }
    }
    this.sample(now); // a new publication may carry a new fleet backlog
  }

  /**
   * Samples the own backlogs and failing writes: updates the read fence, and asks for a heartbeat when
   * the leader should know at once (a backlog appeared or emptied, writes began or stopped failing), or
   * to keep a slot or a failing-write report alive in its eyes.
   */
  private sample(now: number): void {
    let signature = '';
    let failing = false;
    this.ownBacklog.clear();
    for (const backend of this.cluster.topology.backends) {
      const status = backend.status();
      const records = status.spool.records;
      const writeFailed = status.own?.writeFailed === true;
      this.ownBacklog.set(backend.name, records);
      failing ||= writeFailed;
      signature += `${backend.name}:${records > 0 ? 1 : 0}:${writeFailed ? 1 : 0},`;
    }
    const view = this.sentinel.view;
    const live = view.live(now);
    const fence = this.sentinel.readFence;
    if (fence.update(this.ownBacklog, live?.backlog)) {
      const behind = fence.describe();
      const names = Object.keys(behind);
      if (names.length > 0) {
        this.logger.log(
          `read-behind (replay backlog waiting${live?.backlog ? ' in the fleet' : ''}): ${names.map((n) => `${n} (${behind[n]} records)`).join(', ')}; queries go to caught-up replicas`,
        );
      } else {
        const recovering = fence.recoveringBackends();
        this.logger.log(
          recovering.length > 0
            ? `no replay backlog waits any more; still read-behind while recovering: ${recovering.join(', ')}`
            : 'no backend is read-behind any more',
        );
      }
    }
    // the leader grants slots from the membership records: tell it at once when something it plans on changed
    let tell = signature !== this.signature;
    this.signature = signature;
    // a slot stays ours only while the leader keeps seeing new heartbeats within the slot TTL
    if (live && now - this.lastBeatAsk >= live.slotTtl / 3 && Object.keys(view.held(now)).length > 0) tell = true;
    // a failing-write report counts with the leader only while the record carrying it is fresh
    if (failing && this.store.scope === 'store' && now - this.lastBeatAsk >= this.sentinel.reportEveryMs(this.options.membershipTtl))
      tell = true;
    if (tell) {
      this.lastBeatAsk = now;
      this.sentinel.beatRequests.next();
    }
  }

  private kickAll(): void {
    for (const backend of this.cluster.topology.backends) backend.resumeReplay();
  }
}
