import { loggerFor } from '@app/logging';
import { type Campaign, type Etcd3, EtcdLeaseInvalidError, type Lease } from 'etcd3';
import { deleteIfOnLease, keepaliveOnce } from './etcd-lease';
import { ownerToken } from './membership';
import { parseLeaderClaim, parseSentinelMember, parseSentinelState, type SentinelMember, type SentinelState } from './sentinel-state';
import { type CampaignListener, campaignId, LeaderCampaign, SentinelStore } from './sentinel-store';
import { ETCD_SENTINEL_DIR, ETCD_SENTINEL_ELECTION, ETCD_SENTINEL_STATE_KEY, ETCD_SENTINELS_DIR } from './store-layout';

/**
 * Sentinels on etcd, under `<prefix>runtime/`: the leader is elected with etcd3's election API
 * (`runtime/sentinel/election/leader/<lease>`, each candidate's key on its own lease), publishes
 * `runtime/sentinel/state` on a lease of its own in a transaction that succeeds only while its election
 * key is there, and each sentinel's record is `runtime/sentinels/<name>` on a lease.
 */
export class EtcdSentinelStore extends SentinelStore {
  readonly scope = 'store' as const;
  private memberLease?: Lease;
  private memberLeaseTtl = 0;
  /** Stamped into this process's sentinel record (its lease is what leave() compares). */
  private readonly owner = ownerToken();

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
  ) {
    super();
  }

  async readState(): Promise<SentinelState | null> {
    return parseSentinelState(await this.client.get(this.prefix + ETCD_SENTINEL_STATE_KEY).string());
  }

  async leader(): Promise<string | null> {
    const value = await this.client
      .namespace(this.prefix + ETCD_SENTINEL_DIR)
      .election(ETCD_SENTINEL_ELECTION)
      .leader();
    return parseLeaderClaim(value)?.name ?? null;
  }

  async members(): Promise<SentinelMember[]> {
    const all = await this.client
      .getAll()
      .prefix(this.prefix + ETCD_SENTINELS_DIR)
      .strings();
    return Object.values(all)
      .map(parseSentinelMember)
      .filter((m): m is SentinelMember => m !== null);
  }

  /** The record rides on a lease of `ttl` seconds, kept alive by each heartbeat (a new one when etcd forgot it). */
  async heartbeat(member: SentinelMember): Promise<void> {
    const ttl = Math.max(1, Math.round(member.ttl));
    if (this.memberLease && this.memberLeaseTtl === ttl) {
      try {
        await keepaliveOnce(this.memberLease);
      } catch (err) {
        if (!(err instanceof EtcdLeaseInvalidError) && !this.memberLease.revoked()) throw err;
        this.memberLease = undefined;
      }
    }
    if (!this.memberLease || this.memberLeaseTtl !== ttl) {
      const lease = this.client.lease(ttl, { autoKeepAlive: false });
      lease.on('lost', () => {
        if (this.memberLease === lease) this.memberLease = undefined;
      });
      await lease.grant();
      this.memberLease = lease;
      this.memberLeaseTtl = ttl;
    }
    await this.memberLease.put(this.prefix + ETCD_SENTINELS_DIR + member.name).value(JSON.stringify({ ...member, owner: this.owner }));
  }

  /** Deletes the record only while it rides on this process's lease: another sentinel under the same name keeps its own. */
  async leave(name: string): Promise<void> {
    const lease = this.memberLease;
    this.memberLease = undefined;
    if (lease) await deleteIfOnLease(this.client, this.prefix + ETCD_SENTINELS_DIR + name, lease);
  }

  campaign(name: string, ttlMs: number, listener: CampaignListener): LeaderCampaign {
    return new EtcdCampaign(this.client, this.prefix, name, ttlMs, listener);
  }
}

/**
 * One sentinel's candidacy through etcd3's Election. Elected, it leads while its election key exists;
 * each publication is a transaction comparing that key's lease, so once the key is gone (lease expired,
 * e.g. after a partition) nothing more is written, and it campaigns again with a new key. A leader that
 * has not had a publication confirmed by etcd for a whole TTL stops leading by itself at once; it leads
 * again only when etcd confirms that its key is still there (then nobody else can have been elected).
 */
class EtcdCampaign extends LeaderCampaign {
  private readonly logger = loggerFor('SentinelElection');
  private readonly ttlSeconds: number;
  private current?: Campaign;
  private electionKey?: string;
  private electionLease?: string;
  private publishLease?: { lease: Lease; ttl: number };
  private elected = false;
  /** Elected, but unconfirmed for a whole TTL: not leading until etcd confirms the key. */
  private suspended = false;
  private reconfirming = false;
  private confirmedAt = 0;
  private running = false;
  private retry?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly name: string,
    private readonly ttlMs: number,
    private readonly listener: CampaignListener,
  ) {
    super();
    this.ttlSeconds = Math.max(1, Math.round(ttlMs / 1000));
  }

  get leading(): boolean {
    return this.elected && !this.suspended && Date.now() - this.confirmedAt < this.ttlMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.campaign();
    this.watchdog = setInterval(
      () => {
        if (!this.elected) return;
        if (!this.suspended && Date.now() - this.confirmedAt >= this.ttlMs) {
          this.suspended = true;
          this.listener.deposed(`etcd confirmed no publication within the leader TTL (${this.ttlMs} ms)`);
        }
        if (this.suspended) void this.reconfirm();
      },
      Math.max(100, Math.floor(this.ttlMs / 4)),
    );
    this.watchdog.unref();
  }

  async publish(state: SentinelState, ttlMs: number): Promise<boolean> {
    if (!this.leading || !this.electionKey || !this.electionLease) return false;
    const campaign = this.current;
    const started = Date.now();
    const publishLease = await this.leaseFor(Math.max(1, Math.ceil(ttlMs / 1000)));
    const result = await this.client
      .if(this.electionKey, 'Lease', '==', this.electionLease)
      .then(
        this.client
          .put(this.prefix + ETCD_SENTINEL_STATE_KEY)
          .value(JSON.stringify(state))
          .lease(publishLease),
      )
      .commit();
    if (campaign !== this.current) return false; // deposed while the transaction was on its way
    if (!result.succeeded) {
      this.depose('its election key is gone (the lease expired): another sentinel may lead');
      return false;
    }
    this.confirmedAt = started;
    return true;
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    clearInterval(this.watchdog);
    const campaign = this.current;
    this.current = undefined;
    this.elected = false;
    this.suspended = false;
    this.publishLease?.lease.release();
    this.publishLease = undefined;
    // revoking the election lease deletes the key at once: the next candidate is elected without waiting for the TTL
    if (campaign) await campaign.resign().catch(() => undefined);
  }

  /** Asks etcd whether this campaign's election key is still there: leads again if so, campaigns anew if not. */
  private async reconfirm(): Promise<void> {
    const campaign = this.current;
    if (this.reconfirming || !campaign || !this.electionKey || !this.electionLease) return;
    this.reconfirming = true;
    const started = Date.now();
    try {
      const result = await this.client.if(this.electionKey, 'Lease', '==', this.electionLease).commit();
      if (campaign !== this.current || !this.suspended) return;
      if (!result.succeeded) {
        this.depose('its election key is gone (the lease expired): another sentinel may lead');
        return;
      }
      this.confirmedAt = started;
      this.suspended = false;
      this.logger.log('etcd confirms the election key again: leading again');
      this.listener.elected();
    } catch {
      /* still no answer: try again at the next watchdog tick */
    } finally {
      this.reconfirming = false;
    }
  }

  private campaign(): void {
    if (!this.running) return;
    const campaign = this.client
      .namespace(this.prefix + ETCD_SENTINEL_DIR)
      .election(ETCD_SENTINEL_ELECTION, this.ttlSeconds)
      .campaign(JSON.stringify({ name: this.name, id: campaignId() }));
    this.current = campaign;
    campaign.on('elected', () => {
      void campaign.getCampaignKey().then(
        (key) => {
          if (campaign !== this.current) return;
          this.electionKey = key;
          this.electionLease = key.slice(key.lastIndexOf('/') + 1);
          this.elected = true;
          this.confirmedAt = Date.now();
          this.listener.elected();
        },
        (err: Error) => this.failed(campaign, err),
      );
    });
    campaign.on('error', (err: Error) => this.failed(campaign, err));
  }

  private failed(campaign: Campaign, err: Error): void {
    if (campaign !== this.current) return;
    if (this.elected) this.depose(`campaign failed: ${err.message}`);
    else {
      this.logger.warn(`campaign failed (${err.message}); campaigning again`);
      this.restart(campaign);
    }
  }

  private depose(reason: string): void {
    const campaign = this.current;
    if (!this.elected || !campaign) return;
    const told = this.suspended;
    this.elected = false;
    this.suspended = false;
    this.publishLease?.lease.release(); // the publication expires by itself unless the next leader rewrites it
    this.publishLease = undefined;
    if (told) this.logger.warn(`leadership lost for good: ${reason}`);
    else this.listener.deposed(reason);
    this.restart(campaign);
  }

  private restart(campaign: Campaign): void {
    this.current = undefined;
    this.electionKey = undefined;
    this.electionLease = undefined;
    campaign.resign().catch(() => undefined);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.campaign(), 500);
    this.retry.unref();
  }

  /** The lease the publication rides on: kept alive while this sentinel leads, so it outlives a crash by its TTL only. */
  private async leaseFor(ttl: number): Promise<string> {
    if (!this.publishLease || this.publishLease.ttl !== ttl || this.publishLease.lease.revoked()) {
      this.publishLease?.lease.release();
      const lease = this.client.lease(ttl);
      lease.on('lost', () => {
        if (this.publishLease?.lease === lease) this.publishLease = undefined;
      });
      this.publishLease = { lease, ttl };
    }
    return this.publishLease.lease.grant();
  }
}
