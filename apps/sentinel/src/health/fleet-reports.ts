import type { FleetBacklog, ProxyMember } from '@app/cluster-store';
import type { WriteFailureReport } from './probe-state';

/**
 * How long a proxy's report of failing writes counts after the last heartbeat of it that the leader
 * saw: two of its report periods (its `reportEveryMs` while it reports, else a third of its TTL, as an
 * older proxy heartbeats) plus one sentinel round, since the leader reads the records once a round.
 */
export function reportFreshForMs(member: Pick<ProxyMember, 'reportEveryMs' | 'ttl'>, roundMs: number): number {
  const every = member.reportEveryMs ?? (member.ttl * 1000) / 3;
  return 2 * every + roundMs;
}

/**
 * backend → the proxies reporting failing writes to it, counting only fresh reports: the reporting
 * proxy heartbeats (a record of a proxy killed with -9 lives on until its TTL runs out, and would hold
 * a recovered backend down all that time) and so re-states its report, at least every `reportEveryMs`.
 */
export function freshFailureReports(
  members: readonly ProxyMember[],
  heartbeatAgeMs: (proxy: string) => number,
  roundMs: number,
): Map<string, WriteFailureReport[]> {
  const out = new Map<string, WriteFailureReport[]>();
  for (const m of members) {
    if (!m.failing) continue;
    if (heartbeatAgeMs(m.name) >= reportFreshForMs(m, roundMs)) continue;
    for (const [backend, f] of Object.entries(m.failing)) {
      const list = out.get(backend) ?? [];
      list.push({ proxy: m.name, since: f.since, error: f.error });
      out.set(backend, list);
    }
  }
  return out;
}

/**
 * backend → the records waiting for it across the fleet, from every live record (a proxy that stopped
 * heartbeating still holds its spool: its backlog counts until its record expires).
 */
export function fleetBacklog(members: readonly ProxyMember[]): Record<string, FleetBacklog> {
  const out: Record<string, FleetBacklog> = {};
  for (const m of members) {
    for (const [backend, b] of Object.entries(m.backlog)) {
      const records = Number(b?.records ?? 0);
      if (!(records > 0)) continue;
      const entry = (out[backend] ??= { records: 0, proxies: {} });
      entry.records += records;
      entry.proxies[m.name] = records;
    }
  }
  return out;
}
