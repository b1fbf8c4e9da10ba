import { JobStore, MembershipStore, type ProxyMember, SentinelStore, withTimeout } from '@app/cluster-store';
import type { JobRecord } from '@app/data-movement/job-model';
import { jobsForMeta } from '@app/data-movement/job-runner-admin';
import { ConfigProvider } from '@app/config';
import { maskUrlPassword } from '@app/logging';
import { Controller, Get, Header, Inject } from '@nestjs/common';
import { DEFAULT_JOB_POINTS_PER_SECOND, type SentinelOptions, staleAfterMs } from '../cli/sentinel-options';
import { SentinelMembershipService } from '../membership/sentinel-membership.service';
import { SENTINEL_OPTIONS } from '../sentinel-options.token';
import { SentinelService } from '../sentinel.service';

/**
 * GET /meta: the fleet as this sentinel sees it — the sentinels and which one leads, the proxies (from
 * their heartbeats: backlog, slots held and given back, failing writes), every backend with the health
 * the leader last published, and the replay slots.
 */
@Controller()
export class MetaController {
  constructor(
    private readonly sentinel: SentinelService,
    private readonly membership: SentinelMembershipService,
    private readonly store: SentinelStore,
    private readonly proxyStore: MembershipStore,
    private readonly provider: ConfigProvider,
    private readonly jobStore: JobStore,
    @Inject(SENTINEL_OPTIONS) private readonly options: SentinelOptions,
  ) {}

  @Get('meta')
  @Header('Cache-Control', 'no-store')
  async meta() {
    const errors: Record<string, string> = {};
    const ask = <T>(what: string, call: () => Promise<T>, fallback: T): Promise<T> =>
      withTimeout(call(), 2_000, 'no answer within 2 s').catch((err: Error) => {
        errors[what] = err.message;
        return fallback;
      });
    const [sentinels, proxies, leader, state, jobs] = await Promise.all([
      this.membership.members(),
      ask('proxies', () => this.proxyStore.members(), [] as ProxyMember[]),
      ask('leader', () => this.store.leader(), null),
      ask('publication', () => this.store.readState(), null),
      ask('jobs', () => this.jobStore.list(), [] as JobRecord[]),
    ]);
    if (sentinels.error) errors.sentinels = sentinels.error;
    const own = this.sentinel.lastPublication;
    if (own.error) errors.publish = own.error;
    const backends: Record<string, object> = {};
    for (const [name, config] of Object.entries(this.sentinel.backends)) {
      backends[name] = { url: maskUrlPassword(config.url), db: config.db, zone: config.zone, ...(state?.backends[name] ?? { up: null }) };
    }
    return {
      name: this.options.name,
      role: this.sentinel.leading ? 'leader' : 'follower',
      leader,
      sentinels: Object.fromEntries(
        sentinels.members.map((m) => [m.name, { ...m, alive: true, lastSeen: m.lastHeartbeat, leader: m.name === leader }]),
      ),
      proxies: Object.fromEntries(
        proxies.map((m) => [
          m.name,
          {
            alive: true,
            lastSeen: m.lastHeartbeat,
            address: m.address,
            zone: m.zone,
            version: m.version,
            backlog: m.backlog,
            slots: m.slots ?? {},
            released: m.released ?? {},
            failing: m.failing ?? {},
          },
        ]),
      ),
      backends,
      slots: state?.slots ?? {},
      cooling: state?.cooling ?? {},
      /** Records waiting per backend across the fleet, as published: a backend listed is read-behind. */
      backlog: state?.backlog ?? {},
      publication: state
        ? {
            leader: state.leader,
            term: state.term,
            seq: state.seq,
            at: state.at,
            interval: state.interval,
            staleAfter: state.staleAfter,
            slotTtl: state.slotTtl,
          }
        : null,
      /** Data-movement jobs: every unfinished one and the last few finished (GET /admin/jobs lists all). */
      jobs: jobsForMeta(jobs),
      settings: {
        checkInterval: this.options.intervalMs,
        checkTimeout: this.options.timeoutMs,
        downAfter: this.options.downAfter,
        upAfter: this.options.upAfter,
        leaderTtl: this.options.leaderTtlMs,
        staleAfter: staleAfterMs(this.options),
        replaySlots: this.options.replaySlots,
        slotTtl: this.options.slotTtlMs,
        writeFailureReports: this.options.writeFailureReports,
        jobPointsPerSecond: this.options.jobPointsPerSecond ?? DEFAULT_JOB_POINTS_PER_SECOND,
      },
      provider: this.provider.describe(),
      ...(Object.keys(errors).length ? { errors } : {}),
    };
  }
}
