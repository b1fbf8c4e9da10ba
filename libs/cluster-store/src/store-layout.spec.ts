import { ConfigValidationError } from '@app/config';
import { configRules } from '../../../test/support/config-rules';
import { parseMemberRecord } from './membership';
import { configFromEtcdKeys, configFromRedisHashes, fingerprint } from './store-layout';

const backend = JSON.stringify({ url: 'http://127.0.0.1:8086', db: 'x' });
const proxy = JSON.stringify({ listenaddr: ':8087', db: 'mydb' });

describe('configFromRedisHashes (the Go proxy layout written by config.py)', () => {
  it('reads hashes b:, m:, n: of JSON values into a validated config', () => {
    const cfg = configFromRedisHashes(
      {
        backends: { a: backend, b: JSON.stringify({ url: 'http://h:1', db: 'y', maxrowlimit: 5 }) },
        keymaps: { cpu: '["a"]', _default_: '["a","b"]' },
        proxies: { p1: proxy },
      },
      'Redis r',
      configRules,
    );
    expect(cfg.backends.a.url).toBe('http://127.0.0.1:8086');
    expect(cfg.backends.b.maxRowLimit).toBe(5);
    expect(cfg.keymaps).toEqual({ cpu: ['a'], _default_: ['a', 'b'] });
    expect(cfg.proxies.p1.listenAddr).toBe(':8087');
    expect(cfg.proxies.p1.db).toBe('mydb');
  });

  it('names the field whose value is not JSON', () => {
    expect(() => configFromRedisHashes({ backends: { a: '{url:' }, keymaps: {}, proxies: {} }, 'Redis r', configRules)).toThrow(
      /^backends\.a: not valid JSON \(hash b: field "a"\)/,
    );
    expect(() => configFromRedisHashes({ backends: { a: backend }, keymaps: { cpu: 'a,b' }, proxies: {} }, 'Redis r', configRules)).toThrow(
      /^keymaps\.cpu: not valid JSON \(hash m: field "cpu"\)/,
    );
  });

  it('refuses a keymap that names an unknown backend, as the file store does', () => {
    expect(() =>
      configFromRedisHashes({ backends: { a: backend }, keymaps: { cpu: '["zz"]' }, proxies: {} }, 'Redis r', configRules),
    ).toThrow(/^keymaps\.cpu: unknown backend "zz"$/);
  });

  it('says the store is empty rather than that a field is missing', () => {
    const empty = () => configFromRedisHashes({ backends: {}, keymaps: {}, proxies: {} }, 'Redis redis://h:1/0', configRules);
    expect(empty).toThrow(ConfigValidationError);
    expect(empty).toThrow(/^Redis redis:\/\/h:1\/0 holds no configuration .*config\.py$/);
  });

  it('passes unknown-field warnings on', () => {
    const warnings: string[] = [];
    configFromRedisHashes(
      { backends: { a: JSON.stringify({ url: 'http://h:1', db: 'x', colour: 1 }) }, keymaps: {}, proxies: {} },
      'Redis r',
      configRules,
      (w) => warnings.push(w),
    );
    expect(warnings).toEqual(['unknown field "backends.a.colour" ignored']);
  });
});

describe('configFromEtcdKeys', () => {
  const P = '/influx-proxy/';

  it('reads backends/, keymaps/ and proxies/ under the prefix', () => {
    const cfg = configFromEtcdKeys(
      P,
      {
        [`${P}backends/a`]: backend,
        [`${P}keymaps/cpu`]: '["a"]',
        [`${P}keymaps/_default_`]: '["a"]',
        [`${P}proxies/p1`]: proxy,
      },
      configRules,
    );
    expect(Object.keys(cfg.backends)).toEqual(['a']);
    expect(cfg.keymaps).toEqual({ cpu: ['a'], _default_: ['a'] });
    expect(cfg.proxies.p1.listenAddr).toBe(':8087');
  });

  it('keeps everything after the section as the name (a measurement may hold a slash)', () => {
    const cfg = configFromEtcdKeys(P, { [`${P}backends/a`]: backend, [`${P}keymaps/disk/io`]: '["a"]' }, configRules);
    expect(cfg.keymaps).toEqual({ 'disk/io': ['a'] });
  });

  it('ignores runtime records silently and warns about other unknown keys', () => {
    const warnings: string[] = [];
    const cfg = configFromEtcdKeys(
      P,
      {
        [`${P}backends/a`]: backend,
        [`${P}runtime/proxies/p1`]: '{"name":"p1"}',
        [`${P}colours/red`]: '1',
        [`${P}backends/`]: backend,
        '/elsewhere/backends/b': backend,
      },
      configRules,
      (w) => warnings.push(w),
    );
    expect(Object.keys(cfg.backends)).toEqual(['a']);
    expect(warnings).toEqual([`unknown etcd key "${P}colours/red" ignored`, `unknown etcd key "${P}backends/" ignored`]);
  });

  it('names the key whose value is not JSON', () => {
    expect(() => configFromEtcdKeys(P, { [`${P}backends/a`]: backend, [`${P}proxies/p1`]: 'nope' }, configRules)).toThrow(
      /^proxies\.p1: not valid JSON \(key \/influx-proxy\/proxies\/p1\)/,
    );
  });

  it('says the prefix is empty', () => {
    expect(() => configFromEtcdKeys(P, {}, configRules)).toThrow(/^etcd holds no configuration under \/influx-proxy\//);
    expect(() => configFromEtcdKeys(P, { [`${P}runtime/proxies/p1`]: '{}' }, configRules)).toThrow(/holds no configuration/);
  });
});

describe('fingerprint', () => {
  it('does not depend on key order', () => {
    expect(fingerprint({ b: { y: '1', x: '2' }, a: [2, 1] })).toBe(fingerprint({ a: [2, 1], b: { x: '2', y: '1' } }));
    expect(fingerprint({ a: [1, 2] })).not.toBe(fingerprint({ a: [2, 1] }));
  });
});

describe('parseMemberRecord', () => {
  it('reads a record and skips what is not one', () => {
    const m = parseMemberRecord(
      JSON.stringify({
        name: 'p1',
        address: ':1',
        version: '0.1.0',
        ttl: 3,
        lastHeartbeat: 5,
        backlog: { a: { records: 1, bytes: 2, oldestAt: 3 } },
      }),
    );
    expect(m).toMatchObject({ name: 'p1', address: ':1', ttl: 3, lastHeartbeat: 5, backlog: { a: { records: 1 } } });
    expect(parseMemberRecord('{')).toBeNull();
    expect(parseMemberRecord('{"address":":1"}')).toBeNull();
    expect(parseMemberRecord(null)).toBeNull();
  });
});
