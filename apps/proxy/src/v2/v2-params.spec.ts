import { parseCredentials } from '@app/auth';
import { writePrecisionOf } from '@app/line-protocol';
import { bucketTarget, invalidV2Precision, v2WritePrecision } from './v2-params';

describe('bucketTarget (influxd 1.8 bucket2dbrp)', () => {
  it('reads db/rp, splitting at the first slash', () => {
    expect(bucketTarget('metrics/autogen')).toEqual({ db: 'metrics', rp: 'autogen' });
    expect(bucketTarget('metrics/a/b')).toEqual({ db: 'metrics', rp: 'a/b' });
  });

  it('reads a bare db (and db/ with an empty rp) as the default retention policy', () => {
    expect(bucketTarget('metrics')).toEqual({ db: 'metrics', rp: '' });
    expect(bucketTarget('metrics/')).toEqual({ db: 'metrics', rp: '' });
  });

  it('refuses an empty bucket and an empty db in 1.8’s words', () => {
    expect(bucketTarget('')).toEqual({ error: 'bucket name "" is missing a slash; not in "database/retention-policy" format' });
    expect(bucketTarget('/autogen')).toEqual({ error: 'bucket name "/autogen" is in db/rp form but has an empty database' });
  });
});

describe('v2WritePrecision', () => {
  it.each([
    ['', ''],
    ['ns', 'n'],
    ['us', 'u'],
    ['ms', 'ms'],
    ['s', 's'],
  ])('maps %j to the write path’s %j', (v2, v1) => {
    expect(v2WritePrecision(v2)).toBe(v1);
  });

  it.each(['n', 'u', 'm', 'h', 'rfc3339', 'NS', ' s'])('refuses %j, as 1.8 does', (p) => {
    expect(v2WritePrecision(p)).toBeUndefined();
  });

  it('words the refusal as 1.8 does', () => {
    expect(invalidV2Precision('h')).toBe('invalid precision "h" (use ns, us, ms or s)');
  });
});

describe('writePrecisionOf (/write)', () => {
  it('takes rfc3339 as nanoseconds, as influxd 1.6 does', () => {
    expect(writePrecisionOf('rfc3339')).toBe('n');
  });

  it('keeps the precisions influxd knows and refuses the others', () => {
    for (const p of ['', 'n', 'ns', 'u', 'ms', 's', 'm', 'h']) expect(writePrecisionOf(p)).toBe(p);
    expect(writePrecisionOf('us')).toBeUndefined();
    expect(writePrecisionOf('RFC3339')).toBeUndefined();
  });
});

describe('v2 clients’ credentials', () => {
  const none = new URLSearchParams();

  it('reads Authorization: Token user:password (what the v2 client sends for token "user:password")', () => {
    expect(parseCredentials(none, 'Token alice:s3cr:et')).toEqual({ kind: 'user', username: 'alice', password: 's3cr:et' });
  });

  it('reads Basic and u/p as well, as 1.8 does', () => {
    const basic = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    expect(parseCredentials(none, basic)).toEqual({ kind: 'user', username: 'bob', password: 'pw' });
    expect(parseCredentials(new URLSearchParams('u=carol&p=x'), 'Token alice:pw')).toEqual({
      kind: 'user',
      username: 'carol',
      password: 'x',
    });
  });

  it('refuses a token without a colon', () => {
    expect(parseCredentials(none, 'Token abcdef').kind).toBe('none');
  });
});
