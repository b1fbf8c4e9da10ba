import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Credentials } from './credentials';
import { DEFAULT_SCRYPT, type PasswordHash, hashPassword, parsePasswordHash, verifyPassword } from './password-hash';

/** A proxy user as the config holds it. */
export interface UserEntry {
  /** scrypt hash in PHC form (see password-hash.ts). */
  readonly hash: string;
  readonly admin: boolean;
}

export type AuthResult =
  | { ok: true; username: string; admin: boolean }
  | { ok: false; error: string };

/** The texts influxd answers 401 with. */
export const AUTH_ERRORS = Object.freeze({
  usernameRequired: 'username required',
  failed: 'authorization failed',
  bearerDisabled: 'bearer auth disabled',
});

interface Verified {
  /** The stored hash this entry was verified against: a config change of the user's hash voids it. */
  readonly hash: string;
  readonly mac: Buffer;
}

/**
 * Checks credentials against the configured users. A full scrypt verification costs tens of ms and
 * tens of MiB, so — as influxd does with its bcrypt hashes — a password that verified once is
 * remembered as an HMAC under a per-process random key and later requests compare against that in
 * constant time; a wrong password always takes the full scrypt path again. An unknown user costs a
 * scrypt against a dummy hash, so the answer time does not tell which user names exist. At most
 * `maxConcurrentHashes` scrypt computations run at once (they use libuv's thread pool); the rest wait.
 */
export class Authenticator {
  private readonly key = randomBytes(32);
  private readonly verified = new Map<string, Verified>();
  private readonly parsed = new Map<string, PasswordHash>();
  private dummy?: Promise<PasswordHash>;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly maxConcurrentHashes = 2) {}

  /**
   * The answer without waiting, when it can be given from memory (a password verified before, or a
   * refusal that needs no hashing); undefined when a full verification is needed.
   */
  tryFast(creds: Credentials, users: Readonly<Record<string, UserEntry>>): AuthResult | undefined {
    if (creds.kind === 'none') return { ok: false, error: creds.error };
    if (creds.kind === 'bearer') return { ok: false, error: AUTH_ERRORS.bearerDisabled };
    if (creds.username === '') return { ok: false, error: AUTH_ERRORS.usernameRequired };
    const user = own(users, creds.username);
    if (!user) return undefined;
    const known = this.verified.get(creds.username);
    if (!known || known.hash !== user.hash) return undefined;
    if (!timingSafeEqual(this.mac(creds.username, creds.password), known.mac)) return undefined;
    return { ok: true, username: creds.username, admin: user.admin };
  }

  /** The full check: fast path first, then scrypt. */
  async authenticate(creds: Credentials, users: Readonly<Record<string, UserEntry>>): Promise<AuthResult> {
    const fast = this.tryFast(creds, users);
    if (fast || creds.kind !== 'user') return fast ?? { ok: false, error: AUTH_ERRORS.failed };
    const user = own(users, creds.username);
    await this.slot();
    try {
      if (!user) {
        this.dummy ??= hashPassword(randomBytes(16).toString('hex'), DEFAULT_SCRYPT).then(parsePasswordHash);
        await verifyPassword(creds.password, await this.dummy);
        return { ok: false, error: AUTH_ERRORS.failed };
      }
      // another request may have verified the same password while this one waited for a slot
      const again = this.tryFast(creds, users);
      if (again) return again;
      const ok = await verifyPassword(creds.password, this.parse(user.hash));
      if (!ok) return { ok: false, error: AUTH_ERRORS.failed };
      this.verified.set(creds.username, { hash: user.hash, mac: this.mac(creds.username, creds.password) });
      return { ok: true, username: creds.username, admin: user.admin };
    } finally {
      this.release();
    }
  }

  private mac(username: string, password: string): Buffer {
    return createHmac('sha256', this.key).update(username).update('\0').update(password).digest();
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
