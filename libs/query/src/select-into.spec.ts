import type { WriteOutcome } from '@app/backend';
import type { MsgpackValue } from './influx-msgpack';
import { PointWriter, writtenOutcome } from './select-into';

function writer(name: string | undefined, routes = (_m: string) => true) {
  const bodies: { body: string; rp: string }[] = [];
  const outcomes: { backend: string; outcome: WriteOutcome }[] = [{ backend: 'a', outcome: { kind: 'ok' } }];
  const w = new PointWriter({
    target: name === undefined ? { rp: 'r' } : { name, rp: 'r' },
    routes,
    write: async (body, rp) => {
      bodies.push({ body: body.toString('utf8'), rp });
      return outcomes;
    },
  });
  return { w, bodies, outcomes };
}

const doc = (series: MsgpackValue[]): MsgpackValue => ({ results: [{ statement_id: 0n, series }] });

describe('PointWriter (influxd convertRowToPoints)', () => {
  it('turns GROUP BY tags into tags and every other column into a typed field; skips nulls and empty rows', async () => {
    const { w, bodies } = writer('gcpu_1h');
    const err = await w.response(
      doc([
        {
          name: 'gcpu',
          tags: { host: 'h 1', cpu: '', zone: 'a,b=c' },
          columns: ['time', 'mean', 'count', 's', 'b'],
          values: [
            [3600000000000n, 1, 2n, 'say "hi"\\', true],
            [7200000000000n, null, null, null, null],
            [10800000000000n, Number.NaN, 5n, null, false],
          ],
        },
      ]),
    );
    expect(err).toBeUndefined();
    expect(await w.flush()).toBeUndefined();
    expect(w.written).toBe(2);
    expect(bodies).toEqual([
      {
        rp: 'r',
        body:
          'gcpu_1h,host=h\\ 1,zone=a\\,b\\=c mean=1,count=2i,s="say \\"hi\\"\\\\",b=true 3600000000000\n' +
          'gcpu_1h,host=h\\ 1,zone=a\\,b\\=c count=5i,b=false 10800000000000\n',
      },
    ]);
  });

  it('writes each series under its own name for :MEASUREMENT, escaping it', async () => {
    const { w, bodies } = writer(undefined);
    await w.response(doc([{ name: 'my m,x', columns: ['time', 'v'], values: [[1n, 1.5]] }]));
    await w.flush();
    expect(bodies[0].body).toBe('my\\ m\\,x v=1.5 1\n');
  });

  it('drops a point influxd cannot store (±Inf)', async () => {
    const { w } = writer('m');
    await w.response(doc([{ name: 'x', columns: ['time', 'v', 'u'], values: [[1n, Number.POSITIVE_INFINITY, 1n]] }]));
    await w.flush();
    expect(w.written).toBe(0);
  });

  it('answers the statement error of a chunk, a refused write, and a target no keymap takes', async () => {
    expect(await writer('m').w.response({ results: [{ statement_id: 0n, error: 'database not found: x' }] })).toBe('database not found: x');
    const refused = writer('m');
    refused.outcomes[0] = { backend: 'a', outcome: { kind: 'rejected', status: 400, error: 'partial write: field type conflict' } };
    await refused.w.response(doc([{ name: 'x', columns: ['time', 'v'], values: [[1n, 1n]] }]));
    expect(await refused.w.flush()).toBe('partial write: field type conflict');
    expect(refused.w.written).toBe(0);
    const nowhere = writer('lost', () => false);
    expect(await nowhere.w.response(doc([{ name: 'x', columns: ['time', 'v'], values: [[1n, 1n]] }]))).toMatch(
      /no backend takes measurement "lost"/,
    );
  });
});

describe('writtenOutcome', () => {
  it('is influxd’s result row, time 0 as RFC3339 or an integer with epoch', () => {
    expect(writtenOutcome(21, '')).toEqual({
      series: [{ name: 'result', columns: ['time', 'written'], values: [['1970-01-01T00:00:00Z', 21]] }],
    });
    expect(writtenOutcome(21, 'ms').series![0].values).toEqual([[0, 21]]);
  });
});
