import { configRules } from '../../../test/support/config-rules';
import { configFromEtcdKeys, configFromRedisHashes } from './store-layout';

const backend = (port: number) => JSON.stringify({ url: `http://127.0.0.1:${port}`, db: 'x', dbmap: { app: 'application' } });
const proxy = JSON.stringify({ listenaddr: ':8087', databases: ['metrics', 'app'] });

describe('groups, hash keymaps and databases in the stores (#17)', () => {
  it('reads Redis hash g: as groups, a hash keymap and a proxy’s databases from their JSON values', () => {
    const cfg = configFromRedisHashes(
      {
        backends: { a1: backend(1), b1: backend(2) },
        keymaps: { cpu: '["a1"]', _default_: '{"hash":["g1","g2"]}' },
        proxies: { p1: proxy },
        groups: { g1: '["a1"]', g2: '["b1"]' },
      },
      'Redis r',
      configRules,
    );
    expect(cfg.groups).toEqual({ g1: ['a1'], g2: ['b1'] });
    expect(cfg.hashKeymaps).toEqual({ _default_: ['g1', 'g2'] });
    expect(cfg.keymaps).toEqual({ cpu: ['a1'] });
    expect(cfg.proxies.p1.databases).toEqual(['metrics', 'app']);
    expect(cfg.backends.a1.dbMap).toEqual({ app: 'application' });
  });

  it('reads a Redis store written before groups existed (no g: hash)', () => {
    const cfg = configFromRedisHashes(
      { backends: { a1: backend(1) }, keymaps: { _default_: '["a1"]' }, proxies: { p1: proxy } },
      'Redis r',
      configRules,
    );
    expect(cfg.groups).toEqual({});
  });

  it('reads etcd keys groups/<name>', () => {
    const warnings: string[] = [];
    const cfg = configFromEtcdKeys(
      '/ip/',
      {
        '/ip/backends/a1': backend(1),
        '/ip/backends/b1': backend(2),
        '/ip/groups/g1': '["a1"]',
        '/ip/groups/g2': '["b1"]',
        '/ip/keymaps/_default_': '{"hash":["g1","g2"]}',
        '/ip/proxies/p1': proxy,
      },
      configRules,
      (w) => warnings.push(w),
    );
    expect(cfg.groups).toEqual({ g1: ['a1'], g2: ['b1'] });
    expect(cfg.hashKeymaps).toEqual({ _default_: ['g1', 'g2'] });
    expect(warnings).toEqual([]);
  });

  it('names the store key of a group that is not JSON', () => {
    expect(() =>
      configFromEtcdKeys('/ip/', { '/ip/backends/a1': backend(1), '/ip/groups/g1': '[a1', '/ip/keymaps/_default_': '["a1"]' }, configRules),
    ).toThrow(/^groups\.g1: not valid JSON \(key \/ip\/groups\/g1\)/);
  });
});
