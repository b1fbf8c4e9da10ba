import { configRules } from '../../../test/support/config-rules';
import { backendDatabase, servesDatabase } from './cluster-config';
import { parseClusterConfig } from './cluster-config.schema';

const backends = {
  a1: { url: 'http://127.0.0.1:8086', db: 'x' },
  b1: { url: 'http://127.0.0.1:8087', db: 'x', dbMap: { app: 'application' } },
};

describe('scale-out config (#17)', () => {
  it('reads groups, hash keymaps and databases, keeping explicit keymaps where they were', () => {
    const cfg = parseClusterConfig(
      {
        backends,
        groups: { g1: ['a1'], g2: ['b1'] },
        keymaps: { cpu: ['a1'], 'app.mem': ['b1'], _default_: { hash: ['g1', 'g2', 'g1'] } },
        proxies: { p1: { listenAddr: ':8080', databases: ['metrics', 'app'] }, p2: { listenAddr: ':8081', databases: '*' } },
      },
      configRules,
    );
    expect(cfg.keymaps).toEqual({ cpu: ['a1'], 'app.mem': ['b1'] });
    expect(cfg.hashKeymaps).toEqual({ _default_: ['g1', 'g2'] });
    expect(cfg.groups).toEqual({ g1: ['a1'], g2: ['b1'] });
    expect(cfg.proxies.p1.databases).toEqual(['metrics', 'app']);
    expect(cfg.proxies.p2.databases).toBe('*');
    expect(cfg.backends.b1.dbMap).toEqual({ app: 'application' });
  });

  it('leaves an old config as it was: no databases, no groups, no hash keymaps', () => {
    const cfg = parseClusterConfig(
      { backends, keymaps: { _default_: ['a1'] }, proxies: { p1: { listenAddr: ':8080', db: 'x' } } },
      configRules,
    );
    expect(cfg.groups).toEqual({});
    expect(cfg.hashKeymaps).toEqual({});
    expect(cfg.proxies.p1.databases).toBeUndefined();
    expect(cfg.backends.a1).not.toHaveProperty('dbMap');
  });

  it.each([
    [{ groups: { g1: ['nope'] } }, 'groups.g1: unknown backend "nope"'],
    [{ groups: { g1: [] } }, 'groups.g1'],
    [{ groups: { g1: ['a1'] }, keymaps: { _default_: { hash: ['g9'] } } }, 'keymaps._default_.hash: unknown group "g9"'],
    [{ keymaps: { _default_: { hash: [] } } }, 'keymaps._default_'],
    [{ keymaps: { _default_: { ring: ['g1'] } } }, 'keymaps._default_'],
    [{ proxies: { p1: { listenAddr: ':1', databases: 'metrics' } } }, 'proxies.p1.databases'],
    [{ proxies: { p1: { listenAddr: ':1', databases: [] } } }, 'proxies.p1.databases'],
  ])('refuses %j', (part, message) => {
    expect(() => parseClusterConfig({ backends, keymaps: { _default_: ['a1'] }, ...part }, configRules)).toThrow(message);
  });

  it('maps a client db per backend only on a multi-database proxy', () => {
    expect(backendDatabase({ db: 'x' }, 'app', false)).toBe('x');
    expect(backendDatabase({ db: 'x' }, 'app', true)).toBe('app');
    expect(backendDatabase({ db: 'x', dbMap: { app: 'application' } }, 'app', true)).toBe('application');
    expect(backendDatabase({ db: 'x', dbMap: { app: 'application' } }, 'constructor', true)).toBe('constructor');
  });

  it('serves the listed databases, any with "*", and the single `db` otherwise', () => {
    expect(servesDatabase(['a', 'b'], '', 'b')).toBe(true);
    expect(servesDatabase(['a', 'b'], '', 'c')).toBe(false);
    expect(servesDatabase('*', 'x', 'anything')).toBe(true);
    expect(servesDatabase(undefined, 'x', 'x')).toBe(true);
    expect(servesDatabase(undefined, 'x', 'y')).toBe(false);
    expect(servesDatabase(undefined, '', 'y')).toBe(true);
  });
});
