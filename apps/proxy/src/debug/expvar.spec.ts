import { memstatsOf, renderExpvar } from './expvar';

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
