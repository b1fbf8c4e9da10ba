import type Redis from 'ioredis';
import { type LeaderLock, LockLeadership } from './lock-leadership';
import { ownerToken } from './membership';
import { parseLeaderClaim, parseSentinelMember, parseSentinelState, type SentinelMember, type SentinelState } from './sentinel-state';
import { type CampaignListener, LeaderCampaign, SentinelStore } from './sentinel-store';
import { REDIS_SENTINEL_LEADER_KEY, REDIS_SENTINEL_MEMBER_PREFIX, REDIS_SENTINEL_STATE_KEY } from './store-layout';

/** SET NX PX, or how long the holder's TTL still runs. */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, redis.call('PTTL', KEYS[1])}`;

/** Renewal by the holder only: check-and-extend in one step. */
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * A member record is deleted only by the process that wrote it: the record's owner token must be the
 * caller's (a second process started under the same name never removes the running one's record).
 */
export const DELETE_IF_OWNER = `
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local ok, record = pcall(cjson.decode, value)
if ok and type(record) == 'table' and record.owner == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** A publication fenced by the lock: written only while the claim still holds it. */
const PUBLISH = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/**
 * Sentinels on Redis: leadership is a lock (`influxdb-proxy:sentinel:leader`) with a TTL that only its
 * holder renews, the publication a key with a TTL written only while the lock is the writer's, and each
 * sentinel's record a key with an expiry. Same connection (and database index) as the config.
 */
export class RedisSentinelStore extends SentinelStore {
  readonly scope = 'store' as const;
  private readonly lock: LeaderLock;
  /** Stamped into this process's sentinel record: only a record carrying it is deleted by leave(). */
  private readonly owner = ownerToken();

  constructor(private readonly client: Redis) {
    super();
    this.lock = {
      acquire: async (claim, ttlMs) => {
        const [acquired, remaining] = (await client.eval(ACQUIRE, 1, REDIS_SENTINEL_LEADER_KEY, claim, ttlMs)) as [number, number];
        return acquired === 1 ? { acquired: true } : { acquired: false, remainingMs: Math.max(0, Number(remaining)) };
      },
      extend: async (claim, ttlMs) => Number(await client.eval(EXTEND, 1, REDIS_SENTINEL_LEADER_KEY, claim, ttlMs)) === 1,
      release: async (claim) => {
        await client.eval(RELEASE, 1, REDIS_SENTINEL_LEADER_KEY, claim);
      },
    };
  }

  async readState(): Promise<SentinelState | null> {
    return parseSentinelState(await this.client.get(REDIS_SENTINEL_STATE_KEY));
  }

  async leader(): Promise<string | null> {
    return parseLeaderClaim(await this.client.get(REDIS_SENTINEL_LEADER_KEY))?.name ?? null;
  }

  async members(): Promise<SentinelMember[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', `${REDIS_SENTINEL_MEMBER_PREFIX}*`, 'COUNT', 200);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.client.mget(...new Set(keys));
    return values.map(parseSentinelMember).filter((m): m is SentinelMember => m !== null);
  }

  async heartbeat(member: SentinelMember): Promise<void> {
    const record = JSON.stringify({ ...member, owner: this.owner });
    await this.client.set(REDIS_SENTINEL_MEMBER_PREFIX + member.name, record, 'PX', Math.round(member.ttl * 1000));
  }

  async leave(name: string): Promise<void> {
    await this.client.eval(DELETE_IF_OWNER, 1, REDIS_SENTINEL_MEMBER_PREFIX + name, this.owner);
  }

  campaign(name: string, ttlMs: number, listener: CampaignListener): LeaderCampaign {
    return new RedisCampaign(this.client, new LockLeadership(this.lock, name, ttlMs, listener));
  }
}

class RedisCampaign extends LeaderCampaign {
  constructor(
    private readonly client: Redis,
    private readonly leadership: LockLeadership,
  ) {
    super();
  }

  get leading(): boolean {
    return this.leadership.leading;
  }

  start(): void {
    this.leadership.start();
  }

  async publish(state: SentinelState, ttlMs: number): Promise<boolean> {
    if (!this.leadership.leading) return false;
    const claim = this.leadership.claim;
    const written = Number(
      await this.client.eval(
        PUBLISH,
        2,
        REDIS_SENTINEL_LEADER_KEY,
        REDIS_SENTINEL_STATE_KEY,
        claim,
        JSON.stringify(state),
        Math.round(ttlMs),
      ),
    );
    if (written === 1) return true;
    if (claim === this.leadership.claim) this.leadership.lost('the leader lock is held by another sentinel');
    return false;
  }

  async stop(): Promise<void> {
    await this.leadership.stop();
  }
}
