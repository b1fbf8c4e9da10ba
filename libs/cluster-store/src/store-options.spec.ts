import { InProcessMembershipStore, type ProxyMember } from './membership';
import { describeStore, normalizeEtcdPrefix, parseEtcdHosts, parseRedisAddress, parseSentinels, StoreAddressError } from './store-options';

describe('parseRedisAddress', () => {
  it("takes the Go proxy's host:port", () => {
    expect(parseRedisAddress('localhost:6379')).toEqual({ host: 'localhost', port: 6379, tls: false });
    expect(parseRedisAddress('10.0.0.1')).toEqual({ host: '10.0.0.1', port: 6379, tls: false });
    expect(parseRedisAddress('[::1]:7000')).toEqual({ host: '::1', port: 7000, tls: false });
  });

  it('takes a redis:// URL with credentials and a database index', () => {
    expect(parseRedisAddress('redis://:s%40cret@127.0.0.1:7001/3')).toEqual({
      host: '127.0.0.1',
      port: 7001,
      username: undefined,
      password: 's@cret',
      db: 3,
      tls: false,
    });
    expect(parseRedisAddress('rediss://u:p@h')).toMatchObject({ host: 'h', port: 6379, username: 'u', password: 'p', tls: true });
  });

  it.each(['h:port', 'h:70000', 'redis://h/x', ''])('refuses %j', (text) => {
    expect(() => parseRedisAddress(text)).toThrow(StoreAddressError);
  });
});

describe('store addresses', () => {
  it('parses sentinel lists, etcd endpoints and the prefix', () => {
    expect(parseSentinels('a:26380, b')).toEqual([
      { host: 'a', port: 26380 },
      { host: 'b', port: 26379 },
    ]);
    expect(parseEtcdHosts('http://127.0.0.1:2379/,10.0.0.2:2379')).toEqual(['http://127.0.0.1:2379', 'http://10.0.0.2:2379']);
    expect(() => parseEtcdHosts(' , ')).toThrow(/^--etcd: /);
    expect(normalizeEtcdPrefix('/influx')).toBe('/influx/');
    expect(normalizeEtcdPrefix('/influx-proxy/')).toBe('/influx-proxy/');
  });

  it('never shows a password when describing a store', () => {
    const redis = describeStore({
      kind: 'redis',
      host: 'h',
      port: 1,
      db: 2,
      tls: false,
      password: 'sekrit',
      refreshSeconds: 60,
      connectTimeoutMs: 1000,
    });
    expect(redis).toEqual({ kind: 'redis', address: 'redis://h:1/2' });
    const etcd = describeStore({
      kind: 'etcd',
      hosts: ['http://e:2379'],
      prefix: '/p/',
      username: 'u',
      password: 'sekrit',
      refreshSeconds: 60,
      connectTimeoutMs: 1000,
    });
    expect(JSON.stringify(etcd)).not.toContain('sekrit');
  });
});

describe('InProcessMembershipStore (the file store: this proxy alone)', () => {
  const member = (over: Partial<ProxyMember>): ProxyMember => ({
    name: 'p1',
    address: ':1',
    version: 'v',
    zone: '',
    pid: 1,
    hostname: 'h',
    startedAt: 0,
    lastHeartbeat: Date.now(),
    ttl: 30,
    backlog: {},
    ...over,
  });

  it('lists live records, forgets expired ones and leaves at once', async () => {
    const store = new InProcessMembershipStore();
    await store.heartbeat(member({}));
    await store.heartbeat(member({ name: 'old', lastHeartbeat: Date.now() - 31_000 }));
    expect((await store.members()).map((m) => m.name)).toEqual(['p1']);
    await store.leave('p1');
    expect(await store.members()).toEqual([]);
  });
});
