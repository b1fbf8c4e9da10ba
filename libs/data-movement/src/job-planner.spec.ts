import type { ClusterConfig } from '@app/config';
import type { BackendInventory, MeasurementHolding } from './backend-discovery';
import { JobRefusedError, type JobRequest } from './job-model';
import { backendsToDiscover, planJob, replicasOf } from './job-planner';
import { DAY_MS } from './time-windows';

/** Only what the planner reads of a backend config. */
function config(keymaps: Record<string, string[]>, names = ['a', 'b', 'c']): ClusterConfig {
  const backends = Object.fromEntries(names.map((n) => [n, { url: `http://127.0.0.1:1/${n}`, db: `db_${n}` }]));
  return { backends, keymaps, proxies: {} } as unknown as ClusterConfig;
}

function held(measurement: string, points = 1_000, rp = 'autogen', firstMs = 0, lastMs = DAY_MS - 1): MeasurementHolding {
  return { rp, measurement, points, firstMs, lastMs, avgLineBytes: 50 };
}

function inv(backend: string, holdings: MeasurementHolding[], reachable = true): BackendInventory {
  return {
    backend,
    db: `db_${backend}`,
    reachable,
    hasDb: holdings.length > 0,
    retentionPolicies: [],
    holdings,
    ...(reachable ? {} : { error: 'ECONNREFUSED' }),
  };
}

function plan(request: JobRequest, cfg: ClusterConfig, inventories: BackendInventory[]) {
  return planJob({ request, config: cfg, inventories, now: 1 });
}

describe('planning recover', () => {
  const cfg = config({ _default_: ['a', 'b'], cpu: ['a', 'b', 'c'], solo: ['c'] });

  it('discovers only the backend’s replicas, and refuses an unknown backend or one with no replica', () => {
    expect(backendsToDiscover({ kind: 'recover', backend: 'c' }, cfg)).toEqual(['a', 'b']);
    expect(replicasOf('a', cfg).sort()).toEqual(['b', 'c']);
    expect(() => plan({ kind: 'recover', backend: 'x' }, cfg, [])).toThrow(new JobRefusedError('unknown backend "x"'));
    const lonely = config({ _default_: ['a'], m: ['b'] }, ['a', 'b']);
    expect(() => plan({ kind: 'recover', backend: 'a' }, lonely, [])).toThrow(/has no replica to copy from/);
  });

  it('copies what the keymaps route to it, from the replicas of that route that hold it, per rp', () => {
    const p = plan({ kind: 'recover', backend: 'c' }, cfg, [
      inv('a', [held('cpu'), held('mem'), held('cpu', 10, 'week')]),
      inv('b', [held('cpu', 1_500), held('solo')]),
    ]);
    expect(p.steps[0]).toEqual({ op: 'schema', sources: ['a', 'b'], target: 'c', dbs: { db_a: 'db_c', db_b: 'db_c' } });
    const copies = p.steps.slice(1);
    expect(copies.map((s) => s.op === 'copy' && [s.rp, s.measurement, s.sources.join('+'), s.targets.join('+')])).toEqual([
      ['autogen', 'cpu', 'a+b', 'c'],
      ['week', 'cpu', 'a', 'c'],
    ]);
    // the fullest source sets the estimate
    expect(p.estimatedPoints).toBe(1_510);
    expect(p.estimatedBytes).toBe(1_510 * 50);
  });

  it('puts the replicas that answered first, and throws (not a refusal) when none did', () => {
    const p = plan({ kind: 'recover', backend: 'b' }, cfg, [inv('a', [], false), inv('c', [held('cpu')])]);
    expect(p.steps[0]).toMatchObject({ op: 'schema', sources: ['c'] });
    expect(p.steps[1]).toMatchObject({ op: 'copy', measurement: 'cpu', sources: ['c'], targets: ['b'] });
    expect(() => plan({ kind: 'recover', backend: 'b' }, cfg, [inv('a', [], false), inv('c', [], false)])).toThrow(
      /no replica of backend b answered/,
    );
  });

  it('spans the union of the sources’ first and last points, aligned to its window size', () => {
    const p = plan({ kind: 'recover', backend: 'c' }, cfg, [
      inv('a', [held('cpu', 100, 'autogen', 5 * DAY_MS + 10, 6 * DAY_MS)]),
      inv('b', [held('cpu', 100, 'autogen', 4 * DAY_MS, 5 * DAY_MS)]),
    ]);
    const copy = p.steps[1];
    expect(copy).toMatchObject({ op: 'copy', windowMs: 7 * DAY_MS });
    if (copy.op !== 'copy') throw new Error('not a copy');
    expect(copy.span.start).toBeLessThanOrEqual(4 * DAY_MS);
    expect(copy.span.end).toBeGreaterThan(6 * DAY_MS);
    expect(copy.span.start % copy.windowMs).toBe(0);
  });
});

describe('planning resync', () => {
  const cfg = config({ _default_: ['a', 'b'], solo: ['c'] });

  it('compares every measurement held on two or more replicas of its route; a lone one is left alone', () => {
    const p = plan({ kind: 'resync' }, cfg, [
      inv('a', [held('cpu', 100)]),
      inv('b', [held('cpu', 80), held('mem', 5)]),
      inv('c', [held('solo')]),
    ]);
    expect(
      p.steps.map((s) =>
        s.op === 'compare' ? `${s.measurement} ${s.replicas.join('+')}` : `${s.op} ${s.op === 'schema' ? s.target : ''}`,
      ),
    ).toEqual([
      // a lacks mem: it may lack the rp the union copy writes mem into
      'schema a',
      'cpu a+b',
      'mem a+b',
    ]);
    expect(p.steps[0]).toMatchObject({ sources: ['b'], createOnly: true });
    // what it may copy: each replica's shortfall against the fullest
    expect(p.estimatedPoints).toBe(20 + 5);
  });

  it('only the measurements asked for', () => {
    const p = plan({ kind: 'resync', measurements: ['mem'] }, cfg, [
      inv('a', [held('cpu')]),
      inv('b', [held('cpu'), held('mem')]),
      inv('c', []),
    ]);
    expect(p.steps.map((s) => (s.op === 'compare' ? s.measurement : s.op))).toEqual(['schema', 'mem']);
  });

  it('cannot compare with a replica down', () => {
    expect(() => plan({ kind: 'resync' }, cfg, [inv('a', [held('cpu')]), inv('b', [], false), inv('c', [])])).toThrow(
      /backend b did not answer/,
    );
  });
});

describe('planning rebalance', () => {
  it('copies a measurement whose route changed from its old owners to each new owner only', () => {
    const cfg = config({ _default_: ['a', 'b'], cpu: ['b', 'c'] });
    const p = plan({ kind: 'rebalance', keymapsBefore: { _default_: ['a', 'b'] } }, cfg, [
      inv('a', [held('cpu'), held('mem')]),
      inv('b', [held('cpu'), held('mem')]),
      inv('c', []),
    ]);
    expect(p.steps[0]).toEqual({ op: 'schema', sources: ['a', 'b'], target: 'c', dbs: { db_a: 'db_c', db_b: 'db_c' }, createOnly: true });
    expect(p.steps.slice(1).map((s) => s.op === 'copy' && `${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}`)).toEqual([
      'cpu a+b→c',
    ]);
  });

  it('plans nothing when no route changed, and refuses without the keymaps before', () => {
    const cfg = config({ _default_: ['a', 'b'] });
    expect(
      plan({ kind: 'rebalance', keymapsBefore: { _default_: ['b', 'a'] } }, cfg, [
        inv('a', [held('cpu')]),
        inv('b', [held('cpu')]),
        inv('c', []),
      ]).steps,
    ).toEqual([]);
    expect(() => plan({ kind: 'rebalance' }, cfg, [])).toThrow(JobRefusedError);
  });

  it('ignores an old owner that is no longer a backend', () => {
    const cfg = config({ _default_: ['a', 'b'] });
    const p = plan({ kind: 'rebalance', keymapsBefore: { _default_: ['a', 'gone'] } }, cfg, [
      inv('a', [held('cpu')]),
      inv('b', []),
      inv('c', []),
    ]);
    expect(p.steps.map((s) => (s.op === 'copy' ? `${s.measurement} ${s.sources.join('+')}→${s.targets.join('+')}` : s.op))).toEqual([
      'schema',
      'cpu a→b',
    ]);
  });
});

describe('planning cleanup', () => {
  const cfg = config({ _default_: ['a', 'b'], cpu: ['c'] });

  it('is refused without confirmation (400)', () => {
    let error: unknown;
    try {
      plan({ kind: 'cleanup', backend: 'a' }, cfg, [inv('a', [])]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(JobRefusedError);
    expect(error).toMatchObject({ message: 'cleanup drops data: confirm it', status: 400 });
  });

  it('drops each measurement (once, whatever its rps) that no keymap routes to the backend any more', () => {
    const p = plan({ kind: 'cleanup', backend: 'a', confirm: true }, cfg, [inv('a', [held('cpu'), held('cpu', 1, 'week'), held('mem')])]);
    expect(p.steps).toEqual([{ op: 'drop', backend: 'a', db: 'db_a', measurement: 'cpu' }]);
  });
});
