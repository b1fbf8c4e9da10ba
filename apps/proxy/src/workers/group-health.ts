import type { BackendHealthInput } from '../health/health-report';

/** The group question whose answer is one worker's view of its backends (what /health is built from). */
export const HEALTH_QUESTION = 'health';

/**
 * One view of each backend for the whole proxy, from every worker's: a write lands on whichever worker
 * its connection reached, so the proxy is only as good as its worst worker. A backend is healthy while
 * every worker sees it up; its spool is full, failing or refusing when any worker's is; backlogs and
 * caps are summed (each worker has its own spool), the oldest record is the oldest of any.
 */
export function mergeBackendViews(perWorker: BackendHealthInput[][]): BackendHealthInput[] {
  const merged = new Map<string, BackendHealthInput>();
  for (const view of perWorker) {
    for (const b of view) {
      const m = merged.get(b.name);
      if (!m) {
        merged.set(b.name, { ...b, status: { ...b.status, spool: { ...b.status.spool } } });
        continue;
      }
      const s = m.status;
      const o = b.status;
      if (s.healthy && !o.healthy) {
        s.healthy = false;
        s.since = o.since;
        s.lastError = o.lastError;
      } else if (s.healthy === o.healthy) s.since = Math.max(s.since, o.since);
      s.refusing ??= o.refusing;
      if (o.rejected) {
        s.rejected = s.rejected
          ? {
              records: s.rejected.records + o.rejected.records,
              bytes: s.rejected.bytes + o.rejected.bytes,
              maxBytes: s.rejected.maxBytes + o.rejected.maxBytes,
            }
          : { ...o.rejected };
      }
      const sp = s.spool;
      const op = o.spool;
      sp.records += op.records;
      sp.bytes += op.bytes;
      sp.maxBytes += op.maxBytes;
      sp.replayedRecords += op.replayedRecords;
      sp.rejectedOnReplay += op.rejectedOnReplay;
      if (op.oldestAgeMs !== null && (sp.oldestAgeMs === null || op.oldestAgeMs > sp.oldestAgeMs)) sp.oldestAgeMs = op.oldestAgeMs;
      if (op.oldestAt !== null && (sp.oldestAt === null || op.oldestAt < sp.oldestAt)) sp.oldestAt = op.oldestAt;
      sp.replaying ||= op.replaying;
      sp.full ||= op.full;
      sp.diskError ??= op.diskError;
    }
  }
  return [...merged.values()];
}
