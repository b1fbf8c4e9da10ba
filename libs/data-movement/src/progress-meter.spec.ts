import type { JobPlan } from './job-model';
import { ProgressMeter, windowsDoneAt } from './progress-meter';
import { HOUR_MS } from './time-windows';

const plan: JobPlan = {
  steps: [
    { op: 'schema', sources: ['a'], target: 'b', dbs: { a: 'b' } },
    {
      op: 'copy',
      measurement: 'cpu',
      rp: 'autogen',
      dbOf: { a: 'a', b: 'b' },
      sources: ['a'],
      targets: ['b'],
      span: { start: 0, end: 4 * HOUR_MS },
      windowMs: HOUR_MS,
    },
    { op: 'drop', backend: 'c', db: 'c', measurement: 'old' },
  ],
  estimatedPoints: 4_000,
  estimatedBytes: 200_000,
  plannedAt: 0,
};

describe('ProgressMeter', () => {
  it('counts a schema or drop step as one window and a copy step as its windows', () => {
    const meter = new ProgressMeter(plan, { step: 0 }, undefined);
    expect(meter.windowsTotal).toBe(6);
    expect(windowsDoneAt(plan, { step: 1, windowStart: 2 * HOUR_MS })).toBe(3);
    expect(windowsDoneAt(plan, { step: 3 })).toBe(6);
  });

  it('reports the rate over recent windows and the time left by the estimate', () => {
    let now = 0;
    const meter = new ProgressMeter(plan, { step: 0 }, undefined, () => now);
    now = 100;
    meter.windowDone({ step: 1 }, 0, 0);
    now = 1_100;
    const p = meter.windowDone({ step: 1, windowStart: HOUR_MS }, 1_000, 50_000);
    expect(p).toMatchObject({ windowsDone: 2, windowsTotal: 6, pointsCopied: 1_000, bytesCopied: 50_000, updatedAt: 1_100 });
    expect(p.rate).toBe(Math.round(1_000 / 1.1));
    expect(p.etaSeconds).toBe(Math.round(3_000 / (1_000 / 1.1)));
  });

  it('continues a resumed job’s counters from its stored progress', () => {
    const stored = {
      cursor: { step: 1, windowStart: 2 * HOUR_MS },
      windowsDone: 3,
      windowsTotal: 6,
      pointsCopied: 2_000,
      bytesCopied: 9,
      rate: 5,
      etaSeconds: 1,
      updatedAt: 0,
    };
    const meter = new ProgressMeter(plan, stored.cursor, stored, () => 0);
    const p = meter.windowDone({ step: 1, windowStart: 3 * HOUR_MS }, 500, 1);
    expect(p).toMatchObject({ windowsDone: 4, pointsCopied: 2_500, bytesCopied: 10 });
  });

  it('says 0 s left at the end', () => {
    const meter = new ProgressMeter(plan, { step: 2 }, undefined, () => 0);
    expect(meter.windowDone({ step: 3 }, 0, 0).etaSeconds).toBe(0);
  });
});
