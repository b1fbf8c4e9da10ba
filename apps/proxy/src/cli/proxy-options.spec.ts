import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseProxyArgs, PROJECT_ROOT, storeOptions } from './proxy-options';

const defaults = {
  redisMasterName: 'mymaster',
  etcdPrefix: '/influx-proxy/',
  storeRefresh: 60,
  storeTimeout: 5,
};

describe('config store flags', () => {
  it('keeps the file store (config.json in the install directory) when no store is named', () => {
    const options = parseProxyArgs(['--node', 'p1']);
    expect(options.store).toEqual({ kind: 'file', path: resolve(PROJECT_ROOT, 'config.json') });
    expect(options.membershipTtl).toBe(30);
  });

  it("takes the Go proxy's single-dash Redis flags", () => {
    const options = parseProxyArgs(['-redis', 'localhost:6380', '-redis-pwd', 'pw', '-redis-db', '2', '-node', 'l1']);
    expect(options.node).toBe('l1');
    expect(options.store).toMatchObject({ kind: 'redis', host: 'localhost', port: 6380, password: 'pw', db: 2, tls: false });
  });

  it('takes a redis:// URL, and --redis-db over the URL’s index', () => {
    expect(storeOptions({ ...defaults, redis: 'redis://:p@h:1/4' }, '/c')).toMatchObject({ host: 'h', port: 1, password: 'p', db: 4 });
    expect(storeOptions({ ...defaults, redis: 'redis://h/4', redisDb: 1 }, '/c')).toMatchObject({ db: 1 });
  });

  it('takes Redis Sentinel addresses and a master name', () => {
    const store = storeOptions({ ...defaults, redisSentinels: 's1:26379,s2:26380', redisMasterName: 'm1' }, '/c');
    expect(store).toMatchObject({
      kind: 'redis',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      masterName: 'm1',
    });
  });

  it('takes etcd endpoints, prefix and credentials', () => {
    const options = parseProxyArgs([
      '--etcd',
      'http://e1:2379,http://e2:2379',
      '--etcd-prefix',
      '/ip',
      '--etcd-user',
      'u',
      '--etcd-password',
      'p',
      '--membership-ttl',
      '3',
    ]);
    expect(options.store).toEqual({
      kind: 'etcd',
      hosts: ['http://e1:2379', 'http://e2:2379'],
      prefix: '/ip/',
      username: 'u',
      password: 'p',
      refreshSeconds: 60,
      connectTimeoutMs: 5000,
    });
    expect(options.membershipTtl).toBe(3);
  });

  it('refuses two stores at once', () => {
    expect(() => storeOptions({ ...defaults, redis: 'h:1', etcd: 'http://e:2379' }, '/c')).toThrow(
      /^choose one config store, not --redis and --etcd$/,
    );
    expect(() => storeOptions({ ...defaults, config: 'x.json', redis: 'h:1' }, '/c')).toThrow(/--config and --redis/);
  });
});

describe('--workers', () => {
  it('defaults to the number of cores', () => {
    expect(parseProxyArgs([]).workers).toBe(availableParallelism());
  });

  it('takes a count, single- or double-dashed', () => {
    expect(parseProxyArgs(['--workers', '1']).workers).toBe(1);
    expect(parseProxyArgs(['-workers', '3']).workers).toBe(3);
  });

  it.each(['0', '-1', '1.5', 'x'])('refuses --workers %s with exit code 2', (value) => {
    const exit = jest.spyOn(process, 'exit').mockImplementation(() => {
      throw new Error('exit');
    });
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => parseProxyArgs(['--workers', value])).toThrow('exit');
      expect(exit).toHaveBeenCalledWith(2);
      expect(error).toHaveBeenCalledWith('influxdb-proxy: --workers must be a whole number of at least 1');
    } finally {
      exit.mockRestore();
      error.mockRestore();
    }
  });
});
