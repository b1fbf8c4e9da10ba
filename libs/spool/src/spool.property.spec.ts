import fc from 'fast-check';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, SpoolFullError, type SpoolRecord } from './index';

type Op =
  | { kind: 'append'; records: SpoolRecord[] } // fired concurrently when more than one
  | { kind: 'peek' }
  | { kind: 'ack' }
  | { kind: 'reopen' };

const sizeOf = (r: SpoolRecord) => 25 + Buffer.byteLength(r.rp) + Buffer.byteLength(r.precision) + r.body.length;

const recordArb: fc.Arbitrary<SpoolRecord> = fc.record({
  rp: fc.oneof(fc.constant(''), fc.constantFrom('autogen', 'one_week'), fc.string({ unit: 'grapheme', maxLength: 8 })),
  precision: fc.constantFrom('', 'n', 'ns', 'u', 'ms', 's', 'm', 'h'),
  body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  lines: fc.nat({ max: 0xffffffff }),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.array(recordArb, { minLength: 1, maxLength: 6 }).map((records) => ({ kind: 'append' as const, records })) },
  { weight: 3, arbitrary: fc.constant({ kind: 'peek' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'ack' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

const plain = (r: SpoolRecord | null) =>
  r && { rp: r.rp, precision: r.precision, lines: r.lines, body: r.body.toString('hex') };

describe('Spool against an in-memory FIFO model', () => {
  let root: string;
  beforeAll(async () => {
    root = await fsp.mkdtemp(join(tmpdir(), 'spool-prop-'));
  });
  afterAll(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('random append/peek/ack/reopen sequences keep the same FIFO contents and backlog', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 30 }),
        fc.integer({ min: 150, max: 2000 }), // segmentBytes: rotate often
        fc.integer({ min: 500, max: 8000 }), // maxBytes: hit the cap now and then
        async (ops, segmentBytes, maxBytes) => {
          const dir = join(root, String(run++));
          const options = { name: 'b', segmentBytes, maxBytes };
          let spool = await Spool.open(dir, options);
          const model: SpoolRecord[] = [];
          let modelBytes = 0;
          let peeked = false;
          try {
            for (const op of ops) {
              switch (op.kind) {
                case 'append': {
                  const expected: boolean[] = [];
                  let bytes = modelBytes;
                  for (const r of op.records) {
                    const fits = bytes + sizeOf(r) <= maxBytes;
                    expected.push(fits);
                    if (fits) bytes += sizeOf(r);
                  }
                  const results = await Promise.allSettled(op.records.map((r) => spool.append(r)));
                  results.forEach((res, i) => {
                    if (expected[i]) {
                      expect(res.status).toBe('fulfilled');
                      model.push(op.records[i]);
                      modelBytes += sizeOf(op.records[i]);
                    } else {
                      expect(res.status).toBe('rejected');
                      expect((res as PromiseRejectedResult).reason).toBeInstanceOf(SpoolFullError);
                    }
                  });
                  break;
                }
                case 'peek':
                  expect(plain(await spool.peek())).toEqual(plain(model[0] ?? null));
                  peeked = model.length > 0;
                  break;
                case 'ack':
                  if (peeked) {
                    await spool.ack();
                    modelBytes -= sizeOf(model.shift()!);
                    peeked = false;
                  } else {
                    await expect(spool.ack()).rejects.toThrow();
                  }
                  break;
                case 'reopen':
                  await spool.close();
                  spool = await Spool.open(dir, options);
                  peeked = false;
                  break;
              }
              expect(spool.backlog.records).toBe(model.length);
              expect(spool.backlog.bytes).toBe(modelBytes);
              expect(spool.isEmpty).toBe(model.length === 0);
            }
            // a final reopen and drain returns exactly what the model holds
            await spool.close();
            spool = await Spool.open(dir, options);
            const rest: SpoolRecord[] = [];
            for (let r = await spool.peek(); r; r = await spool.peek()) {
              rest.push(r);
              await spool.ack();
            }
            expect(rest.map(plain)).toEqual(model.map(plain));
          } finally {
            await spool.close();
            await fsp.rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});
