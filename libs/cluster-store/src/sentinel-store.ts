import { randomBytes } from 'node:crypto';
import type { SentinelMember, SentinelState } from './sentinel-state';

/** What a campaign tells its sentinel. */
export interface CampaignListener {
  /** This sentinel leads from now on: it may probe and publish. */
  elected(): void;
  /** It no longer leads (lost the lock or the election key, or could not confirm it within the TTL). */
  deposed(reason: string): void;
}

/**
 * One sentinel's bid to lead. Exactly one campaign leads at a time; every publication is fenced in the
 * store (written only if this campaign's lock or election key is still there), so a deposed leader
 * cannot publish even before it learns that it was deposed.
 */
export abstract class LeaderCampaign {
  /** Whether this campaign leads, as far as it can tell now. */
  abstract readonly leading: boolean;
  abstract start(): void;
  /**
   * Writes the state with a TTL of `ttlMs` if and only if this campaign still leads. Resolves false when
   * it does not (and the listener has been told it was deposed); rejects when the store did not answer.
   */
  abstract publish(state: SentinelState, ttlMs: number): Promise<boolean>;
  /** Stops campaigning and gives leadership up at once, so another sentinel takes over without waiting for the TTL. */
  abstract stop(): Promise<void>;
}

/**
 * Where sentinels elect their leader, publish the fleet's shared view and register themselves; the
 * proxies read the publication and the records back. The Redis and etcd providers hand out the one
 * beside their config (Redis keys or etcd keys under `<prefix>runtime/`, with TTLs or leases);
 * ClusterStoreModule gives a config file an in-process one.
 */
export abstract class SentinelStore {
  /** `store` when shared through Redis or etcd; `process` for the file store (nothing is shared). */
  abstract readonly scope: 'store' | 'process';
  /** The leader's last publication, or null when there is none (never published, or expired). */
  abstract readState(): Promise<SentinelState | null>;
  /** The name of the sentinel the store names as leader now, or null. */
  abstract leader(): Promise<string | null>;
  /** Every sentinel record that has not expired. */
  abstract members(): Promise<SentinelMember[]>;
  /** Writes (or refreshes) this sentinel's record with `member.ttl` seconds to live. */
  abstract heartbeat(member: SentinelMember): Promise<void>;
  /** Deletes this sentinel's record at once (graceful shutdown). */
  abstract leave(name: string): Promise<void>;
  /** A campaign to lead as `name`, with leadership lasting `ttlMs` without renewal; call start() on it. */
  abstract campaign(name: string, ttlMs: number, listener: CampaignListener): LeaderCampaign;
}

/** A fresh campaign id: the fence that tells this campaign's claim from any earlier one by the same sentinel. */
export function campaignId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The file store's: one process, nothing shared. A sentinel run on a config file leads alone (its
 * /meta and /health still work); a proxy on a config file never sees a sentinel.
 */
export class InProcessSentinelStore extends SentinelStore {
  readonly scope = 'process' as const;
  private state: { value: SentinelState; expiresAt: number } | null = null;
  private readonly records = new Map<string, SentinelMember>();
  private leaderName: string | null = null;

  async readState(): Promise<SentinelState | null> {
    if (!this.state || this.state.expiresAt <= Date.now()) return null;
    return this.state.value;
  }

  async leader(): Promise<string | null> {
    return this.leaderName;
  }

  async members(): Promise<SentinelMember[]> {
    const now = Date.now();
    return [...this.records.values()].filter((m) => m.lastHeartbeat + m.ttl * 1000 > now);
  }

  async heartbeat(member: SentinelMember): Promise<void> {
    this.records.set(member.name, { ...member });
  }

  async leave(name: string): Promise<void> {
    this.records.delete(name);
  }

  campaign(name: string, _ttlMs: number, listener: CampaignListener): LeaderCampaign {
    return new InProcessCampaign(this, name, listener);
  }

  /** @internal InProcessCampaign's writes. */
  setLeader(name: string | null, state?: { value: SentinelState; expiresAt: number }): void {
    this.leaderName = name;
    if (state) this.state = state;
  }
}

/** Leads as soon as it starts: there is nobody to compete with. */
class InProcessCampaign extends LeaderCampaign {
  private active = false;

  constructor(
    private readonly store: InProcessSentinelStore,
    private readonly name: string,
    private readonly listener: CampaignListener,
  ) {
    super();
  }

  get leading(): boolean {
    return this.active;
  }

  start(): void {
    this.active = true;
    this.store.setLeader(this.name);
    this.listener.elected();
  }

  async publish(state: SentinelState, ttlMs: number): Promise<boolean> {
    if (!this.active) return false;
    this.store.setLeader(this.name, { value: state, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.store.setLeader(null);
  }
}
