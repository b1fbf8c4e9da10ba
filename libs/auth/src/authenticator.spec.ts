// the module object itself (an `import * as` namespace is a copy that spies would not reach)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const crypto: typeof import('node:crypto') = require('node:crypto');
import { AUTH_ERRORS, Authenticator, type UserEntry } from './authenticator';
import { UNPARSABLE_CREDENTIALS, type Credentials } from './credentials';
import { hashPassword } from './password-hash';

const CHEAP = { ln: 10, r: 8, p: 1 };
const creds = (username: string, password: string): Credentials => ({ kind: 'user', username, password });

let users: Record<string, UserEntry>;

beforeAll(async () => {
  users = {
    alice: { hash: await hashPassword('alice-pw', CHEAP), admin: true },
    bob: { hash: await hashPassword('bob-pw', CHEAP), admin: false },
  };
});

afterEach(() => jest.restoreAllMocks());

describe('Authenticator', () => {
  it('lets configured users in with their admin flag', async () => {
    const auth = new Authenticator();
    expect(await auth.authenticate(creds('alice', 'alice-pw'), users)).toEqual({ ok: true, username: 'alice', admin: true });
    expect(await auth.authenticate(creds('bob', 'bob-pw'), users)).toEqual({ ok: true, username: 'bob', admin: false });
  });

  it('answers a wrong password and an unknown user alike: "authorization failed"', async () => {
    const auth = new Authenticator();
    expect(await auth.authenticate(creds('alice', 'bob-pw'), users)).toEqual({ ok: false, error: AUTH_ERRORS.failed });
    expect(await auth.authenticate(creds('mallory', 'alice-pw'), users)).toEqual({ ok: false, error: AUTH_ERRORS.failed });
    expect(await auth.authenticate(creds('constructor', 'x'), users)).toEqual({ ok: false, error: AUTH_ERRORS.failed });
    expect(await auth.authenticate(creds('__proto__', 'x'), users)).toEqual({ ok: false, error: AUTH_ERRORS.failed });
  });

  it("gives influxd's texts for an empty user name, a bearer token and no credentials, without hashing", () => {
    const auth = new Authenticator();
    expect(auth.tryFast(creds('', 'x'), users)).toEqual({ ok: false, error: 'username required' });
    expect(auth.tryFast({ kind: 'bearer' }, users)).toEqual({ ok: false, error: 'bearer auth disabled' });
    expect(auth.tryFast({ kind: 'none', error: UNPARSABLE_CREDENTIALS }, users)).toEqual({
      ok: false,
      error: 'unable to parse authentication credentials',
    });
  });

  it('remembers a verified password (no second scrypt) and forgets it when the stored hash changes', async () => {
    const auth = new Authenticator();
    expect(auth.tryFast(creds('alice', 'alice-pw'), users)).toBeUndefined();
    await auth.authenticate(creds('alice', 'alice-pw'), users);
    const scrypt = jest.spyOn(crypto, 'scrypt');
    expect(auth.tryFast(creds('alice', 'alice-pw'), users)).toEqual({ ok: true, username: 'alice', admin: true });
    expect(auth.tryFast(creds('alice', 'alice-pW'), users)).toBeUndefined(); // a different password is checked in full
    expect(scrypt).not.toHaveBeenCalled();

    const changed = { ...users, alice: { hash: await hashPassword('new-pw', CHEAP), admin: true } };
    expect(auth.tryFast(creds('alice', 'alice-pw'), changed)).toBeUndefined();
    expect(await auth.authenticate(creds('alice', 'alice-pw'), changed)).toEqual({ ok: false, error: AUTH_ERRORS.failed });
    expect(await auth.authenticate(creds('alice', 'new-pw'), changed)).toMatchObject({ ok: true });
    // the admin flag comes from the current config, not from the memory of the last check
    const demoted = { alice: { ...changed.alice, admin: false } };
    expect(auth.tryFast(creds('alice', 'new-pw'), demoted)).toBeUndefined(); // a change of users forgets them all
    expect(await auth.authenticate(creds('alice', 'new-pw'), demoted)).toMatchObject({ ok: true, admin: false });
  });

  it('keeps no password: verified credentials are remembered under a keyed hash', async () => {
    const auth = new Authenticator();
    await auth.authenticate(creds('bob', 'bob-pw'), users);
    const memory = JSON.stringify([...(auth as unknown as { verified: Map<string, unknown> }).verified]);
    expect(memory).not.toContain('bob-pw');
    expect(memory).toContain('"bob"');
  });

  it('forgets a verified password after cacheTtlMs, and all of them when the configured users change', async () => {
    let now = 1_000_000;
    const auth = new Authenticator({ cacheTtlMs: 60_000, now: () => now });
    await auth.authenticate(creds('alice', 'alice-pw'), users);
    now += 59_000;
    expect(auth.tryFast(creds('alice', 'alice-pw'), users)).toMatchObject({ ok: true });
    now += 1_000;
    expect(auth.tryFast(creds('alice', 'alice-pw'), users)).toBeUndefined();

    await auth.authenticate(creds('alice', 'alice-pw'), users);
    expect(auth.tryFast(creds('alice', 'alice-pw'), users)).toMatchObject({ ok: true });
    // a reload that adds a user (alice's own entry unchanged) forgets alice's password too
    const reloaded = { ...users, carol: users.bob };
    expect(auth.tryFast(creds('alice', 'alice-pw'), reloaded)).toBeUndefined();
    // a new object with the same users changes nothing
    await auth.authenticate(creds('alice', 'alice-pw'), reloaded);
    expect(auth.tryFast(creds('alice', 'alice-pw'), { ...reloaded })).toMatchObject({ ok: true });
  });

  it('checks the same credentials arriving together with one scrypt', async () => {
    const auth = new Authenticator();
    const scrypt = jest.spyOn(crypto, 'scrypt');
    const results = await Promise.all(Array.from({ length: 5 }, () => auth.authenticate(creds('bob', 'bob-pw'), users)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(scrypt).toHaveBeenCalledTimes(1);
  });

  it('refuses as busy, at once, what would wait behind maxQueuedHashes checks', async () => {
    const auth = new Authenticator({ maxConcurrentHashes: 1, maxQueuedHashes: 2 });
    const results = await Promise.all(['w1', 'w2', 'w3', 'w4', 'w5'].map((pw) => auth.authenticate(creds('alice', pw), users)));
    expect(results.map((r) => (r.ok ? 'ok' : (r.refused ?? 'failed')))).toEqual(['failed', 'failed', 'failed', 'busy', 'busy']);
  });

  it("rate-limits an address's failed checks without scrypt work, and lets remembered credentials through", async () => {
    let now = 5_000_000;
    const auth = new Authenticator({ now: () => now });
    const limits = { burst: 3, perMinute: 60 };
    const attacker = { address: '192.0.2.1', limits };
    await auth.authenticate(creds('alice', 'alice-pw'), users, attacker); // alice logged in from there before
    for (const pw of ['g1', 'g2', 'g3']) expect(await auth.authenticate(creds('alice', pw), users, attacker)).toMatchObject({ ok: false });

    const scrypt = jest.spyOn(crypto, 'scrypt');
    // unknown user and wrong password get the same answer, at once
    expect(await auth.authenticate(creds('alice', 'g4'), users, attacker)).toEqual({
      ok: false,
      error: AUTH_ERRORS.failed,
      refused: 'rate-limited',
    });
    expect(await auth.authenticate(creds('mallory', 'g5'), users, attacker)).toEqual({
      ok: false,
      error: AUTH_ERRORS.failed,
      refused: 'rate-limited',
    });
    // the right password, not remembered, from the limited address: refused too
    expect(await auth.authenticate(creds('bob', 'bob-pw'), users, attacker)).toMatchObject({ refused: 'rate-limited' });
    expect(scrypt).not.toHaveBeenCalled();
    // remembered credentials are not checked at all
    expect(await auth.authenticate(creds('alice', 'alice-pw'), users, attacker)).toMatchObject({ ok: true });
    // another address is not affected
    expect(await auth.authenticate(creds('bob', 'bob-pw'), users, { address: '192.0.2.2', limits })).toMatchObject({ ok: true });
    // one failure comes back per second
    now += 1_000;
    expect(await auth.authenticate(creds('alice', 'g6'), users, attacker)).toEqual({ ok: false, error: AUTH_ERRORS.failed });
    expect(await auth.authenticate(creds('alice', 'g7'), users, attacker)).toMatchObject({ refused: 'rate-limited' });
  });

  it('lets an address have no more checks pending than it may fail', async () => {
    const auth = new Authenticator();
    const client = { address: '192.0.2.3', limits: { burst: 2, perMinute: 60 } };
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((pw) => auth.authenticate(creds('bob', pw), users, client)));
    expect(results.map((r) => (r.ok ? 'ok' : (r.refused ?? 'failed')))).toEqual(['failed', 'failed', 'rate-limited', 'rate-limited']);
    // then the address is out of failures
    expect(await auth.authenticate(creds('bob', 'e'), users, client)).toMatchObject({ refused: 'rate-limited' });
  });

  it('runs at most maxConcurrentHashes scrypt computations at once', async () => {
    const auth = new Authenticator({ maxConcurrentHashes: 1 });
    let running = 0;
    let most = 0;
    const real = crypto.scrypt;
    jest.spyOn(crypto, 'scrypt').mockImplementation(((...args: unknown[]) => {
      running++;
      most = Math.max(most, running);
      const cb = args[args.length - 1] as (err: Error | null, key: Buffer) => void;
      (real as (...a: unknown[]) => void)(...args.slice(0, -1), (err: Error | null, key: Buffer) => {
        running--;
        cb(err, key);
      });
    }) as typeof crypto.scrypt);
    const results = await Promise.all([
      auth.authenticate(creds('alice', 'wrong1'), users),
      auth.authenticate(creds('bob', 'wrong2'), users),
      auth.authenticate(creds('alice', 'alice-pw'), users),
      auth.authenticate(creds('alice', 'alice-pw'), users),
    ]);
    expect(results.map((r) => r.ok)).toEqual([false, false, true, true]);
    expect(most).toBe(1);
  });
});
