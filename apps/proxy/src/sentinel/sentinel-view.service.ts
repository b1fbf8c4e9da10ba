import { ReplayGate } from '@app/backend';
import type { ProxyMember } from '@app/cluster-store';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { ProxyOptions } from '../cli/proxy-options';
import { PROXY_OPTIONS } from '../proxy-options.token';
import { BackendReadFence } from './read-fence';
import { SentinelView } from './sentinel-view';

/** While this proxy reports failing writes, its record is rewritten this often (at most; a shorter TTL/3 wins). */
const REPORT_EVERY_MS = 1_000;

/**
 * This proxy's knowledge of the leading sentinel (fed by SentinelFeedService) and the replay gate of
 * every backend: with a live sentinel, a backlog is replayed only under a slot it granted to this proxy.
 * A slot is given back as soon as the backlog runs empty, and the membership record says so at once.
 */
@Injectable()
export class SentinelViewService extends ReplayGate {
  private readonly logger = new Logger('Sentinel');
  readonly view: SentinelView;
  /** The read-behind backends, fleet-wide (fed by SentinelFeedService, read by the query planner). */
  readonly readFence: BackendReadFence;
  /** Asks for a membership heartbeat now: the leader should learn at once of a released slot or a new backlog. */
  readonly beatRequests = new Subject<void>();

  constructor(@Inject(PROXY_OPTIONS) options: ProxyOptions) {
    super();
    this.view = new SentinelView(options.node);
    this.readFence = new BackendReadFence(options.node);
  }

  /** How often the membership record is rewritten while it reports failing writes (ms), for a TTL of `ttlSeconds`. */
  reportEveryMs(ttlSeconds: number): number {
    return Math.min(REPORT_EVERY_MS, (ttlSeconds * 1000) / 3);
  }

  mayReplay(backend: string): boolean {
    return this.view.mayReplay(backend, Date.now());
  }

  drained(backend: string): void {
    this.release(backend, 'its backlog is replayed');
  }

  /** Gives back the slot held for `backend`, if any, and tells the leader. */
  release(backend: string, why: string): void {
    const id = this.view.release(backend);
    if (!id) return;
    this.logger.log(`replay slot ${id} for backend ${backend} given back: ${why}`);
    this.beatRequests.next();
  }

  /** What the membership record says about slots. */
  memberFields(): Pick<ProxyMember, 'slots' | 'released'> {
    return { slots: this.view.held(Date.now()), released: this.view.givenBack() };
  }
}
