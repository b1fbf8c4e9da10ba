import { createHmac, randomBytes } from 'node:crypto';
import type { Credentials } from './credentials';
import { type FailureLimits, FailureLimiter } from './failure-limiter';
import { DEFAULT_SCRYPT, type PasswordHash, hashPassword, parsePasswordHash, verifyPassword } from './password-hash';

/** A proxy user as the config holds it. */
export interface UserEntry {
  /** scrypt hash in PHC form (see password-hash.ts). */
  readonly hash: string;
  readonly admin: boolean;
}

export type AuthResult =
  | { ok: true; username: string; admin: boolean }
  | {
      ok: false;
      error: string;
      /**
       * Why no password check was made: `rate-limited`, the client's address has used up its failed
       * checks or has as many pending (answered 401 like any refusal); `busy`, too many checks are
       * waiting from everyone (answered 503).
       */
      refused?: 'rate-limited' | 'busy';
    };

/** The texts influxd answers 401 with. */
export const AUTH_ERRORS = Object.freeze({
  usernameRequired: 'username required',
  failed: 'authorization failed',
  bearerDisabled: 'bearer auth disabled',
});

/** Who is asking, for the per-address limit on failed checks. */
export interface AuthClient {
  readonly address: string;
  readonly limits: FailureLimits;
}

export interface AuthenticatorOptions {
  /** scrypt computations run at once (on libuv's thread pool). */
  maxConcurrentHashes?: number;
  /** Checks waiting for one of those at most; past it, new ones are refused as `busy`. */
  maxQueuedHashes?: number;
  /** How long a verified password is remembered. */
  cacheTtlMs?: number;
  /** Verified passwords remembered at most (oldest forgotten first). */
  cacheMaxEntries?: number;
  now?: () => number;
}

interface Verified {
  readonly username: string;
  /** The stored hash this entry was verified against: a config change of the user's hash voids it. */
  readonly hash: string;
  readonly expires: number;
}

/**
 * Checks credentials against the configured users. A full scrypt verification costs tens of ms and
 * tens of MiB, so:
 * - a password that verified is remembered for `cacheTtlMs` under a keyed hash of user and password
 *   (HMAC-SHA256, per-process random key: the secret itself is not kept, and a lookup reveals nothing
 *   an attacker could steer); a request presenting it again is let in at once, without queueing and
 *   whatever the limits below say about its address;
 *   every change of the configured users forgets them all;
 * - the same credentials checked by several requests at once cost one scrypt (they share its answer);
 * - at most `maxConcurrentHashes` scrypt computations run at once and `maxQueuedHashes` wait; more
 *   are refused as `busy` at once instead of holding their sockets for minutes;
 * - with a client address given, its failed checks are rate-limited (FailureLimiter): past its burst,
 *   or with as many checks pending as it may still fail, it is refused at once without a check.
 * An unknown user costs a scrypt against a dummy hash and goes through the same cache miss, queue
 * and limits as a wrong password, so neither the answer nor its time tells which user names exist.
 */
export class Authenticator {
  private readonly key = randomBytes(32);
  private readonly verified = new Map<string, Verified>();
  private readonly checking = new Map<string, Promise<AuthResult>>();
  private readonly parsed = new Map<string, PasswordHash>();
  private readonly failures: FailureLimiter;
  private dummy?: Promise<PasswordHash>;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private users?: Readonly<Record<string, UserEntry>>;
  private usersPrint = '';
  private readonly maxConcurrentHashes: number;
  private readonly maxQueuedHashes: number;
  private readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;
  private readonly now: () => number;

  constructor(options: AuthenticatorOptions = {}) {
    this.maxConcurrentHashes = options.maxConcurrentHashes ?? 2;
    this.maxQueuedHashes = options.maxQueuedHashes ?? 64;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.cacheMaxEntries = options.cacheMaxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
    this.failures = new FailureLimiter(this.now);
  }

  /**
   * The answer without waiting, when it can be given from memory (a password verified before, or a
   * refusal that needs no hashing); undefined when a full verification is needed.
   */
  tryFast(creds: Credentials, users: Readonly<Record<string, UserEntry>>): AuthResult | undefined {
    if (creds.kind === 'none') return { ok: false, error: creds.error };
    if (creds.kind === 'bearer') return { ok: false, error: AUTH_ERRORS.bearerDisabled };
    if (creds.username === '') return { ok: false, error: AUTH_ERRORS.usernameRequired };
    return this.remembered(this.mac(creds.username, creds.password), creds.username, users);
  }

  /**
   * The full check: from memory when it can be, else one scrypt (shared with requests presenting the
   * same credentials at the same time). With `client`, its failed checks are rate-limited.
   */
  async authenticate(creds: Credentials, users: Readonly<Record<string, UserEntry>>, client?: AuthClient): Promise<AuthResult> {
    if (creds.kind !== 'user' || creds.username === '') return this.tryFast(creds, users)!;
    const key = this.mac(creds.username, creds.password);
    const known = this.remembered(key, creds.username, users);
    if (known) return known;
    if (client && this.failures.exhausted(client.address, client.limits)) {
      return { ok: false, error: AUTH_ERRORS.failed, refused: 'rate-limited' };
    }
    let check = this.checking.get(key);
    if (!check) {
      if (this.running >= this.maxConcurrentHashes && this.waiting.length >= this.maxQueuedHashes) {
        return { ok: false, error: AUTH_ERRORS.failed, refused: 'busy' };
      }
      // an address already checking as many passwords as it may still fail is refused like one
      // that has failed them: a thousand guesses sent at once cost `burst` checks, not a thousand
      if (client && !this.failures.reserve(client.address, client.limits)) {
        return { ok: false, error: AUTH_ERRORS.failed, refused: 'rate-limited' };
      }
      check = this.verify(creds.username, creds.password, key, users);
      this.checking.set(key, check);
      const settled = () => {
        this.checking.delete(key);
        if (client) this.failures.settle(client.address, client.limits);
      };
      check.then(settled, settled);
    }
    const result = await check;
    if (!result.ok && client) this.failures.failed(client.address, client.limits);
    return result;
  }

  private remembered(key: string, username: string, users: Readonly<Record<string, UserEntry>>): AuthResult | undefined {
    this.noticeUsers(users);
    const known = this.verified.get(key);
    if (!known) return undefined;
    const user = own(users, username);
    if (!user || known.username !== username || known.hash !== user.hash || known.expires <= this.now()) {
      this.verified.delete(key);
      return undefined;
    }
    return { ok: true, username, admin: user.admin };
  }

  private async verify(username: string, password: string, key: string, users: Readonly<Record<string, UserEntry>>): Promise<AuthResult> {
    await this.slot();
    try {
      const user = own(users, username);
      if (!user) {
        this.dummy ??= hashPassword(randomBytes(16).toString('hex'), DEFAULT_SCRYPT).then(parsePasswordHash);
        await verifyPassword(password, await this.dummy);
        return { ok: false, error: AUTH_ERRORS.failed };
      }
      const ok = await verifyPassword(password, this.parse(user.hash));
      if (!ok) return { ok: false, error: AUTH_ERRORS.failed };
      this.remember(key, { username, hash: user.hash, expires: this.now() + this.cacheTtlMs });
      return { ok: true, username, admin: user.admin };
    } finally {
      this.release();
    }
  }

  private remember(key: string, entry: Verified): void {
    this.verified.delete(key); // re-inserted last: the map's order is the order of expiry
    if (this.verified.size >= this.cacheMaxEntries) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(key, entry);
  }

  /** Forgets every remembered password when the configured users change (a reload). */
  private noticeUsers(users: Readonly<Record<string, UserEntry>>): void {
    if (users === this.users) return;
    this.users = users;
    const print = Object.keys(users)
      .sort()
      .map((name) => `${name}\0${users[name].hash}\0${users[name].admin}`)
      .join('\n');
    if (print !== this.usersPrint) {
      this.usersPrint = print;
      this.verified.clear();
    }
  }

  private mac(username: string, password: string): string {
    return createHmac('sha256', this.key).update(username).update('\0').update(password).digest('base64');
  }

  private parse(hash: string): PasswordHash {
    let parsed = this.parsed.get(hash);
    if (!parsed) {
      parsed = parsePasswordHash(hash);
      if (this.parsed.size > 1000) this.parsed.clear();
      this.parsed.set(hash, parsed);
    }
    return parsed;
  }

  private async slot(): Promise<void> {
    if (this.running < this.maxConcurrentHashes) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function own(users: Readonly<Record<string, UserEntry>>, name: string): UserEntry | undefined {
  return Object.prototype.hasOwnProperty.call(users, name) ? users[name] : undefined;
}
