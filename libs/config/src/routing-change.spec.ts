import { applyRoutingChange, rawKeymapsOf, routingChangeOf } from './routing-change';
import { DEFAULT_FORBIDDEN_STATEMENTS } from './cluster-config';
import { ConfigValidationError, parseClusterConfig } from './cluster-config.schema';

const RULES = { statementKinds: [...DEFAULT_FORBIDDEN_STATEMENTS], checkPasswordHash: () => undefined };
const CONFIG = parseClusterConfig(
  {
    backends: {
      a: { url: 'http://127.0.0.1:1', db: 'x' },
      b: { url: 'http://127.0.0.1:2', db: 'x' },
      c: { url: 'http://127.0.0.1:3', db: 'x' },
    },
    groups: { g1: ['a'], g2: ['b'] },
    keymaps: { cpu: ['a'], _default_: { hash: ['g1', 'g2'] } },
    proxies: { p1: { listenAddr: ':1', db: 'x', users: { u: { hash: 'h' } } } },
  },
  RULES,
);

describe('routing changes (rebalance --keymaps, plan --keymaps)', () => {
  it('takes an object of keymaps, or the keymaps and groups of a config document', () => {
    expect(routingChangeOf({ cpu: ['b'] })).toEqual({ keymaps: { cpu: ['b'] } });
    expect(routingChangeOf({ keymaps: { cpu: ['b'] }, groups: { g3: ['c'] }, backends: {} })).toEqual({
      keymaps: { cpu: ['b'] },
      groups: { g3: ['c'] },
    });
    expect(() => routingChangeOf([])).toThrow(ConfigValidationError);
    expect(() => routingChangeOf({ keymaps: {} })).toThrow(/none given/);
    expect(() => routingChangeOf({ keymaps: { cpu: ['a'] }, groups: [] })).toThrow(/groups/);
  });

  it('applies new keymaps and groups over the config in force, hash keymaps included', () => {
    const after = applyRoutingChange(
      CONFIG,
      { keymaps: { cpu: ['b'], _default_: { hash: ['g1', 'g2', 'g3'] } }, groups: { g1: ['a'], g2: ['b'], g3: ['c'] } },
      RULES,
    );
    expect(after.keymaps).toEqual({ cpu: ['b'] });
    expect(after.hashKeymaps).toEqual({ _default_: ['g1', 'g2', 'g3'] });
    expect(after.groups).toEqual({ g1: ['a'], g2: ['b'], g3: ['c'] });
    expect(after.backends).toEqual(CONFIG.backends);
    expect(after.proxies).toEqual(CONFIG.proxies);
    // groups left out: the ones in force stay
    expect(applyRoutingChange(CONFIG, { keymaps: { _default_: ['c'] } }, RULES).groups).toEqual(CONFIG.groups);
  });

  it('refuses a change that names what the config does not have', () => {
    expect(() => applyRoutingChange(CONFIG, { keymaps: { cpu: ['nope'] } }, RULES)).toThrow(/unknown backend "nope"/);
    expect(() => applyRoutingChange(CONFIG, { keymaps: { _default_: { hash: ['g9'] } } }, RULES)).toThrow(ConfigValidationError);
  });

  it('gives back the raw keymaps of a parsed config', () => {
    expect(rawKeymapsOf(CONFIG)).toEqual({ cpu: ['a'], _default_: { hash: ['g1', 'g2'] } });
  });
});
