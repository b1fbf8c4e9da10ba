import type { ProxyMember } from '@app/cluster-store';
import { fleetBacklog, freshFailureReports, reportFreshForMs } from './fleet-reports';

function member(name: string, extra: Partial<ProxyMember> = {}): ProxyMember {
  return {
    name,
    address: '127.0.0.1:1',
    version: '0',
    zone: '',
    pid: 1,
    hostname: 'h',
    startedAt: 0,
    lastHeartbeat: 0,
    ttl: 30,
    backlog: {},
    ...extra,
  };
}

const failingB = { b: { since: 1, error: 'ECONNREFUSED' } };

describe('fresh failure reports', () => {
  it('counts a report while the proxy re-states it, and drops it two report periods (plus a round) after its last heartbeat', () => {
    const members = [member('p1', { failing: failingB, reportEveryMs: 1_000 })];
    expect(reportFreshForMs(members[0], 250)).toBe(2_250);
    expect(freshFailureReports(members, () => 2_000, 250).get('b')).toEqual([{ proxy: 'p1', since: 1, error: 'ECONNREFUSED' }]);
    expect(freshFailureReports(members, () => 2_250, 250).size).toBe(0); // killed with -9: well before its 30 s TTL
  });

  it('gives a record without reportEveryMs (an older proxy) two of its TTL/3 heartbeats', () => {
    const old = member('p1', { failing: failingB, ttl: 3 });
    expect(reportFreshForMs(old, 250)).toBe(2_250);
    expect(freshFailureReports([old], () => 2_000, 250).get('b')).toHaveLength(1);
    expect(freshFailureReports([old], () => Infinity, 250).size).toBe(0); // never seen beating
  });

  it('groups the fresh reports by backend', () => {
    const reports = freshFailureReports(
      [
        member('p1', { failing: { ...failingB, c: { since: 2, error: 'timeout' } }, reportEveryMs: 1_000 }),
        member('p2', { failing: failingB, reportEveryMs: 1_000 }),
        member('p3', { failing: failingB, reportEveryMs: 1_000 }),
      ],
      (proxy) => (proxy === 'p3' ? 10_000 : 0),
      250,
    );
    expect(reports.get('b')?.map((r) => r.proxy)).toEqual(['p1', 'p2']);
    expect(reports.get('c')?.map((r) => r.proxy)).toEqual(['p1']);
  });
});

describe('fleetBacklog', () => {
  it('sums every record’s backlog per backend and names who holds it', () => {
    expect(
      fleetBacklog([
        member('p1', { backlog: { a: { records: 0, bytes: 0, oldestAt: null }, b: { records: 4, bytes: 10, oldestAt: 1 } } }),
        member('p2', { backlog: { b: { records: 6, bytes: 10, oldestAt: 1 } } }),
      ]),
    ).toEqual({ b: { records: 10, proxies: { p1: 4, p2: 6 } } });
    expect(fleetBacklog([])).toEqual({});
  });
});
