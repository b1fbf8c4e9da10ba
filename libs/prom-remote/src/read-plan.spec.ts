import { DEFAULT_FORBIDDEN_STATEMENTS } from '@app/config';
import type { PlannerBackend, PlannerTopology, ReadFence } from '@app/query';
import fc from 'fast-check';
import { keymapSets, mergeReadResults, narrowsName, planReadQuery } from './read-plan';
import type { PromLabelMatcher, PromQuery, PromTimeSeries } from './remote-messages';

interface FakeBackend {
  name: string;
  url?: string;
  zone?: string;
  writeOnly?: boolean;
  healthy?: boolean;
}

function topology(backends: FakeBackend[], keymaps: Record<string, string[]>, zone = ''): PlannerTopology {
  const list: PlannerBackend[] = backends.map((b) => ({
    name: b.name,
    config: { url: b.url ?? `http://${b.name}:8086`, db: 'db', zone: b.zone ?? '', writeOnly: b.writeOnly ?? false },
    isHealthy: b.healthy ?? true,
  }));
  const index = new Map(backends.map((b, i) => [b.name, i]));
  const routes = new Map(Object.entries(keymaps).map(([m, names]) => [m, names.map((n) => index.get(n)!)]));
  return {
    backends: list,
    node: { db: 'db', zone, forbiddenStatements: DEFAULT_FORBIDDEN_STATEMENTS, fanoutCreate: true },
    router: { routeByName: (m) => routes.get(m) ?? routes.get('_default_') ?? null },
    config: { keymaps },
  };
}

const HOUR_MS = 3_600_000;
const GUARD = { maxRangeWithoutNameSeconds: 3600 };

function query(matchers: PromLabelMatcher[], rangeMs = 5 * 60_000): PromQuery {
  const end = 1_700_000_000_000;
  return { startTimestampMs: end - rangeMs, endTimestampMs: end, matchers };
}

const name = (value: string, type: PromLabelMatcher['type'] = 'EQ'): PromLabelMatcher => ({ type, name: '__name__', value });
const label = (n: string, value: string): PromLabelMatcher => ({ type: 'EQ', name: n, value });

/** a and b hold cpu (replicas), c holds mem alone, the rest goes to a and b. */
const ABC = (overrides: Partial<Record<string, Partial<FakeBackend>>> = {}, zone = '') =>
  topology(
    ['a', 'b', 'c'].map((n) => ({ name: n, ...overrides[n] })),
    { cpu: ['a', 'b'], mem: ['c'], _default_: ['a', 'b'] },
    zone,
  );

describe('planReadQuery: routing by the __name__ matcher', () => {
  it('sends a query naming its metric to the replicas holding that measurement, in order', () => {
    expect(planReadQuery(query([name('cpu'), label('host', 'x')]), ABC(), GUARD)).toEqual({
      kind: 'single',
      measurement: 'cpu',
      candidates: [0, 1],
    });
    expect(planReadQuery(query([label('job', 'x'), name('mem')]), ABC(), GUARD)).toEqual({
      kind: 'single',
      measurement: 'mem',
      candidates: [2],
    });
    // a metric no keymap names lives on _default_'s backends
    expect(planReadQuery(query([name('disk')]), ABC(), GUARD)).toMatchObject({ kind: 'single', candidates: [0, 1] });
  });

  it('leaves unhealthy and write-only replicas out and puts the proxy zone first, as /query does', () => {
    expect(planReadQuery(query([name('cpu')]), ABC({ a: { healthy: false } }), GUARD)).toMatchObject({ candidates: [1] });
    expect(planReadQuery(query([name('cpu')]), ABC({ a: { writeOnly: true } }), GUARD)).toMatchObject({ candidates: [1] });
    expect(planReadQuery(query([name('cpu')]), ABC({ b: { zone: 'z2' } }, 'z2'), GUARD)).toMatchObject({ candidates: [1, 0] });
  });

  it('puts read-behind replicas last when a caught-up one can answer', () => {
    const fence: ReadFence = { active: true, behind: (b) => (b.name === 'a' ? 50 : 0) };
    expect(planReadQuery(query([name('cpu')]), ABC(), GUARD, fence)).toMatchObject({ candidates: [1] });
  });

  it('answers unavailable when no replica of the measurement is healthy', () => {
    const plan = planReadQuery(query([name('mem')]), ABC({ c: { healthy: false } }), GUARD);
    expect(plan).toEqual({ kind: 'unavailable', message: 'no backend can answer: c (down)' });
  });

  it.each([
    ['a regex name', [name('cpu|mem', 'RE')]],
    ['a NEQ name', [name('cpu', 'NEQ')]],
    ['an NRE name', [name('cpu.*', 'NRE')]],
    ['no name', [label('job', 'x')]],
  ])('fans %s out to one replica group per keymap set', (_what, matchers) => {
    // each set reads only the measurements routed to it: a and b everything but mem, c only mem
    expect(planReadQuery(query(matchers), ABC(), GUARD)).toEqual({
      kind: 'fanout',
      groups: [
        { members: [0, 1], matcher: { type: 'NRE', name: '__name__', value: '^(?:mem)$' } },
        { members: [2], matcher: { type: 'RE', name: '__name__', value: '^(?:mem)$' } },
      ],
    });
  });

  it('fans out unavailable when a whole keymap set is down', () => {
    expect(planReadQuery(query([name('c.*', 'RE')]), ABC({ c: { healthy: false } }), GUARD)).toEqual({
      kind: 'unavailable',
      message: 'no backend can answer: c (down)',
    });
  });

  it('counts two entries for one URL and db as one set', () => {
    const topo = topology([{ name: 'a' }, { name: 'a2', url: 'http://a:8086' }, { name: 'c' }], { x: ['a'], y: ['a2'], _default_: ['c'] });
    expect(keymapSets(topo)).toEqual([
      { members: [0], matcher: { type: 'RE', name: '__name__', value: '^(?:x|y)$' } },
      { members: [2], matcher: { type: 'NRE', name: '__name__', value: '^(?:x|y)$' } },
    ]);
  });

  it('adds no matcher when one set holds every measurement', () => {
    const topo = topology([{ name: 'a' }, { name: 'b' }], { cpu: ['a', 'b'], _default_: ['b', 'a'] });
    expect(keymapSets(topo)).toEqual([{ members: [0, 1] }]);
  });

  it('reads only the named measurements of each set when there is no _default_', () => {
    const topo = topology([{ name: 'a' }, { name: 'b' }], { cpu: ['a'], mem: ['b'], disk: ['a'] });
    expect(keymapSets(topo).map((g) => [g.members, g.matcher?.type, g.matcher?.value])).toEqual([
      [[0], 'RE', '^(?:cpu|disk)$'],
      [[1], 'RE', '^(?:mem)$'],
    ]);
  });

  it('matches the names exactly, regex characters in them included', () => {
    const topo = topology([{ name: 'a' }, { name: 'b' }], { 'node.cpu+x': ['a'], _default_: ['b'] });
    const [own, rest] = keymapSets(topo);
    const re = new RegExp(own.matcher!.value);
    expect(['node.cpu+x'].map((n) => re.test(n))).toEqual([true]);
    expect(['nodeXcpuxx', 'node.cpu+xy', 'anode.cpu+x'].some((n) => re.test(n))).toBe(false);
    expect(rest.matcher).toEqual({ type: 'NRE', name: '__name__', value: own.matcher!.value });
  });
});

describe('planReadQuery: the guard on reads that name no metric', () => {
  it('refuses a wide read without a name, and says why and how to narrow it', () => {
    const plan = planReadQuery(query([label('job', 'x')], 2 * HOUR_MS), ABC(), GUARD);
    expect(plan.kind).toBe('refused');
    expect(plan.kind === 'refused' && plan.message).toBe(
      'remote read query refused by the proxy (promReadMaxRangeWithoutName): it names no metric (no __name__ matcher, ' +
        'or only one matching every name) and spans 2h, more than 1h; select a metric by name or read a shorter range',
    );
  });

  it.each(['.*', '.+', '(.*)', '^.*$', 'a?', '[a-zA-Z_:][a-zA-Z0-9_:]*'])('treats the regex %s as naming no metric', (pattern) => {
    expect(narrowsName(query([name(pattern, 'RE')]))).toBe(false);
    expect(planReadQuery(query([name(pattern, 'RE')], 2 * HOUR_MS), ABC(), GUARD).kind).toBe('refused');
  });

  it('lets a wide read through when it names its metric, or a pattern that narrows the names', () => {
    expect(planReadQuery(query([name('cpu')], 30 * 24 * HOUR_MS), ABC(), GUARD).kind).toBe('single');
    expect(planReadQuery(query([name('cpu_.*', 'RE')], 30 * 24 * HOUR_MS), ABC(), GUARD).kind).toBe('fanout');
  });

  it('lets a read without a name through when it spans at most the limit, or when the limit is 0', () => {
    expect(planReadQuery(query([label('job', 'x')], HOUR_MS), ABC(), GUARD).kind).toBe('fanout');
    expect(planReadQuery(query([label('job', 'x')], 365 * 24 * HOUR_MS), ABC(), { maxRangeWithoutNameSeconds: 0 }).kind).toBe('fanout');
  });

  it('refuses before looking at the backends: a refusal does not depend on their health', () => {
    const down = ABC({ a: { healthy: false }, b: { healthy: false }, c: { healthy: false } });
    expect(planReadQuery(query([], 2 * HOUR_MS), down, GUARD).kind).toBe('refused');
  });
});

describe('mergeReadResults', () => {
  const series = (labels: Record<string, string>, samples: [number, number][]): PromTimeSeries => ({
    labels: Object.entries(labels).map(([n, value]) => ({ name: n, value })),
    samples: samples.map(([timestamp, value]) => ({ timestamp, value })),
  });

  it('joins the series of one named label set from several backends: union of samples, by time, one per timestamp', () => {
    const a = [
      series({ __name__: 'cpu', host: 'x' }, [
        [1, 10],
        [3, 30],
      ]),
    ];
    const b = [
      series({ host: 'x', __name__: 'cpu' }, [
        [2, 20],
        [3, 31],
      ]),
      series({ __name__: 'cpu', host: 'y' }, [[1, 1]]),
    ];
    expect(mergeReadResults([a, b])).toEqual([
      series({ __name__: 'cpu', host: 'x' }, [
        [1, 10],
        [2, 20],
        [3, 30],
      ]),
      series({ __name__: 'cpu', host: 'y' }, [[1, 1]]),
    ]);
  });

  it('keeps series without __name__ apart: influxd answers without it, so equal labels may be two metrics', () => {
    const a = [series({ host: 'x' }, [[1, 1]])];
    const b = [series({ host: 'x' }, [[1, 2]])];
    expect(mergeReadResults([a, b])).toEqual([a[0], b[0]]);
  });

  it("keeps the series of one backend's answer as it gave them", () => {
    const a = [series({ __name__: 'm', host: 'x' }, [[1, 1]]), series({ __name__: 'm', host: 'x' }, [[1, 2]])];
    expect(mergeReadResults([a, []])).toEqual(a);
  });

  it('loses no sample and repeats no timestamp within a named label set', () => {
    const labelSets = fc.constantFrom<Record<string, string>>(
      { __name__: 'm', host: 'x' },
      { __name__: 'm', host: 'y' },
      { __name__: 'n', host: 'x' },
    );
    const answer = fc.uniqueArray(labelSets, { maxLength: 3 }).chain((sets) =>
      fc.tuple(
        ...sets.map((l) =>
          fc.uniqueArray(fc.integer({ min: 0, max: 50 }), { maxLength: 8 }).map((ts) =>
            series(
              l,
              ts.sort((p, q) => p - q).map((t) => [t, t * 2]),
            ),
          ),
        ),
      ),
    );
    fc.assert(
      fc.property(fc.array(answer, { minLength: 1, maxLength: 4 }), (answers) => {
        const merged = mergeReadResults(answers);
        const keys = merged.map((s) => JSON.stringify(s.labels.map((l) => [l.name, l.value]).sort()));
        expect(new Set(keys).size).toBe(keys.length);
        for (const s of merged) {
          const times = s.samples.map((x) => x.timestamp);
          expect(times).toEqual([...new Set(times)].sort((p, q) => p - q));
        }
        const want = new Set(
          answers
            .flat()
            .flatMap((s) => s.samples.map((x) => `${JSON.stringify(s.labels.map((l) => [l.name, l.value]).sort())}@${x.timestamp}`)),
        );
        const got = new Set(
          merged.flatMap((s) => s.samples.map((x) => `${JSON.stringify(s.labels.map((l) => [l.name, l.value]).sort())}@${x.timestamp}`)),
        );
        expect(got).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });
});
