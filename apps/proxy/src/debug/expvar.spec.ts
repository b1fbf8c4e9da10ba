import { memstatsOf, mergeMemstats, mergeStatistics, renderExpvar } from './expvar';

describe('renderExpvar', () => {
  it('writes one member per line, as influxd does, and parses as JSON', () => {
    const text = renderExpvar([
      ['cmdline', ['node', 'main.js']],
      ['write', { name: 'write', tags: null, values: { req: 2 } }],
    ]);
    expect(text).toBe('{\n"cmdline": ["node","main.js"],\n"write": {"name":"write","tags":null,"values":{"req":2}}\n}\n');
    expect(JSON.parse(text).write.values.req).toBe(2);
  });
});

describe('memstatsOf', () => {
  it('fills Go’s names from Node’s figures and makes none up', () => {
    const memory = { rss: 100, heapTotal: 60, heapUsed: 40, external: 5, arrayBuffers: 1 };
    const stats = memstatsOf({ memory, gc: { count: 3, pauseTotalNs: 1500, lastEndNs: 42 } });
    expect(stats).toEqual({
      Alloc: 40,
      Sys: 100,
      HeapAlloc: 40,
      HeapSys: 60,
      HeapIdle: 20,
      HeapInuse: 40,
      LastGC: 42,
      PauseTotalNs: 1500,
      NumGC: 3,
      EnableGC: true,
    });
    expect(stats).not.toHaveProperty('TotalAlloc');
  });
});

describe('mergeStatistics / mergeMemstats (one proxy, several workers)', () => {
  it('sums counts, keeps the worst state, and keeps statistics with other tags apart', () => {
    const a = {
      name: 'backend',
      tags: { backend: 'a', url: 'u' },
      values: { healthy: 1, refusing: 0, pointsWritten: 3, spoolOldestAgeMs: 5 },
    };
    const merged = mergeStatistics([
      [{ name: 'write', tags: null, values: { req: 2 } }, a],
      [
        { name: 'write', tags: null, values: { req: 5 } },
        { ...a, values: { healthy: 0, refusing: 1, pointsWritten: 4, spoolOldestAgeMs: 2 } },
        { name: 'backend', tags: { backend: 'b', url: 'v' }, values: { healthy: 1 } },
      ],
    ]);
    expect(merged).toEqual([
      { name: 'write', tags: null, values: { req: 7 } },
      { name: 'backend', tags: { backend: 'a', url: 'u' }, values: { healthy: 0, refusing: 1, pointsWritten: 7, spoolOldestAgeMs: 5 } },
      { name: 'backend', tags: { backend: 'b', url: 'v' }, values: { healthy: 1 } },
    ]);
  });

  it('adds the workers’ memory and collections, with the latest collection’s time', () => {
    expect(
      mergeMemstats([
        { Alloc: 10, NumGC: 1, LastGC: 100, EnableGC: true },
        { Alloc: 5, NumGC: 2, LastGC: 50, EnableGC: true },
      ]),
    ).toEqual({ Alloc: 15, NumGC: 3, LastGC: 100, EnableGC: true });
  });
});
