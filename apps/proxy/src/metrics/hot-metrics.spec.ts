import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics';

describe('hot metrics', () => {
  it('expose the same text as prom-client’s own counters and histograms', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.001, 0.01, 0.1, 1];
    const c1 = new HotCounter('x_total', 'a counter', ['backend', 'reason'], ours);
    const c2 = new Counter({ name: 'x_total', help: 'a counter', labelNames: ['backend', 'reason'], registers: [theirs] });
    const h1 = new HotHistogram('y_seconds', 'a histogram', ['backend'], buckets, ours);
    const h2 = new Histogram({ name: 'y_seconds', help: 'a histogram', labelNames: ['backend'], buckets, registers: [theirs] });
    const a = c1.labels('a', 'rejected');
    a.inc(3);
    a.inc();
    c1.labels('b', 'spool_full').inc(7);
    c2.labels('a', 'rejected').inc(4);
    c2.labels('b', 'spool_full').inc(7);
    for (const v of [0.0005, 0.001, 0.004, 0.2, 5, 0.05]) {
      h1.labels('a').observe(v);
      h2.labels('a').observe(v);
    }
    h1.labels('b').observe(0.02);
    h2.labels('b').observe(0.02);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const json = async (r: Registry) =>
      JSON.parse(JSON.stringify(await r.getMetricsAsJSON(), (k, v) => (k === 'exemplar' ? undefined : v)));
    expect(await json(ours)).toEqual(await json(theirs)); // what the self-report reads
  });

  it('gives the same cell for the same label values, and zeroes on reset', async () => {
    const r = new Registry();
    const c = new HotCounter('z_total', 'z', ['k'], r);
    expect(c.labels('v')).toBe(c.labels('v'));
    c.labels('v').inc(2);
    c.reset();
    expect(await r.metrics()).toContain('z_total{k="v"} 0');
    const plain = new HotCounter('p_total', 'p', [], r);
    plain.inc(5);
    expect(await r.metrics()).toContain('p_total 5');
    expect(() => c.labels('a', 'b')).toThrow(/expected 1 label values/);
  });

  it('reads a counter’s total across series, and a one-label counter by its label', () => {
    const r = new Registry();
    const c = new HotCounter('t_total', 't', ['reason'], r);
    expect(c.total()).toBe(0);
    expect(c.byLabel()).toEqual({});
    c.labels('b').inc(2);
    c.labels('a').inc(3);
    expect(c.total()).toBe(5);
    expect(Object.entries(c.byLabel())).toEqual([
      ['b', 2],
      ['a', 3],
    ]);
    expect(() => new HotCounter('u_total', 'u', ['x', 'y'], r).byLabel()).toThrow(/byLabel\(\) reads one/);
  });
});
