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
    expect(auth.tryFast(creds('alice', 'new-pw'), { alice: { ...changed.alice, admin: false } })).toMatchObject({ admin: false });
  });

  it('compares remembered passwords in constant time', async () => {
    const auth = new Authenticator();
    await auth.authenticate(creds('bob', 'bob-pw'), users);
    const equal = jest.spyOn(crypto, 'timingSafeEqual');
    auth.tryFast(creds('bob', 'bob-pw'), users);
    auth.tryFast(creds('bob', 'nope'), users);
    expect(equal).toHaveBeenCalledTimes(2);
  });

  it('runs at most maxConcurrentHashes scrypt computations at once', async () => {
    const auth = new Authenticator(1);
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
