import type { ClusterConfig } from '@app/config';
import type { JobRecord } from './job-model';
import {
  jobsForMeta,
  jobSummary,
  parseJobRequest,
  prepareJobRequest,
  rebalanceRoutingBefore,
  recoveringBackends,
} from './job-runner-admin';

const CONFIG = { backends: { a: {}, b: {} }, keymaps: { _default_: ['a', 'b'] }, proxies: {} } as unknown as ClusterConfig;

const job = (id: string, state: JobRecord['state'], request: JobRecord['request'], createdAt = 1): JobRecord => ({
  id,
  state,
  request,
  createdAt,
});

describe('job requests', () => {
  it('parses what an operator may send and refuses (400) the rest', () => {
    expect(parseJobRequest({ kind: 'resync', measurements: ['cpu'], pointsPerSecond: 10 })).toEqual({
      kind: 'resync',
      measurements: ['cpu'],
      pointsPerSecond: 10,
    });
    for (const bad of [
      null,
      [],
      { kind: 'move' },
      { kind: 'recover', backend: 3 },
      { kind: 'resync', measurements: [''] },
      { kind: 'cleanup', confirm: 'yes' },
      { kind: 'recover', pointsPerSecond: -1 },
    ]) {
      expect(() => parseJobRequest(bad)).toThrow(expect.objectContaining({ name: 'JobRefusedError', status: 400 }));
    }
  });

  it('checks a request against the config and records the keymaps in force for a rebalance', () => {
    expect(() => prepareJobRequest({ kind: 'recover', backend: 'zz' }, CONFIG)).toThrow('no backend zz in the config');
    expect(() => prepareJobRequest({ kind: 'cleanup', backend: 'a' }, CONFIG)).toThrow(/confirm it/);
    expect(prepareJobRequest({ kind: 'rebalance' }, CONFIG)).toEqual({ kind: 'rebalance', keymapsBefore: CONFIG.keymaps });
    const given = { kind: 'rebalance' as const, keymapsBefore: { cpu: ['a'] } };
    expect(prepareJobRequest(given, CONFIG)).toBe(given);
  });
});

describe('what proxies and /meta take from the jobs', () => {
  const jobs = [
    job('r1', 'done', { kind: 'recover', backend: 'a' }),
    job('r2', 'running', { kind: 'recover', backend: 'b' }),
    job('m1', 'pending', { kind: 'rebalance', keymapsBefore: { cpu: ['a'] } }),
    job('r3', 'cancelled', { kind: 'recover', backend: 'a' }),
  ];

  it('unfinished recovers fence their backend; the unfinished rebalance gives the keymaps before', () => {
    expect(recoveringBackends(jobs)).toEqual(['b']);
    expect(rebalanceRoutingBefore(jobs)).toEqual({ keymaps: { cpu: ['a'] } });
    expect(rebalanceRoutingBefore(jobs.slice(0, 2))).toBeUndefined();
  });

  it('/meta lists the unfinished jobs and the last finished ones', () => {
    expect(jobsForMeta(jobs, 1).map((j) => j.id)).toEqual(['r2', 'm1', 'r3']);
  });

  it('summarises a job: step i/n, points, rate and ETA only while it runs', () => {
    const running: JobRecord = {
      ...job('r2', 'running', { kind: 'recover', backend: 'b' }),
      runner: 's1',
      plan: {
        steps: [
          { op: 'drop', backend: 'b', db: 'd', measurement: 'm' },
          { op: 'drop', backend: 'b', db: 'd', measurement: 'n' },
        ],
        estimatedPoints: 10,
        estimatedBytes: 100,
        plannedAt: 1,
      },
      progress: {
        cursor: { step: 1 },
        windowsDone: 1,
        windowsTotal: 2,
        pointsCopied: 5,
        bytesCopied: 50,
        rate: 2.5,
        etaSeconds: 2,
        updatedAt: 2,
      },
    };
    expect(jobSummary(running)).toMatchObject({
      step: '1/2',
      pointsCopied: 5,
      estimatedPoints: 10,
      rate: 2.5,
      etaSeconds: 2,
      runner: 's1',
    });
    expect(jobSummary({ ...running, state: 'done' })).toMatchObject({ step: '2/2', rate: 0, etaSeconds: 0 });
  });
});
