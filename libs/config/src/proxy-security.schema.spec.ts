import { configRules } from '../../../test/support/config-rules';
import { parseClusterConfig } from './cluster-config.schema';

const backend = { url: 'http://127.0.0.1:8086', db: 'x' };
const HASH = `$scrypt$ln=15,r=8,p=1$${Buffer.alloc(16, 7).toString('base64')}$${Buffer.alloc(32, 9).toString('base64')}`;
const proxy = (extra: Record<string, unknown>) =>
  parseClusterConfig({ backends: { a: backend }, proxies: { p1: { listenAddr: ':8087', ...extra } } }, configRules).proxies.p1;

describe('proxy security settings', () => {
  it('defaults to no auth, plain HTTP and bounded timeouts, requests and buffered bytes', () => {
    expect(proxy({})).toMatchObject({
      users: {},
      authEnabled: false,
      pingAuthEnabled: false,
      metaAuthEnabled: false,
      headersTimeout: 10,
      requestTimeout: 300,
      maxConcurrentRequests: 1024,
      maxBufferedWriteBytes: 256 * 1024 * 1024,
    });
    expect(proxy({}).tlsCert).toBeUndefined();
  });

  it('caps connections per client address and failed password checks per address, by default and as configured', () => {
    expect(proxy({})).toMatchObject({ maxConnectionsPerAddress: 256, authFailureBurst: 10, authFailuresPerMinute: 30 });
    expect(proxy({ maxConnectionsPerAddress: 0, authFailureBurst: 3, authFailuresPerMinute: 0.5 })).toMatchObject({
      maxConnectionsPerAddress: 0,
      authFailureBurst: 3,
      authFailuresPerMinute: 0.5,
    });
    expect(() => proxy({ authFailureBurst: 0 })).toThrow(/^proxies\.p1\.authFailureBurst/);
    expect(() => proxy({ maxConnectionsPerAddress: -1 })).toThrow(/^proxies\.p1\.maxConnectionsPerAddress/);
  });

  it('reads users (keys in any case, admin defaulting to false) and the auth switches', () => {
    const p = proxy({ authenabled: 1, metaAuthEnabled: true, Users: { alice: { HASH, Admin: 1 }, bob: { hash: HASH } } });
    expect(p.authEnabled).toBe(true);
    expect(p.metaAuthEnabled).toBe(true);
    expect(p.users).toEqual({ alice: { hash: HASH, admin: true }, bob: { hash: HASH, admin: false } });
  });

  it('refuses a hash it cannot verify, naming the user and never echoing the value', () => {
    expect(() => proxy({ users: { alice: { hash: 'hunter2' } } })).toThrow(/^proxies\.p1\.users\.alice\.hash: not an scrypt hash/);
    try {
      proxy({ users: { alice: { hash: 'hunter2' } } });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
    expect(() => proxy({ users: { 'a:b': { hash: HASH } } })).toThrow(/^proxies\.p1\.users\.a:b: a user name cannot contain ":"/);
  });

  it('refuses settings that cannot work together', () => {
    expect(() => proxy({ authEnabled: true })).toThrow(/^proxies\.p1\.users: authEnabled needs at least one user$/);
    expect(() => proxy({ tlsCert: '/c.pem' })).toThrow(/^proxies\.p1\.tlsKey: tlsCert and tlsKey go together$/);
    expect(() => proxy({ tlsKey: '/k.pem' })).toThrow(/^proxies\.p1\.tlsCert: tlsCert and tlsKey go together$/);
    expect(() => proxy({ headersTimeout: 60, requestTimeout: 30 })).toThrow(/^proxies\.p1\.headersTimeout: cannot be longer/);
    expect(() => proxy({ maxConcurrentRequests: 0 })).toThrow(/^proxies\.p1\.maxConcurrentRequests/);
  });

  it('takes a caFile for https backends only', () => {
    const parse = (b: Record<string, unknown>) => parseClusterConfig({ backends: { a: b } }, configRules).backends.a;
    expect(parse({ url: 'https://influx:8086', db: 'x', cafile: '/ca.pem' }).caFile).toBe('/ca.pem');
    expect(() => parse({ ...backend, caFile: '/ca.pem' })).toThrow(/^backends\.a\.caFile: only for https:\/\/ backends$/);
  });
});
