import type { ProxyMember } from '@app/cluster-store';
import type { WriteStats } from '../metrics/proxy-metrics';

/** The group question whose answer is one worker's part of /meta. */
export const META_PART_QUESTION = 'meta-part';

/** What one worker adds to its proxy's /meta. */
export interface WorkerMetaPart {
  pid: number;
  startedAt: number;
  backlog: ProxyMember['backlog'];
  writeStats: WriteStats;
}

/** The group question whose answer is one worker's part of the proxy's membership record. */
export const MEMBER_PART_QUESTION = 'member-part';
/** The group question that asks the record's writer (worker 0) for a heartbeat now; nobody answers anything. */
export const MEMBER_BEAT_QUESTION = 'member-beat';

/** What one worker adds to its proxy's membership record. */
export type WorkerMemberPart = Pick<ProxyMember, 'backlog' | 'failing' | 'slots' | 'released'>;

/** Backlogs per backend summed over the workers (the oldest record the oldest of any). */
export function sumBacklogs(backlogs: ProxyMember['backlog'][]): ProxyMember['backlog'] {
  const backlog: ProxyMember['backlog'] = {};
  for (const one of backlogs) {
    for (const [name, b] of Object.entries(one)) {
      const sum = (backlog[name] ??= { records: 0, bytes: 0, oldestAt: null });
      sum.records += b.records;
      sum.bytes += b.bytes;
      if (b.oldestAt !== null && (sum.oldestAt === null || b.oldestAt < sum.oldestAt)) sum.oldestAt = b.oldestAt;
    }
  }
  return backlog;
}

/**
 * The proxy's one membership record from its workers' parts: backlogs summed, failing writes of any
 * worker (since the earliest), the slots any worker holds (all read the same sentinel publication).
 * The sentinel grants a replay slot to the proxy, and all its workers replay under it; a slot counts as
 * given back only once every worker that still had a backlog for that backend has given it back, so the
 * leader never hands the backend to another proxy while one of this proxy's workers still replays.
 */
export function mergeMemberParts(parts: WorkerMemberPart[]): WorkerMemberPart {
  const failing: NonNullable<ProxyMember['failing']> = {};
  const slots: Record<string, string> = {};
  const released: Record<string, string> = {};
  for (const part of parts) {
    for (const [name, f] of Object.entries(part.failing ?? {})) if (!failing[name] || f.since < failing[name].since) failing[name] = f;
    Object.assign(slots, part.slots ?? {});
  }
  const candidates = new Map<string, string>();
  for (const part of parts) for (const [name, id] of Object.entries(part.released ?? {})) candidates.set(name, id);
  for (const [name, id] of candidates) {
    if (parts.every((p) => p.released?.[name] === id || (p.backlog[name]?.records ?? 0) === 0)) released[name] = id;
  }
  return { backlog: sumBacklogs(parts.map((p) => p.backlog)), failing, slots, released };
}

/** /meta's group fields: backlogs and write counts summed over the workers, and each worker's own. */
export function groupMetaFields(parts: { slot: number; pid: number; value: WorkerMetaPart }[]) {
  const backlog = sumBacklogs(parts.map((p) => p.value.backlog));
  let writeStats: WriteStats | undefined;
  for (const { value } of parts) {
    if (!writeStats) writeStats = { ...value.writeStats };
    else for (const k of Object.keys(writeStats) as (keyof WriteStats)[]) writeStats[k] += value.writeStats[k];
  }
  return {
    backlog,
    writeStats,
    workers: parts.map(({ slot, pid, value }) => ({
      slot,
      pid,
      startedAt: value.startedAt,
      backlog: value.backlog,
      writeStats: value.writeStats,
    })),
  };
}
