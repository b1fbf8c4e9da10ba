import { Backend, BufferPool } from '@app/backend';
import { parseClusterConfig } from '@app/config';
import { LineCursor, LineError, nextLine, unescapeMeasurement } from '@app/line-protocol';
import { type LinesPlan, type PromWriteRequest, planLines, SampleValueError, samplesToLines } from '@app/prom-remote';
import fc from 'fast-check';
import { configRules } from '../../../../test/support/config-rules';
import { Topology } from '../cluster/topology';
import { LineRouter, type RoutedLines } from '../write/route-lines';
import { SeriesRouter } from './series-router';

/** Keymap sets the property runs against: with and without `_default_`, replicas, three backends. */
const KEYMAPS: Record<string, Record<string, string[]>> = {
  'one keymap per backend, _default_ to all': { cpu: ['a'], temperature: ['b'], 'a b': ['c'], _default_: ['a', 'b', 'c'] },
  'no _default_ (unmapped metrics dropped)': { cpu: ['a', 'c'], mem: ['b'], 'x,y': ['a'], 'q\\': ['c'] },
  'everything to two replicas': { _default_: ['b', 'a'] },
  'only unmapped names route nowhere': { up: ['c'] },
};

function topology(keymaps: Record<string, string[]>, maxRowLimit = 10000): Topology {
  const config = parseClusterConfig(
    {
      backends: {
        a: { url: 'http://127.0.0.1:1', db: 'a', maxRowLimit },
        b: { url: 'http://127.0.0.1:2', db: 'b', maxRowLimit: maxRowLimit + 1 },
        c: { url: 'http://127.0.0.1:3', db: 'c', maxRowLimit },
      },
      keymaps,
      proxies: { p1: { listenAddr: '127.0.0.1:1' } },
    },
    configRules,
  );
  const backends = Object.entries(config.backends).map(([name, cfg]) => new Backend(name, cfg));
  return new Topology(config, config.proxies.p1, backends);
}

/**
 * What the stages after routing see of a RoutedLines: every part's backend, bytes and line count (by backend,
 * each backend's parts in order), and the counts. Not which part is a view of the body (who gives the body
 * back): the line router may move one part's lines inside the body, which the series router has no need to.
 */
function seen(routed: RoutedLines) {
  return {
    parts: routed.parts
      .map((p) => ({ backend: p.backend, body: p.body.toString('latin1'), lines: p.lines }))
      .sort((x, y) => x.backend - y.backend),
    accepted: routed.accepted,
    dropped: routed.dropped,
    failed: routed.failed,
    unroutable: routed.unroutable,
  };
}

/** The receive time a scan would give a line without one (none of a plain plan's lines lacks one). */
const stamp = () => Buffer.from('1700000000000');

/** The request's lines routed both ways: by series (the plan must be plain) and by scanning them. */
function bothWays(request: PromWriteRequest, topo: Topology) {
  const plan = planLines(request);
  const pool = new BufferPool();
  const out = samplesToLines(request, plan, (n) => pool.acquire(n));
  const direct = plan.plain ? seen(new SeriesRouter(pool).route(out, plan, topo)) : undefined;
  const scanned = seen(new LineRouter(pool).route(Buffer.from(out.body), topo, stamp));
  return { plan, out, direct, scanned };
}

/** Each line of a plain plan scans as plain: one line per sample, no error, a timestamp, the plan's measurement. */
function expectPlainScan(plan: LinesPlan, lines: { body: Buffer; seriesEnds: Int32Array; seriesLines: Int32Array }): void {
  const cur = new LineCursor();
  const buf = lines.body;
  let pos = 0;
  let start = 0;
  for (let s = 0; s < lines.seriesEnds.length; s++) {
    const end = lines.seriesEnds[s];
    for (let k = 0; k < lines.seriesLines[s]; k++) {
      expect(nextLine(buf, pos, buf.length, cur)).toBe(true);
      expect(cur.blockStart).toBe(pos);
      expect(cur.lineStart).toBe(pos);
      expect(cur.error).toBe(LineError.None);
      expect(cur.unterminated).toBe(false);
      expect(cur.hasTimestamp).toBe(true);
      expect(buf[cur.lineEnd]).toBe(0x0a);
      expect(unescapeMeasurement(buf, cur.lineStart, cur.measurementEnd)).toBe(plan.measurements[s]);
      pos = cur.next;
    }
    expect(pos).toBe(end);
    start = end;
  }
  expect(start).toBe(buf.length);
  expect(nextLine(buf, pos, buf.length, cur)).toBe(false);
}

/** Names and values with every byte that matters to line protocol, and names the keymaps know. */
const special = fc.string({
  unit: fc.constantFrom('a', 'b', 'x', 'y', 'q', ',', ' ', '=', '\\', '"', '#', '\t', '\0', '\n', 'é', '☃'),
  maxLength: 6,
});
const known = fc.constantFrom('cpu', 'temperature', 'mem', 'up', 'a b', 'x,y', 'q\\', 'go_goroutines', '');
const text = fc.oneof(known, special, fc.string({ maxLength: 8 }));

function writeRequestArb(): fc.Arbitrary<PromWriteRequest> {
  const label = fc.record({ name: fc.oneof(fc.constant('__name__'), fc.constantFrom('job', 'instance', 'le'), text), value: text });
  const value = fc.oneof(fc.double(), fc.constant(NaN), fc.integer(), fc.constantFrom(0, -0, 1e21, 5e-324, -1.5));
  const sample = fc.record({ value, timestamp: fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 45 }), fc.maxSafeInteger()) });
  const series = fc.record({
    // most series carry a name, as Prometheus's do
    labels: fc.tuple(known, fc.array(label, { maxLength: 4 })).map(([name, rest]) => [{ name: '__name__', value: name }, ...rest]),
    samples: fc.array(sample, { maxLength: 5 }),
  });
  return fc.record({
    timeseries: fc.array(
      fc.oneof(series, fc.record({ labels: fc.array(label, { maxLength: 3 }), samples: fc.array(sample, { maxLength: 3 }) })),
      { maxLength: 8 },
    ),
  });
}

describe('SeriesRouter: routes a remote write by series, as scanning its lines would', () => {
  it.each(Object.keys(KEYMAPS))('gives the line router’s parts, counts and texts (%s)', (keymaps) => {
    let plain = 0;
    fc.assert(
      fc.property(writeRequestArb(), fc.constantFrom(10000, 1, 2, 3, 5), (request, maxRowLimit) => {
        let result: ReturnType<typeof bothWays>;
        try {
          result = bothWays(request, topology(KEYMAPS[keymaps], maxRowLimit));
        } catch (err) {
          if (err instanceof SampleValueError) return; // ±Inf: the request is refused before routing
          throw err;
        }
        if (!result.plan.plain) return;
        plain++;
        expectPlainScan(result.plan, result.out);
        expect(result.direct).toEqual(result.scanned);
      }),
      { numRuns: 600 },
    );
    // the property must have had plain requests to compare (most of them are)
    expect(plain).toBeGreaterThan(200);
  });

  it('calls a plan plain unless a series key holds a quote, a trailing backslash or a leading #, tab or NUL', () => {
    const plainOf = (labels: Record<string, string>) =>
      planLines({
        timeseries: [{ labels: Object.entries(labels).map(([name, value]) => ({ name, value })), samples: [{ value: 1, timestamp: 1 }] }],
      }).plain;
    expect(plainOf({ __name__: 'node_uname_info', version: '#1 SMP Debian 6.1.0 (2023-09-29)', job: 'a,b=c' })).toBe(true);
    expect(plainOf({ __name__: 'm', path: 'C:\\dir\\' })).toBe(false);
    expect(plainOf({ __name__: 'm', text: 'say "hi"' })).toBe(false);
    expect(plainOf({ __name__: '#m' })).toBe(false);
    expect(plainOf({ __name__: '\tm' })).toBe(false);
    expect(plainOf({ __name__: 'm\\', le: '1' })).toBe(true);
  });

  it('drops unroutable lines with one text each up to 1000, counting them all, as the line router does', () => {
    const long = 'x'.repeat(1100);
    const request: PromWriteRequest = {
      timeseries: [
        { labels: [{ name: '__name__', value: 'cpu' }], samples: [{ value: 1, timestamp: 1 }] },
        {
          labels: [
            { name: '__name__', value: 'nowhere' },
            { name: 'long', value: long },
          ],
          samples: [{ value: 2, timestamp: 2 }],
        },
        {
          labels: [{ name: '__name__', value: 'nowhere' }],
          samples: Array.from({ length: 1200 }, (_, i) => ({ value: i, timestamp: i })),
        },
        { labels: [{ name: '__name__', value: 'mem' }], samples: [{ value: 3, timestamp: 3 }] },
      ],
    };
    const { plan, direct, scanned } = bothWays(request, topology(KEYMAPS['no _default_ (unmapped metrics dropped)']));
    expect(plan.plain).toBe(true);
    expect(direct).toEqual(scanned);
    expect(direct!.failed).toHaveLength(1000);
    expect(direct!.failed[0].endsWith('…\': no backend for measurement "nowhere"')).toBe(true);
    expect(direct!.unroutable).toBe(1201);
    expect(direct!.accepted).toBe(2);
  });

  it('cuts a backend’s part at maxRowLimit lines where the line router does, in its order', () => {
    const request: PromWriteRequest = {
      timeseries: ['cpu', 'mem', 'cpu', 'temperature'].map((name, s) => ({
        labels: [{ name: '__name__', value: name }],
        samples: Array.from({ length: 7 }, (_, i) => ({ value: s * 10 + i, timestamp: i })),
      })),
    };
    for (const limit of [1, 2, 3, 4, 7, 8, 14, 100]) {
      const { direct, scanned } = bothWays(request, topology(KEYMAPS['one keymap per backend, _default_ to all'], limit));
      expect(direct).toEqual(scanned);
    }
  });
});
