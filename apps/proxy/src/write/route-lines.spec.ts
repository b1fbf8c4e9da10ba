import * as fc from 'fast-check';
import { Backend, BufferPool } from '@app/backend';
import { parseClusterConfig } from '@app/config';
import { configRules } from '../../../../test/support/config-rules';
import { Topology } from '../cluster/topology';
import { LineRouter } from './route-lines';

function topology(maxRowLimit = 10000): Topology {
  const config = parseClusterConfig(
    {
      backends: {
        a: { url: 'http://127.0.0.1:1', db: 'a', maxRowLimit },
        b: { url: 'http://127.0.0.1:2', db: 'b', maxRowLimit },
      },
      keymaps: { cpu: ['a'], temperature: ['b'], _default_: ['a', 'b'] },
      proxies: { p1: { listenAddr: '127.0.0.1:1' } },
    },
    configRules,
  );
  const backends = Object.entries(config.backends).map(([name, cfg]) => new Backend(name, cfg));
  return new Topology(config, config.proxies.p1, backends);
}

const stamp = () => Buffer.from('1700000000');

/** 4 backends in 2 hash groups of 2 (a1, a2 and b1, b2), every measurement hashed. */
function hashTopology(): Topology {
  const config = parseClusterConfig(
    {
      backends: {
        a1: { url: 'http://127.0.0.1:1', db: 'x' },
        a2: { url: 'http://127.0.0.1:2', db: 'x' },
        b1: { url: 'http://127.0.0.1:3', db: 'x' },
        b2: { url: 'http://127.0.0.1:4', db: 'x' },
      },
      groups: { g1: ['a1', 'a2'], g2: ['b1', 'b2'] },
      keymaps: { _default_: { hash: ['g1', 'g2'] } },
      proxies: { p1: { listenAddr: '127.0.0.1:1' } },
    },
    configRules,
  );
  const backends = Object.entries(config.backends).map(([name, cfg]) => new Backend(name, cfg));
  return new Topology(config, config.proxies.p1, backends);
}

function route(body: string, maxRowLimit?: number) {
  const routed = new LineRouter(new BufferPool()).route(Buffer.from(body), topology(maxRowLimit), stamp);
  const byBackend: Record<string, string[]> = {};
  for (const p of routed.parts) (byBackend[['a', 'b'][p.backend]] ??= []).push(p.body.toString());
  return { ...routed, byBackend };
}

describe('LineRouter', () => {
  it('sends each line to the backends of its measurement, in order', () => {
    const r = route('cpu v=1 1\ntemperature v=2 2\nmem v=3 3\ncpu v=4 4\n');
    expect(r.byBackend).toEqual({ a: ['cpu v=1 1\nmem v=3 3\ncpu v=4 4\n'], b: ['temperature v=2 2\nmem v=3 3\n'] });
    expect(r.accepted).toBe(4);
    expect(r.dropped).toBe(0);
  });

  it('stamps lines without a timestamp and ends every line with a newline', () => {
    const r = route('cpu v=1\ncpu v=2 2');
    expect(r.byBackend.a).toEqual(['cpu v=1 1700000000\ncpu v=2 2\n']);
  });

  it('routes by the unescaped measurement name, never by a prefix', () => {
    const r = route('cpu.load v=1 1\ncpu\\ x v=1 1\n');
    expect(r.byBackend).toEqual({ a: ['cpu.load v=1 1\ncpu\\ x v=1 1\n'], b: ['cpu.load v=1 1\ncpu\\ x v=1 1\n'] });
  });

  it('drops unparsable lines with influxd wording and keeps the good ones', () => {
    const r = route(',cpu v=1 1\ncpu\ncpu v=1 1\nmem s="open 5\n');
    expect(r.failed).toEqual([
      "unable to parse ',cpu v=1 1': missing measurement",
      "unable to parse 'cpu': missing fields",
      "unable to parse 'mem s=\"open 5': unbalanced quotes",
    ]);
    expect(r.dropped).toBe(3);
    expect(r.byBackend).toEqual({ a: ['cpu v=1 1\n'] });
  });

  it('keeps a quoted newline inside its line', () => {
    const r = route('temperature s="a\nb" 1\n');
    expect(r.byBackend.b).toEqual(['temperature s="a\nb" 1\n']);
  });

  it('splits a backend part at maxRowLimit lines', () => {
    const r = route('cpu v=1 1\ncpu v=2 2\ncpu v=3 3\n', 2);
    expect(r.byBackend.a).toEqual(['cpu v=1 1\ncpu v=2 2\n', 'cpu v=3 3\n']);
  });

  it('lets the backends that take an untouched body share it as a view: no copy, and the pool gets it back once', () => {
    const pool = new BufferPool(1 << 20, 1024, 0);
    const body = pool.acquire(20);
    body.write('mem v=1 1\nmem v=2 2\n');
    const r = new LineRouter(pool).route(body, topology(), stamp);
    expect(r.bodyTaken).toBe(true);
    const isView = (b: Buffer) => b.buffer === body.buffer && b.byteOffset === body.byteOffset;
    expect(r.parts.filter((p) => isView(p.body))).toHaveLength(2);
    expect(r.parts.map((p) => p.body.toString())).toEqual([body.toString(), body.toString()]);
    pool.release(r.parts[0].body);
    expect(pool.retainedBytes).toBe(0);
    pool.release(r.parts[1].body);
    expect(pool.retainedBytes).toBe(1024);
  });
});

describe('LineRouter over hash groups', () => {
  const topo = hashTopology();
  const backends = topo.backends;

  it('gives both replicas of a group the same lines in one shared buffer, with interleaved measurements stamped alike', () => {
    const names = Array.from({ length: 12 }, (_v, i) => `m${i}`);
    // long enough lines that each group's part is a pooled buffer, not a slice of Node's slab
    const lines = Array.from({ length: 600 }, (_v, i) => `${names[i % names.length]},host=h${i} v=${i}${i % 3 === 0 ? '' : ` ${i}`}`);
    const body = Buffer.from(lines.join('\n'));
    const pool = new BufferPool(1 << 24, 1024, 0);
    const routed = new LineRouter(pool).route(body, topo, stamp);
    const byName = new Map(routed.parts.map((p) => [backends[p.backend].name, p.body]));
    expect(new Set(byName.keys())).toEqual(new Set(['a1', 'a2', 'b1', 'b2']));
    for (const [x, y] of [
      ['a1', 'a2'],
      ['b1', 'b2'],
    ]) {
      expect(byName.get(x)!.toString()).toBe(byName.get(y)!.toString());
      expect(byName.get(x)!.buffer).toBe(byName.get(y)!.buffer);
      // the first replica's release does not give the shared buffer back; the second one's does
      const before = pool.retainedBytes;
      pool.release(byName.get(x)!);
      expect(pool.retainedBytes).toBe(before);
      pool.release(byName.get(y)!);
      expect(pool.retainedBytes).toBe(before + byName.get(x)!.buffer.byteLength);
    }
    // every line once per group, stamped when it had no time
    const got = [...byName.get('a1')!.toString().split('\n'), ...byName.get('b1')!.toString().split('\n')].filter((l) => l !== '');
    const want = lines.map((l) => (/ \d+$/.test(l.split(' ').slice(1).join(' ')) ? l : `${l} 1700000000`));
    expect(got.sort()).toEqual(want.sort());
  });
});

describe('LineRouter parts made inside the body', () => {
  /** A pooled copy of `text` (pool classes from 1 KiB, nothing from Node's slab). */
  function pooledBody(pool: BufferPool, text: string): Buffer {
    const body = pool.acquire(Buffer.byteLength(text, 'latin1'));
    body.write(text, 'latin1');
    return body;
  }

  /** Routes `text` (in a pooled body) over the keymap topology: the body, the result, and each backend's part. */
  function routeInPool(text: string) {
    const pool = new BufferPool(1 << 20, 1024, 0);
    const body = pooledBody(pool, text);
    const r = new LineRouter(pool).route(body, topology(), stamp);
    return { body, r, parts: new Map(r.parts.map((p) => [p.backend, p.body])) };
  }

  it("moves one backend's runs together inside the body, after the other parts were copied out of it", () => {
    const { body, r, parts } = routeInPool('cpu v=1 1\ntemperature v=2 2\nmem v=3 3\ncpu v=4 4\ntemperature v=5 5\n');
    expect(parts.get(0)!.toString()).toBe('cpu v=1 1\nmem v=3 3\ncpu v=4 4\n');
    expect(parts.get(1)!.toString()).toBe('temperature v=2 2\nmem v=3 3\ntemperature v=5 5\n');
    // a's part is the body itself, its lines moved to the front; b's was copied out before that
    expect(parts.get(0)!.buffer).toBe(body.buffer);
    expect(parts.get(0)!.byteOffset).toBe(body.byteOffset);
    expect(parts.get(1)!.buffer).not.toBe(body.buffer);
    expect(r.bodyTaken).toBe(true);
  });

  it('copies out instead when a line gains a timestamp (it would not fit where it is)', () => {
    const { body, parts } = routeInPool('cpu v=1\ntemperature v=2 2\nmem v=3 3\ncpu v=4 4\ntemperature v=5 5\n');
    expect(parts.get(0)!.toString()).toBe('cpu v=1 1700000000\nmem v=3 3\ncpu v=4 4\n');
    // b's lines add nothing: b is the one moved inside the body
    expect(parts.get(1)!.toString()).toBe('temperature v=2 2\nmem v=3 3\ntemperature v=5 5\n');
    expect(parts.get(0)!.buffer).not.toBe(body.buffer);
    expect(parts.get(1)!.buffer).toBe(body.buffer);
  });

  const kinds: [string, Topology][] = [
    ['a keymap', topology()],
    ['hash groups', hashTopology()],
  ];
  it.each(kinds)('gives every backend exactly its lines in order, each buffer back to the pool once (fuzz, %s)', (_kind, topo) => {
    const line = fc.record({
      m: fc.constantFrom('cpu', 'mem', 'temperature', 'disk', 'net', 'swap'),
      v: fc.nat(1000),
      ts: fc.option(fc.integer({ min: 1, max: 1_000_000_000 }), { nil: undefined, freq: 4 }),
    });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 40 }), fc.boolean(), (lines, lastNewline) => {
        const text = lines.map((l) => `${l.m} v=${l.v}${l.ts === undefined ? '' : ` ${l.ts}`}`).join('\n') + (lastNewline ? '\n' : '');
        const pool = new BufferPool(1 << 24, 1024, 0);
        const body = pooledBody(pool, text);
        const routed = new LineRouter(pool).route(body, topo, stamp);
        const want = new Map<number, string>();
        for (const l of lines) {
          for (const b of topo.router!.routeByName(l.m)!) want.set(b, `${want.get(b) ?? ''}${l.m} v=${l.v} ${l.ts ?? 1700000000}\n`);
        }
        expect(new Map(routed.parts.map((p) => [p.backend, p.body.toString('latin1')]))).toEqual(want);
        // each buffer (the body, each copied part) goes back once, after its last holder's release
        const buffers = new Set<ArrayBuffer>([body.buffer as ArrayBuffer, ...routed.parts.map((p) => p.body.buffer as ArrayBuffer)]);
        if (!routed.bodyTaken) pool.release(body);
        for (const p of routed.parts) pool.release(p.body);
        expect(pool.retainedBytes).toBe([...buffers].reduce((sum, b) => sum + b.byteLength, 0));
      }),
      { numRuns: 500 },
    );
  });
});
