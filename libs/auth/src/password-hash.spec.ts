import { DEFAULT_SCRYPT, PasswordHashFormatError, hashPassword, parsePasswordHash, verifyPassword } from './password-hash';

const CHEAP = { ln: 10, r: 8, p: 1 };

describe('scrypt password hashes', () => {
  it('writes the PHC form with the default cost and verifies the password it was made from', async () => {
    const text = await hashPassword('correct horse');
    expect(text).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(DEFAULT_SCRYPT).toEqual({ ln: 15, r: 8, p: 1 });
    const hash = parsePasswordHash(text);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsE', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('salts every hash: the same password never gives the same string', async () => {
    const [a, b] = await Promise.all([hashPassword('pw', CHEAP), hashPassword('pw', CHEAP)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('pw', parsePasswordHash(a))).toBe(true);
    expect(await verifyPassword('pw', parsePasswordHash(b))).toBe(true);
  });

  it('verifies non-ASCII passwords byte for byte (UTF-8)', async () => {
    const hash = parsePasswordHash(await hashPassword('pässwörd 🔑', CHEAP));
    expect(await verifyPassword('pässwörd 🔑', hash)).toBe(true);
    expect(await verifyPassword('passwörd 🔑', hash)).toBe(false);
  });

  it('reads hashes written by other PHC tools (padded base64 too)', async () => {
    const text = await hashPassword('x', CHEAP);
    const [, , params, salt, key] = text.split('$');
    const padded = `$scrypt$${params}$${Buffer.from(salt, 'base64').toString('base64')}$${Buffer.from(key, 'base64').toString('base64')}`;
    expect(await verifyPassword('x', parsePasswordHash(padded))).toBe(true);
  });

  it('refuses malformed or unreasonable hashes with a message that does not echo them', () => {
    const salt = Buffer.alloc(16, 1).toString('base64');
    const key = Buffer.alloc(32, 2).toString('base64');
    const bad: [string, RegExp][] = [
      ['plaintext-password', /not an scrypt hash/],
      [`$2y$10$abcdefghijklmnopqrstuv`, /not an scrypt hash/],
      [`$scrypt$ln=15,r=8$${salt}$${key}`, /not an scrypt hash/],
      [`$scrypt$ln=9,r=8,p=1$${salt}$${key}`, /ln must be 10\.\.20/],
      [`$scrypt$ln=21,r=8,p=1$${salt}$${key}`, /ln must be 10\.\.20/],
      [`$scrypt$ln=15,r=0,p=1$${salt}$${key}`, /r must be/],
      [`$scrypt$ln=15,r=8,p=17$${salt}$${key}`, /p must be/],
      [`$scrypt$ln=20,r=32,p=1$${salt}$${key}`, /more than 1 GiB/],
      [`$scrypt$ln=15,r=8,p=1$AAAA$${key}`, /salt shorter/],
      [`$scrypt$ln=15,r=8,p=1$${salt}$AAAA`, /key must be/],
    ];
    for (const [text, message] of bad) {
      let error: unknown;
      try {
        parsePasswordHash(text);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(PasswordHashFormatError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(key);
    }
  });
});
