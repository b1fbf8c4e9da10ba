import { randomBytes, scrypt as scryptCb, type ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * Proxy user passwords are stored as scrypt hashes in the PHC string format (as passlib and others
 * write them):
 *
 *     $scrypt$ln=15,r=8,p=1$<salt>$<key>
 *
 * `ln` is log2 of scrypt's cost N, `r` the block size, `p` the parallelism; salt and key are base64
 * (standard alphabet, padding optional). `bin/influxdb-proxy-passwd` prints one.
 */
export interface ScryptParams {
  /** log2(N). */
  ln: number;
  r: number;
  p: number;
}

export interface PasswordHash extends ScryptParams {
  salt: Buffer;
  key: Buffer;
}

/** 2^15 × 8 × 128 bytes = 32 MiB per verification; ~50–100 ms on one core. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ ln: 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on what a config may ask for, so one verification cannot take the machine's memory or minutes. */
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16], maxMemory: 1 << 30 } as const;

export class PasswordHashFormatError extends Error {
  override readonly name = 'PasswordHashFormatError';
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Parses a stored hash; throws PasswordHashFormatError saying what is wrong (never echoing the value). */
export function parsePasswordHash(text: string): PasswordHash {
  const m = PHC.exec(text);
  if (!m) throw new PasswordHashFormatError('not an scrypt hash of the form $scrypt$ln=15,r=8,p=1$<salt>$<key>');
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < LIMITS.ln[0] || ln > LIMITS.ln[1]) throw new PasswordHashFormatError(`ln must be ${LIMITS.ln.join('..')}`);
  if (r < LIMITS.r[0] || r > LIMITS.r[1]) throw new PasswordHashFormatError(`r must be ${LIMITS.r.join('..')}`);
  if (p < LIMITS.p[0] || p > LIMITS.p[1]) throw new PasswordHashFormatError(`p must be ${LIMITS.p.join('..')}`);
  if (memoryOf({ ln, r, p }) > LIMITS.maxMemory) throw new PasswordHashFormatError('ln and r ask for more than 1 GiB');
  const salt = Buffer.from(m[4], 'base64');
  const key = Buffer.from(m[5], 'base64');
  if (salt.length < 8) throw new PasswordHashFormatError('salt shorter than 8 bytes');
  if (key.length < 16 || key.length > 64) throw new PasswordHashFormatError('key must be 16..64 bytes');
  return { ln, r, p, salt, key };
}

/** Hashes `password` with a fresh random salt; the string parsePasswordHash reads back. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, params);
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/** True when `password` matches; the comparison takes the same time wherever the first difference is. */
export async function verifyPassword(password: string, hash: PasswordHash): Promise<boolean> {
  const key = await derive(password, hash.salt, hash.key.length, hash);
  return timingSafeEqual(key, hash.key);
}

function derive(password: string, salt: Buffer, length: number, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: memoryOf(params) * 2 + (1 << 20) };
  return new Promise((resolve, reject) => scryptCb(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}

function memoryOf(params: ScryptParams): number {
  return 128 * 2 ** params.ln * params.r * params.p;
}
