import type { BackendStatus } from '@app/backend';
import { type BackendHealthInput, healthReport, READY } from './health-report';

function b(name: string, healthy: boolean, spool: Partial<BackendStatus['spool']> = {}, writeOnly = false): BackendHealthInput {
  return {
    name,
    writeOnly,
    status: {
      healthy,
      since: Date.UTC(2024, 0, 1),
      lastError: healthy ? undefined : 'ECONNREFUSED 10.0.0.1:8086',
      spool: {
        records: 0,
        bytes: 0,
        oldestAt: null,
        oldestAgeMs: null,
        replaying: false,
        replayedRecords: 0,
        rejectedOnReplay: 0,
        maxBytes: 1000,
        full: false,
        ...spool,
      },
    },
  };
}

describe('healthReport', () => {
  it('passes with InfluxDB 1.8’s top-level shape when every backend is up', () => {
    const r = healthReport([b('a', true), b('b', true)], '1.8.10');
    expect(r).toMatchObject({ name: 'influxdb', message: READY, status: 'pass', version: '1.8.10' });
    expect(r.checks).toEqual([
      expect.objectContaining({ name: 'backend:a', status: 'pass', message: 'up', healthy: true, since: '2024-01-01T00:00:00.000Z' }),
      expect.objectContaining({ name: 'backend:b', status: 'pass' }),
    ]);
  });

  it('passes, degraded, while a down backend’s writes are spooled', () => {
    const r = healthReport([b('a', true), b('b', false, { records: 2, bytes: 300 })], 'v');
    expect(r.status).toBe('pass');
    expect(r.message).toMatch(/degraded: 1 of 2 backends up, 2 taking writes/);
    expect(r.checks[1]).toMatchObject({ status: 'fail', message: 'down; its writes are spooled (300 of 1000 spool bytes used)' });
  });

  it('still serves writes when no backend is reachable but the spools have room', () => {
    const r = healthReport([b('a', false), b('b', false)], 'v');
    expect(r).toMatchObject({ status: 'pass', message: 'ready for writes (spooled); no backend reachable for queries' });
  });

  it('does not count a write-only backend for queries', () => {
    const r = healthReport([b('w', true, {}, true), b('a', false)], 'v');
    expect(r.message).toBe('ready for writes (spooled); no backend reachable for queries');
  });

  it('still serves queries when every spool is full', () => {
    const r = healthReport([b('a', true, { full: true, records: 9, bytes: 990 })], 'v');
    expect(r).toMatchObject({ status: 'pass', message: 'ready for queries; writes are refused (every spool is full)' });
    expect(r.checks[0].message).toMatch(/spool is full while it replays/);
  });

  it('fails when no backend is reachable and no spool has space', () => {
    const r = healthReport([b('a', false, { full: true }), b('b', false, { full: true })], 'v');
    expect(r).toMatchObject({ status: 'fail', message: 'no backend reachable and no spool space' });
    expect(r.checks.map((c) => c.status)).toEqual(['fail', 'fail']);
  });

  it('fails with no backend configured', () => {
    expect(healthReport([], 'v')).toMatchObject({ status: 'fail', checks: [] });
  });

  it('does not show backend errors (addresses) on the unauthenticated /health', () => {
    expect(JSON.stringify(healthReport([b('a', false)], 'v'))).not.toContain('10.0.0.1');
  });
});
