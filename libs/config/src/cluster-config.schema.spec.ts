import { configRules } from '../../../test/support/config-rules';
import { ConfigValidationError, parseClusterConfig } from './cluster-config.schema';

const backend = { url: 'http://127.0.0.1:8086', db: 'x' };

describe('parseClusterConfig', () => {
  it('applies the Go proxy defaults to a backend that gives only url and db', () => {
    const cfg = parseClusterConfig({ backends: { a: backend }, keymaps: { _default_: ['a'] }, proxies: {} }, configRules);
    expect(cfg.backends.a).toEqual({
      url: 'http://127.0.0.1:8086',
      db: 'x',
      zone: '',
      timeout: 10000,
      timeoutQuery: 600000,
      maxRowLimit: 10000,
      checkInterval: 1000,
      rewriteInterval: 10000,
      writeOnly: false,
      gzip: false,
      concurrency: 4,
      spoolMaxBytes: 1024 * 1024 * 1024,
      downAfter: 3,
      upAfter: 2,
      replayLinesPerSecond: 0,
      maxBatchBytes: 16 * 1024 * 1024,
      rejectedMaxBytes: 256 * 1024 * 1024,
    });
  });

  it("accepts config.py's lower-case keys", () => {
    const cfg = parseClusterConfig(
      {
        backends: { a: { ...backend, maxrowlimit: 5, writeonly: 1 } },
        proxies: { l1: { listenaddr: ':6666', db: 'test', idletimeout: 10 } },
      },
      configRules,
    );
    expect(cfg.backends.a.maxRowLimit).toBe(5);
    expect(cfg.backends.a.writeOnly).toBe(true);
    expect(cfg.proxies.l1.listenAddr).toBe(':6666');
  });

  it('gives a proxy the default query settings and validates the forbidden statement kinds', () => {
    const cfg = parseClusterConfig({ backends: { a: backend }, proxies: { p1: { listenAddr: ':8086' } } }, configRules);
    expect(cfg.proxies.p1.fanoutCreate).toBe(true);
    expect(cfg.proxies.p1.forbiddenStatements).toEqual(
      expect.arrayContaining(['delete', 'drop-database', 'drop-measurement', 'grant', 'revoke', 'alter-retention-policy']),
    );
    expect(cfg.proxies.p1.forbiddenStatements).toEqual(
      expect.arrayContaining(['kill-query', 'set-password', 'create-user', 'create-continuous-query', 'create-subscription']),
    );
    expect(cfg.proxies.p1.forbiddenStatements).not.toContain('select');
    expect(cfg.proxies.p1.forbiddenStatements).not.toContain('create-database');

    const custom = parseClusterConfig(
      {
        backends: { a: backend },
        proxies: { p1: { listenAddr: ':8086', forbiddenstatements: ['drop-database'], fanoutcreate: 0 } },
      },
      configRules,
    );
    expect(custom.proxies.p1.forbiddenStatements).toEqual(['drop-database']);
    expect(custom.proxies.p1.fanoutCreate).toBe(false);

    expect(() =>
      parseClusterConfig(
        { backends: { a: backend }, proxies: { p1: { listenAddr: ':8086', forbiddenStatements: ['drop-everything'] } } },
        configRules,
      ),
    ).toThrow(/^proxies\.p1\.forbiddenStatements\.0: unknown statement kind "drop-everything"$/);
    expect(() =>
      parseClusterConfig({ backends: { a: backend }, proxies: { p1: { listenAddr: ':8086', forbiddenStatements: 'drop' } } }, configRules),
    ).toThrow(/^proxies\.p1\.forbiddenStatements: /);
  });

  it("keeps the Go proxy's backend interval (a buffered proxy's flush wait, in ms) and bounds it", () => {
    const warnings: string[] = [];
    const cfg = parseClusterConfig(
      { backends: { a: { ...backend, interval: 500 }, b: { ...backend, Interval: 0 }, c: backend } },
      configRules,
      (w) => warnings.push(w),
    );
    expect(warnings).toEqual([]);
    expect(cfg.backends.a.interval).toBe(500);
    expect(cfg.backends.b.interval).toBe(0);
    expect(cfg.backends.c).not.toHaveProperty('interval');
    expect(() => parseClusterConfig({ backends: { a: { ...backend, interval: -1 } } }, configRules)).toThrow(/^backends\.a\.interval: /);
    expect(() => parseClusterConfig({ backends: { a: { ...backend, interval: 60_001 } } }, configRules)).toThrow(
      /^backends\.a\.interval: /,
    );
  });

  it('judges statement kinds and password hashes by the rules the app hands in', () => {
    const rules = {
      statementKinds: ['select', 'drop-database'],
      checkPasswordHash: (hash: string) => {
        if (hash !== 'good') throw new Error('not the good hash');
      },
    };
    const proxy = (p: Record<string, unknown>) =>
      parseClusterConfig({ backends: { a: backend }, proxies: { p1: { listenAddr: ':8086', ...p } } }, rules).proxies.p1;
    expect(proxy({ forbiddenStatements: ['select'] }).forbiddenStatements).toEqual(['select']);
    expect(() => proxy({ forbiddenStatements: ['delete'] })).toThrow(
      /^proxies\.p1\.forbiddenStatements\.0: unknown statement kind "delete"$/,
    );
    expect(proxy({ users: { alice: { hash: 'good' } } }).users).toEqual({ alice: { hash: 'good', admin: false } });
    expect(() => proxy({ users: { alice: { hash: 'bad' } } })).toThrow(/^proxies\.p1\.users\.alice\.hash: not the good hash$/);
  });

  it('ignores unknown fields and warns about each', () => {
    const warnings: string[] = [];
    parseClusterConfig({ backends: { a: { ...backend, colour: 'red' } }, extra: 1 }, configRules, (w) => warnings.push(w));
    expect(warnings).toEqual(['unknown field "backends.a.colour" ignored', 'unknown config field "extra" ignored']);
  });

  it.each([
    [{ backends: { a: { ...backend, url: 'not a url' } } }, /^backends\.a\.url: /],
    [{ backends: { a: { ...backend, url: 'ftp://h/' } } }, /^backends\.a\.url: /],
    [{ backends: { a: { url: 'http://h:1' } } }, /^backends\.a\.db: /],
    [{ backends: { a: { ...backend, timeout: -1 } } }, /^backends\.a\.timeout: /],
    [{ backends: { a: backend }, keymaps: { cpu: ['b'] } }, /^keymaps\.cpu: unknown backend "b"$/],
    [{ backends: { a: backend }, keymaps: { cpu: [] } }, /^keymaps\.cpu: /],
    [{ backends: { a: backend }, proxies: { p1: { listenAddr: 'nowhere' } } }, /^proxies\.p1\.listenAddr: must be host:port$/],
    [{ keymaps: {} }, /^backends: /],
    ['[]', /^config: |^backends: /],
  ])('refuses %j with a message naming the field', (raw, message) => {
    expect(() => parseClusterConfig(raw, configRules)).toThrow(ConfigValidationError);
    expect(() => parseClusterConfig(raw, configRules)).toThrow(message);
  });
});
